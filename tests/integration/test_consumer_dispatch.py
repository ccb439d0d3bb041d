"""How a node's subscriber hands batches to its consumer: on the event loop, with nothing between
them that costs a thread per batch. Live traffic comes one record to a batch, so whatever a batch
costs, every event pays."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from support import ThreadHops, eventually, new_topic, settings, unique

from samverkan.runtime.migrations import DIRECTORY_VIEW
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def test_batches_reach_the_consumer_without_a_worker_thread(
    database: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastStream's dependency injection runs a synchronous step on a worker thread, and its
    `KafkaMessage` annotation is one: a hop to a thread and back for every batch."""
    topic = await new_topic(kafka_bootstrap)
    node = Node(
        settings(ServiceSettings, principal=unique("region"), dsn=database, kafka=kafka_bootstrap),
        service="worker",
        migrations=[DIRECTORY_VIEW],
        subscribe_to=(topic,),
    )
    async with node.running():
        await asyncio.wait_for(node.broker_connected.wait(), 60)
        hops = ThreadHops(monkeypatch)  # from the first batch on
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for _ in range(3):  # not events: each is dead-lettered, and each is its own batch
                await producer.send_and_wait(topic, uuid.uuid4().bytes)

                async def handled(count: int = node.consumer.dead_lettered_total + 1) -> bool:
                    return node.consumer.dead_lettered_total >= count

                await eventually("the record to be dead-lettered", handled)
        finally:
            await producer.stop()
    assert node.consumer.dead_lettered_total == 3
    assert hops.count == 0
