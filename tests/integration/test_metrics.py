"""The metrics operators alert on, recorded by services running on the real Kafka and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from integration.test_referral_api import give_consent, send
from integration.test_referral_harness import UPH, Harness, harness
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from support import (
    eventually,
    referral_sent,
    running,
    school_to_health_centre,
    seed_directory,
    seed_keys,
    settings,
    signed_headers,
    unique,
)

from samverkan.contracts import topics
from samverkan.devnet.embedded import EmbeddedPostgres
from samverkan.notification.app import assemble
from samverkan.notification.settings import NotificationSettings
from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings

pytestmark = pytest.mark.integration


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """The data points of metric `name` in a fresh collection."""
    data = reader.get_metrics_data()
    return [
        point
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def of_consumer(reader: InMemoryMetricReader, name: str, group: str) -> list[Any]:
    return [p for p in points(reader, name) if p.attributes["consumer"] == group]


def lag_of(reader: InMemoryMetricReader, group: str) -> dict[tuple[str, int], int]:
    return {
        (p.attributes["topic"], p.attributes["partition"]): p.value
        for p in of_consumer(reader, "samverkan.consumer.lag", group)
    }


async def test_consumer_lag_counts_what_waits_and_falls_when_it_is_applied(
    metric_reader: InMemoryMetricReader, database: str, kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    node, app = build(
        settings(
            ReferralSettings,
            principal=region,
            dsn=database,
            kafka=kafka_bootstrap,
            consumer_lag_interval_s=0.1,
        )
    )
    async with running(node, app):
        await seed_keys(node, school)  # its signature verifies, but its recipient is unknown yet
        event = referral_sent(school, region)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                topics.REFERRAL, event.value(), key=event.key(), headers=signed_headers(event)
            )
        finally:
            await producer.stop()
        waiting = (topics.REFERRAL, sent.partition)

        async def lag_is(value: int) -> bool:
            return lag_of(metric_reader, node.group).get(waiting) == value

        await eventually(
            "a lag of one while the referral waits for the directory", lambda: lag_is(1)
        )
        await seed_directory(node, school_to_health_centre(school, region))
        await eventually("no lag once it is applied", lambda: lag_is(0))
        assert node.consumer.applied_total >= 1


def stages(reader: InMemoryMetricReader, group: str) -> dict[str, tuple[int, float]]:
    return {
        p.attributes["stage"]: (p.count, p.sum)
        for p in of_consumer(reader, "samverkan.consumer.stage_duration", group)
    }


async def test_each_stage_of_a_batch_is_timed(
    metric_reader: InMemoryMetricReader, database: str, kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    node, app = build(
        settings(ReferralSettings, principal=region, dsn=database, kafka=kafka_bootstrap)
    )
    async with running(node, app):
        await seed_directory(node, school_to_health_centre(school, region))
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            event = referral_sent(school, region)
            await producer.send_and_wait(
                topics.REFERRAL, event.value(), key=event.key(), headers=signed_headers(event)
            )
            # A batch's stages are recorded once its offsets are handed to the committer.
            together = await eventually(
                "the applied batch's stages", lambda: _timed(metric_reader, node.group, "commit")
            )
            assert node.consumer.applied_total == 1
            assert {"parse", "verify", "apply", "commit", "offsets"} <= together.keys()
            assert all(count >= 1 and seconds > 0 for count, seconds in together.values())

            # Not an event: its batch is decided one record at a time (and dead-lettered).
            await producer.send_and_wait(topics.REFERRAL, b"not an event", key=event.key())
            alone = await eventually(
                "the one-by-one batch's stages",
                lambda: _timed(metric_reader, node.group, "one_by_one"),
                within=30,
            )
        finally:
            await producer.stop()
        assert node.consumer.dead_lettered_total == 1
        assert alone["one_by_one"][1] > 0 and alone["parse"][0] > together["parse"][0]


async def _timed(
    reader: InMemoryMetricReader, group: str, stage: str
) -> dict[str, tuple[int, float]] | None:
    found = stages(reader, group)
    return found if found.get(stage, (0, 0.0))[0] >= 1 else None


@pytest.fixture
async def net(postgres: EmbeddedPostgres | None, kafka_bootstrap: str) -> AsyncIterator[Harness]:
    async with harness(postgres, kafka_bootstrap, unique("school"), unique("region")) as h:
        yield h


def lead_times(reader: InMemoryMetricReader, to: str) -> tuple[int, float]:
    found = [p for p in points(reader, "samverkan.referral.lead_time") if p.attributes["to"] == to]
    return (found[0].count, found[0].sum) if found else (0, 0.0)


async def test_lead_time_from_sending_to_acceptance(
    metric_reader: InMemoryMetricReader, net: Harness
) -> None:
    rid = (await send(net, consent_id=await give_consent(net))).json()["id"]
    await net.deliver()
    count, total = lead_times(metric_reader, "accepted")
    net.clock.advance(timedelta(hours=2))

    r = await net.region.client.post(f"/referrals/{rid}/accept", headers=net.region.as_(UPH))
    assert r.is_success, r.text

    new_count, new_total = lead_times(metric_reader, "accepted")
    assert new_count == count + 1
    # Two hours on the nodes' clock, plus however long the test itself took to get there.
    assert 7200 <= new_total - total < 7200 + 300
    again = await net.region.client.post(f"/referrals/{rid}/accept", headers=net.region.as_(UPH))
    assert not again.is_success
    assert lead_times(metric_reader, "accepted")[0] == new_count


def failures(reader: InMemoryMetricReader) -> dict[str, int]:
    return {
        p.attributes["outcome"]: p.value
        for p in points(reader, "samverkan.notification.delivery_failures")
        if p.attributes["channel"] == "email"
    }


async def test_delivery_failures_are_counted_by_outcome(
    metric_reader: InMemoryMetricReader, database: str, kafka_bootstrap: str
) -> None:
    svc = assemble(
        settings(
            NotificationSettings,
            principal=unique("region"),
            dsn=database,
            kafka=kafka_bootstrap,
            smtp_host="127.0.0.1",
            smtp_port=9,  # the discard port: nothing answers
            delivery_max_attempts=2,
            delivery_backoff_s=0.1,
        )
    )
    before = failures(metric_reader)
    async with running(svc.node, svc.app):
        await svc.node.pool.execute(
            """INSERT INTO deliveries (id, about_event, about_type, principal, function,
                   mailbox, subject, body, status, attempts, next_attempt_at)
               VALUES ($1, $2, 't', 'region', 'uph', 'uph@x.example', 's', 'b', 'pending', 0,
                       now() - interval '1 minute')""",
            uuid4(),
            uuid4(),
        )

        async def failed() -> bool:
            status = await svc.node.pool.fetchval("SELECT status FROM deliveries")
            return status == "failed"

        svc.mail.wakeup.set()
        await eventually("the delivery to fail for good", failed)

    after = failures(metric_reader)
    assert after.get("retrying", 0) - before.get("retrying", 0) == 1
    assert after.get("failed", 0) - before.get("failed", 0) == 1
