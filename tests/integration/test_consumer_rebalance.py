"""A rebalance takes partitions away while a batch of them is being applied: the batch's offsets
for them are not committed afterwards, even where the partition comes back to the same member
(its commit could land behind the commit of the member that read it meanwhile)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from support import (
    assigned_consumer,
    eventually,
    new_topic,
    offsets_only_consumer,
    settings,
    unique,
)

from samverkan.contracts import topics
from samverkan.runtime.consumer import Progress
from samverkan.runtime.migrations import DIRECTORY_VIEW
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def test_offsets_of_partitions_revoked_mid_batch_are_not_committed(
    kafka_bootstrap: str,
) -> None:
    topic, group = await new_topic(kafka_bootstrap, partitions=2), f"g-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for partition in (0, 1):
            await producer.send_and_wait(topic, b"x", partition=partition)
    finally:
        await producer.stop()

    applying = offsets_only_consumer(group)
    first = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    first.subscribe([topic], listener=applying.listener)
    await first.start()
    second: AIOKafkaConsumer | None = None
    try:
        read: list[TopicPartition] = []
        while len(read) < 2:
            batch = await first.getmany(timeout_ms=1000)
            read += [tp for tp, records in batch.items() if records]
        # The batch of both partitions is being applied when a second member joins the group.
        progress = Progress(revocations=applying._revocations)
        progress.done = {tp: 1 for tp in read}
        second = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
        )
        second.subscribe([topic])
        await second.start()
        # Both members poll until the group has split the two partitions between them.
        while not (len(first.assignment()) == len(second.assignment()) == 1):
            await asyncio.wait_for(
                asyncio.gather(first.getmany(timeout_ms=200), second.getmany(timeout_ms=200)), 30
            )
        assert applying._revocations >= 1  # the listener heard that both were taken away
        assert first.assignment() <= set(read)  # and one of them came back

        await applying._settle(first, progress)
        await applying.finish_commits()  # whatever it would commit has gone out

        committed = {tp: await first.committed(tp) for tp in read}
        assert committed == {tp: None for tp in read}
    finally:
        await first.stop()
        if second is not None:
            await second.stop()
        await applying.close()


async def test_a_node_hears_when_a_rebalance_takes_its_partitions(
    database: str, kafka_bootstrap: str
) -> None:
    """The node's subscriber is wired to the listener: a second member joining its group takes
    partitions from it, and its consumer counts the revocation."""
    node = Node(
        settings(ServiceSettings, principal=unique("region"), dsn=database, kafka=kafka_bootstrap),
        service="worker",
        migrations=[DIRECTORY_VIEW],
        subscribe_to=(topics.REFERRAL,),
    )
    async with node.running():
        await asyncio.wait_for(node.broker_connected.wait(), 60)
        await assigned_consumer(node)
        other = AIOKafkaConsumer(
            topics.REFERRAL, bootstrap_servers=kafka_bootstrap, group_id=node.group
        )
        await other.start()
        try:

            async def revoked() -> bool:
                await other.getmany(timeout_ms=200)
                return node.consumer.revocations >= 1

            await eventually("the node to hear of the rebalance", revoked)
        finally:
            await other.stop()
