"""Baseline: raw aiokafka produce→consume round trip of a referral-sized record on the same broker."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench import sample
from bench.stats import summary_ms

TIGHT_FETCH_WAIT_MS = 10  # what the broker itself costs


async def round_trips(
    bootstrap: str, *, messages: int, rate: float, fetch_max_wait_ms: int
) -> dict[str, Any]:
    """Send `messages` records at `rate`/s to a fresh topic; time each until a consumer has it."""
    topic = f"bench.rtt.{secrets.token_hex(4)}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    event = sample.referral_sent()
    value, headers = event.value(), sample.signed_headers(event)
    partition = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, fetch_max_wait_ms=fetch_max_wait_ms, enable_auto_commit=False
    )
    await producer.start()
    await consumer.start()
    sent: dict[int, float] = {}
    latencies: list[float] = []
    try:
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        await consumer.position(partition)

        async def consume() -> None:
            while len(latencies) < messages:
                batch = await consumer.getmany(partition, timeout_ms=1000)
                now = time.perf_counter()
                for record in batch.get(partition, []):
                    latencies.append(now - sent[int(record.key)])

        reader = asyncio.create_task(consume())
        started = time.perf_counter()
        for i in range(messages):
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            sent[i] = time.perf_counter()
            await producer.send(topic, value, key=str(i).encode(), headers=headers)
        await asyncio.wait_for(reader, timeout=30)
    finally:
        await consumer.stop()
        await producer.stop()
    return {
        "fetch_max_wait_ms": fetch_max_wait_ms,
        "rate": rate,
        **summary_ms(latencies),
    }


async def baseline(
    bootstrap: str, *, messages: int, rate: float, service_fetch_max_wait_ms: int
) -> dict[str, Any]:
    """The round trip with the fetch wait the services under test use (the baseline: the broker
    may hold a fetch that long before answering, so a fair baseline pays it too) and the
    broker's floor (a tight fetch)."""
    return {
        "record_bytes": sample.record_size(sample.referral_sent()),
        "service_fetch": await round_trips(
            bootstrap, messages=messages, rate=rate, fetch_max_wait_ms=service_fetch_max_wait_ms
        ),
        "tight_fetch": await round_trips(
            bootstrap, messages=messages, rate=rate, fetch_max_wait_ms=TIGHT_FETCH_WAIT_MS
        ),
    }
