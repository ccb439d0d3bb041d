"""A batch of events in one transaction, as the consumer applies a backlog: each event gets its
own deliveries, and a webhook subscription made during a batch counts from the next batch on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support import (
    referral_sent,
    running,
    school_to_health_centre,
    seed_directory,
    settings,
    token,
    unique,
)

from samverkan.contracts import CloudEvent
from samverkan.contracts.referral import ReferralReceived, ReferralSent
from samverkan.devnet.embedded import free_port
from samverkan.notification import service, store
from samverkan.notification.app import assemble
from samverkan.notification.clock import ManualClock
from samverkan.notification.settings import NotificationSettings
from samverkan.runtime.auth import Role

pytestmark = pytest.mark.integration

SENT = "se.samverkan.referral.sent.v1"


def notification(principal: str, database: str, kafka: str) -> tuple[Any, service.Context]:
    """The service of `principal`, on a manual clock, with the context its consumer gives it."""
    options = settings(
        NotificationSettings,
        principal=principal,
        dsn=database,
        kafka=kafka,
        smtp_port=free_port(),  # no relay: deliveries stay pending where the test reads them
        webhook_allow_http=True,
        deadline_poll_interval_s=3600,  # the reminders loop must not act on the moved clock
    )
    svc = assemble(options, ManualClock(datetime.now(UTC)))
    return svc, service.Context(principal, options, svc.clock)


async def test_a_batch_applies_each_event_and_sees_subscriptions_as_they_were(
    database: str, kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    svc, ctx = notification(region, database, kafka_bootstrap)
    admin = token(region, None, Role.ADMIN)

    async def subscribe(name: str) -> str:
        body = {"principal": region, "url": f"http://127.0.0.1:9/{name}", "event_types": [SENT]}
        r = await client.post("/webhooks/subscriptions", headers=admin, json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async with running(svc.node, svc.app) as client:
        await seed_directory(svc.node, school_to_health_centre(school, region))
        first = await subscribe("first")
        a, b, c = (referral_sent(school, region) for _ in range(3))

        async with svc.node.uow() as tx:
            # Each recorded a delivery (a mail, a webhook call): the consumer wakes the workers.
            assert await service.on_event(ctx, tx, a)
            second = await subscribe("second")  # committed while the batch is under way
            assert await service.on_event(ctx, tx, b)
        async with svc.node.uow() as tx:
            assert await service.on_event(ctx, tx, c)

        async with svc.node.pool.acquire() as conn:
            rows = await conn.fetch("SELECT subscription_id, about_event FROM webhook_deliveries")
            mails = await conn.fetch("SELECT about_event, function FROM deliveries")
        async with svc.node.uow() as tx:
            parties = await store.parties(tx, a.data.referral_id)

    delivered = {(str(r["subscription_id"]), r["about_event"]) for r in rows}
    assert delivered == {
        (first, a.id),
        (first, b.id),
        (first, c.id),
        (second, c.id),  # the second subscription from the next batch on
    }
    assert parties is not None and parties.sender.principal == school
    assert sorted((m["about_event"], m["function"]) for m in mails) == sorted(
        (e.id, "uph") for e in (a, b, c)
    )


async def test_parties_and_deadlines_saved_in_a_batch_are_read_back_before_they_are_written(
    database: str, kafka_bootstrap: str
) -> None:
    """A batch holds a referral the school sent and, later in it, the region's receipt: the
    receipt meets the deadline the send started, though both go into the tables at the end."""
    school, region = unique("school"), unique("region")
    svc, ctx = notification(school, database, kafka_bootstrap)
    async with running(svc.node, svc.app):
        await seed_directory(svc.node, school_to_health_centre(school, region))
        sent, other = referral_sent(school, region), referral_sent(school, region)
        assert isinstance(sent.data, ReferralSent) and isinstance(other.data, ReferralSent)
        receipt = CloudEvent.wrap(
            ReferralReceived(
                referral_id=sent.data.referral_id,
                recipient=sent.data.recipient,
                received_at=datetime.now(UTC),
            ),
            principal=region,
            service="referral",
            recipient=school,
        )
        async with svc.node.uow() as tx:
            # The school's own referrals: deadlines to watch, nothing to deliver here.
            assert not await service.on_event(ctx, tx, sent)
            assert not await service.on_event(ctx, tx, other)
            await service.on_event(ctx, tx, receipt)
            # Nothing is in the tables yet, and the batch still knows both parties.
            assert await tx.conn.fetchval("SELECT count(*) FROM referral_deadlines") == 0
            parties = await store.parties(tx, sent.data.referral_id)
            assert parties is not None and parties.recipient.principal == region

        svc.clock.advance(timedelta(days=30))  # both deadlines long passed
        async with svc.node.pool.acquire() as conn:
            deadlines = {
                r["referral_id"]: r["met_at"]
                for r in await conn.fetch("SELECT * FROM referral_deadlines")
            }
            overdue = await store.overdue(conn, svc.clock.now())
            saved = await conn.fetchval("SELECT count(*) FROM referral_parties")

    assert saved == 2
    assert deadlines[sent.data.referral_id] is not None  # met by the receipt in the same batch
    assert deadlines[other.data.referral_id] is None
    assert [r["referral_id"] for r in overdue] == [other.data.referral_id]
