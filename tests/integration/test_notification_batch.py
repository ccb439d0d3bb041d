"""A batch of events in one transaction, as the consumer applies a backlog: each event gets its
own deliveries, and a webhook subscription made during a batch counts from the next batch on."""

from __future__ import annotations

from datetime import UTC, datetime

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

from samverkan.devnet.embedded import free_port
from samverkan.notification import service, store
from samverkan.notification.app import assemble
from samverkan.notification.clock import ManualClock
from samverkan.notification.settings import NotificationSettings
from samverkan.runtime.auth import Role

pytestmark = pytest.mark.integration

SENT = "se.samverkan.referral.sent.v1"


async def test_a_batch_applies_each_event_and_sees_subscriptions_as_they_were(
    database: str, kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    options = settings(
        NotificationSettings,
        principal=region,
        dsn=database,
        kafka=kafka_bootstrap,
        smtp_port=free_port(),  # no relay: deliveries stay pending where the test reads them
        webhook_allow_http=True,
    )
    svc = assemble(options, ManualClock(datetime.now(UTC)))
    ctx = service.Context(region, options, svc.clock)
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
            await service.on_event(ctx, tx, a)
            second = await subscribe("second")  # committed while the batch is under way
            await service.on_event(ctx, tx, b)
        async with svc.node.uow() as tx:
            await service.on_event(ctx, tx, c)

        async with svc.node.pool.acquire() as conn:
            rows = await conn.fetch("SELECT subscription_id, about_event FROM webhook_deliveries")
            mails = await conn.fetch("SELECT about_event, function FROM deliveries")
            parties = await store.parties(conn, a.data.referral_id)

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
