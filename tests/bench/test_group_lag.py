"""The bench's reading of what consumer groups have yet to commit, over the real broker: the
step-up search waits on it before a step, so a wrong zero would start a step on leftovers."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from support import new_topic, unique

from bench.lag import GroupLag

pytestmark = pytest.mark.integration


async def test_unread_counts_records_past_each_groups_committed_offset(
    kafka_bootstrap: str,
) -> None:
    one, two = await new_topic(kafka_bootstrap), await new_topic(kafka_bootstrap, partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(one, b"x", partition=0)
            await producer.send_and_wait(two, b"x", partition=n % 2)  # 3 on 0, 2 on 1
    finally:
        await producer.stop()
    reading_both, reading_one = unique("both"), unique("one")
    groups = {reading_both: (one, two), reading_one: (one,)}

    async with GroupLag(kafka_bootstrap, groups) as lag:
        assert await lag.unread() == 10 + 5  # nothing committed yet: every record counts

        await _commit(kafka_bootstrap, reading_both, {TopicPartition(one, 0): 5})
        await _commit(kafka_bootstrap, reading_one, {TopicPartition(one, 0): 2})
        assert await lag.unread() == 5 + 3  # `two` still whole for the first, 3 of `one` left

        await _commit(
            kafka_bootstrap, reading_both, {TopicPartition(two, 0): 3, TopicPartition(two, 1): 2}
        )
        await _commit(kafka_bootstrap, reading_one, {TopicPartition(one, 0): 5})
        assert await lag.unread() == 0


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def test_a_group_past_the_end_the_broker_tells_hides_no_other_lag(
    kafka_bootstrap: str,
) -> None:
    """Records produced together form one batch, whose end the embedded broker tells short: a
    group committed to the true end must count 0 there, not less, or it would hide the
    records still unread elsewhere."""
    batched, other = await new_topic(kafka_bootstrap), await new_topic(kafka_bootstrap)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=False, linger_ms=100
    )
    await producer.start()
    try:
        sent = [await producer.send(batched, b"x", partition=0) for _ in range(5)]
        await asyncio.gather(*sent)
        for _ in range(3):
            await producer.send_and_wait(other, b"x", partition=0)
    finally:
        await producer.stop()
    group = unique("group")

    async with GroupLag(kafka_bootstrap, {group: (batched, other)}) as lag:
        await _commit(kafka_bootstrap, group, {TopicPartition(batched, 0): 5})
        assert await lag.unread() == 3  # all of `other`, nothing of `batched`


async def test_given_ends_it_counts_only_up_to_them(kafka_bootstrap: str) -> None:
    """As the catch-up counts a backlog: up to the ends its produce acknowledged, on their
    partitions alone, whatever else the topic holds."""
    topic = await new_topic(kafka_bootstrap, partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for partition in (0, 0, 0, 1):
            await producer.send_and_wait(topic, b"x", partition=partition)
    finally:
        await producer.stop()
    group = unique("group")
    backlog = {TopicPartition(topic, 0): 2}  # the first two records of partition 0

    async with GroupLag(kafka_bootstrap, {group: (topic,)}, backlog) as lag:
        assert await lag.unread() == 2
        await _commit(kafka_bootstrap, group, {TopicPartition(topic, 0): 1})
        assert await lag.unread() == 1
        await _commit(kafka_bootstrap, group, {TopicPartition(topic, 0): 3})
        assert await lag.unread() == 0  # past the backlog's end counts as done, not as more
