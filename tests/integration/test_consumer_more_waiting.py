"""Whether a batch leaves more on the broker decides whether its offset commit is awaited (not
while catching up): a batch short of the most a batch takes can still have more behind it."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from support import new_topic, unique

from samverkan.runtime.consumer import past_batch

pytestmark = pytest.mark.integration


async def test_only_the_batch_that_reaches_the_end_has_nothing_past_it(
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
        verdicts: list[bool] = []
        read = 0
        while read < 20:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=7)  # 7, 7 and the last 6
            records = tuple(record for batch in fetched.values() for record in batch)
            if records:
                read += len(records)
                verdicts.append(past_batch(consumer, records))
    finally:
        await consumer.stop()

    assert read == 20 and len(verdicts) > 1
    assert all(verdicts[:-1])  # each batch before the last left more on the broker
    assert verdicts[-1] is False  # the last one reached the end
