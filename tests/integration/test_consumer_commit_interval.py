"""Live traffic, one event a batch, commits its offsets at most once a commit interval: the
offsets done meanwhile go together, and the last of them still goes out once the traffic stops."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from support import (
    assigned_consumer,
    committed_offsets,
    eventually,
    referral_sent,
    settings,
    unique,
)

from samverkan.contracts import CloudEvent, topics
from samverkan.contracts.referral import ReferralSent
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.migrations import DIRECTORY_VIEW
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

pytestmark = pytest.mark.integration

EVENTS = 10
INTERVAL_S = 1.0


async def test_offsets_done_within_an_interval_are_committed_together(
    new_database: Callable[[], str], kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    node = Node(
        settings(
            ServiceSettings,
            principal=region,
            dsn=new_database(),
            kafka=kafka_bootstrap,
            node={"verify_signatures": False},
            consumer_batch_size=1,  # each event a batch of its own, as live traffic comes
            consumer_commit_interval_s=INTERVAL_S,
        ),
        service="worker",
        migrations=[DIRECTORY_VIEW],
        subscribe_to=(topics.REFERRAL,),
    )
    applied: list[UUID] = []

    async def apply(tx: UnitOfWork, event: CloudEvent) -> None:
        tx.after_commit(lambda: applied.append(event.id))

    node.on(ReferralSent, apply, addressed_to_me=True)
    commits: list[float] = []
    async with node.running():
        consumer = await assigned_consumer(node)
        commit = consumer.commit

        async def counted(offsets: Any = None) -> None:
            commits.append(time.monotonic())
            await commit(offsets)

        consumer.commit = counted  # type: ignore[method-assign]
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            events = [referral_sent(school, region) for _ in range(EVENTS)]
            ends: dict[TopicPartition, int] = {}
            for event in events:
                record = await producer.send_and_wait(
                    topics.REFERRAL, event.value(), key=event.key(), headers=event.headers()
                )
                ends[TopicPartition(record.topic, record.partition)] = record.offset + 1
        finally:
            await producer.stop()

        async def all_applied() -> bool:
            return len(applied) == EVENTS

        await eventually("every event to be applied", all_applied)

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, node.group, set(ends)) == ends

        await eventually("the last offsets to be committed, with no traffic after", all_committed)
    assert sorted(applied) == sorted(event.id for event in events)
    assert 1 <= len(commits) < EVENTS  # batches' offsets went together
    gaps = [later - earlier for earlier, later in itertools.pairwise(commits)]
    assert all(gap >= 0.9 * INTERVAL_S for gap in gaps), gaps
