"""Whether a batch leaves more on the broker decides whether its offset commit is awaited (not
while catching up): a batch short of the most a batch takes can still have more behind it."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from support import new_topic, unique

from samverkan.runtime.consumer import past_batch

pytestmark = pytest.mark.integration


async def test_a_batch_has_more_waiting_unless_it_reaches_the_end(
    kafka_bootstrap: str,
) -> None:
    topic = await new_topic(kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for _ in range(20):
            await producer.send_and_wait(topic, b"x")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=unique("group"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        records: list[ConsumerRecord] = []
        async with asyncio.timeout(30):
            while len(records) < 20:
                fetched = await consumer.getmany(timeout_ms=1000)
                records += [record for batch in fetched.values() for record in batch]
        # A batch short of the most a batch takes, with records past it, as a fetch can end one
        # while catching up; and the rest, which reaches the end.
        assert past_batch(consumer, tuple(records[:5]))
        assert not past_batch(consumer, tuple(records[5:]))
    finally:
        await consumer.stop()
