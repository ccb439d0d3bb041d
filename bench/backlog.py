"""A backlog of events on the real topics, and how far a consumer group has worked through it."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer, TopicPartition

from bench import sample
from samverkan.contracts import CloudEvent, topics

Offsets = dict[TopicPartition, int]


def events(referrals: int) -> list[CloudEvent]:
    """The directory seed, a fifth as many directory entries as referrals, then the referrals."""
    entries = [sample.function(sample.SCHOOL, f"funktion-{i:06d}") for i in range(referrals // 5)]
    sent = [sample.referral_sent() for _ in range(referrals)]
    return [*sample.directory_seed(), *entries, *sent]


async def produce(bootstrap: str, backlog: list[CloudEvent]) -> Offsets:
    """Produce `backlog`; return each partition's end (last offset + 1) as the broker acknowledged it.

    The ends come from the produce acknowledgements because the embedded broker's ListOffsets
    answers with its last record batch's first offset + 1, not the high watermark.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    ends: Offsets = {}
    try:
        for start in range(0, len(backlog), 2000):
            futures = [
                await producer.send(
                    e.topic, e.value(), key=e.key(), headers=sample.signed_headers(e)
                )
                for e in backlog[start : start + 2000]
            ]
            for meta in await asyncio.gather(*futures):
                partition = TopicPartition(meta.topic, meta.partition)
                ends[partition] = max(ends.get(partition, 0), meta.offset + 1)
    finally:
        await producer.stop()
    return ends


def ends_for(produced: Offsets, names: tuple[str, ...]) -> Offsets:
    """The part of the backlog on `names` (nothing else is produced before the services run)."""
    return {p: end for p, end in produced.items() if p.topic in names}


def subscribed(service: str) -> tuple[str, ...]:
    """The topics each service consumes (as its app.py wires it)."""
    return {
        "directory": (topics.DIRECTORY,),
        "referral": (topics.DIRECTORY, topics.REFERRAL),
        "notification": (topics.DIRECTORY, topics.REFERRAL),
        "audit": topics.ALL,
    }[service]
