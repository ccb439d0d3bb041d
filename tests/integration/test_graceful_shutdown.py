"""Stopping a service mid-stream (what SIGTERM does through the HTTP lifespan) loses nothing:
no offset is committed past an event whose effect is not committed, the outbox keeps what it has
not published, and after a restart every event is applied exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from support import (
    committed_offsets,
    eventually,
    referral_sent,
    seed_keys,
    settings,
    signed_headers,
    unique,
)

from samverkan.contracts import CloudEvent, topics
from samverkan.contracts.referral import ReferralReceived, ReferralSent
from samverkan.runtime import node as node_module
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.migrations import DIRECTORY_VIEW
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

pytestmark = pytest.mark.integration

BURST = 40


def worker(principal: str, dsn: str, kafka: str) -> Node:
    """A service that takes a while per event and announces each one it applies."""
    node = Node(
        # Small batches, so a stop falls between two of them; after the first commit, the next
        # would wait for the interval, but the stop sends what is done at once.
        settings(
            ServiceSettings,
            principal=principal,
            dsn=dsn,
            kafka=kafka,
            consumer_batch_size=4,
            consumer_commit_interval_s=30.0,
        ),
        service="worker",
        migrations=[DIRECTORY_VIEW],
        subscribe_to=(topics.REFERRAL,),
    )

    async def apply(tx: UnitOfWork, event: CloudEvent) -> None:
        sent = event.data
        assert isinstance(sent, ReferralSent)
        await asyncio.sleep(0.02)  # in flight long enough to be caught by the stop
        await tx.conn.execute("INSERT INTO applied (event_id) VALUES ($1)", event.id)
        receipt = ReferralReceived(
            referral_id=sent.referral_id, recipient=sent.recipient, received_at=sent.sent_at
        )
        await tx.publish(node.event(receipt, recipient=event.sourceprincipal))

    node.on(ReferralSent, apply, addressed_to_me=True)
    return node


async def test_a_stop_mid_stream_loses_nothing_and_repeats_nothing(
    new_database: Callable[[], str], kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    dsn = new_database()
    first = worker(region, dsn, kafka_bootstrap)
    async with first.running():
        await seed_keys(first, school)
        await first.pool.execute("CREATE TABLE applied (event_id uuid NOT NULL)")
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            events = [referral_sent(school, region) for _ in range(BURST)]
            positions = {}
            for event in events:
                record = await producer.send_and_wait(
                    topics.REFERRAL, event.value(), key=event.key(), headers=signed_headers(event)
                )
                positions[event.id] = (
                    TopicPartition(record.topic, record.partition),
                    record.offset,
                )
        finally:
            await producer.stop()

        async def some_applied() -> bool:
            return await first.pool.fetchval("SELECT count(*) FROM applied") >= BURST // 4

        await eventually("a quarter of the burst applied", some_applied)
    # Stopped mid-stream; the node's pool is closed with it.
    conn = await asyncpg.connect(dsn)
    try:
        applied = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM applied")}
    finally:
        await conn.close()
    assert 0 < len(applied) < BURST, "the stop came mid-stream"
    partitions = {partition for partition, _ in positions.values()}
    committed = await committed_offsets(kafka_bootstrap, first.group, partitions)
    assert sum(committed.values()) > 0, "some progress was committed before the stop"
    for event_id, (partition, offset) in positions.items():
        if offset < committed[partition]:
            assert event_id in applied, f"offset {offset} of {partition} committed unapplied"
        elif event_id in applied:  # the stop sends what is done, whatever the commit interval
            raise AssertionError(f"offset {offset} of {partition} applied, not committed")

    second = worker(region, dsn, kafka_bootstrap)
    async with second.running():

        async def all_applied() -> bool:
            return await second.pool.fetchval("SELECT count(*) FROM applied") >= BURST

        async def all_published() -> bool:
            return (
                await second.pool.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
                )
                >= BURST
            )

        await eventually("every event applied after the restart", all_applied)
        await eventually("every receipt published", all_published)
        rows = await second.pool.fetch("SELECT event_id, count(*) AS n FROM applied GROUP BY 1")
        outbox = await second.pool.fetchval("SELECT count(*) FROM outbox")
    assert {r["event_id"] for r in rows} == {e.id for e in events}
    assert all(r["n"] == 1 for r in rows)
    assert outbox == BURST


async def test_a_connection_never_given_back_does_not_hold_up_the_stop(
    database: str,
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(node_module, "_POOL_CLOSE_S", 0.5)
    node = worker(unique("region"), database, kafka_bootstrap)
    running = node.running()
    await running.__aenter__()
    try:
        held = await node.pool.acquire()  # as a task would that never gives it back
        assert await held.fetchval("SELECT 1") == 1
    finally:
        # Without the bound, the stop would wait for `held` for ever; the outer bound only turns
        # such a hang into a failure here.
        await asyncio.wait_for(running.__aexit__(None, None, None), 60)
    with pytest.raises(asyncpg.InterfaceError):  # closed under the task that held it
        await held.fetchval("SELECT 1")
    assert "database connections still in use" in caplog.text
