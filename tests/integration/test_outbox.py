"""An accepted referral is kept in the outbox while Kafka is down and published when it is back."""

from __future__ import annotations

import pytest
from support import (
    eventually,
    read_topic,
    running,
    school_to_health_centre,
    seed_directory,
    settings,
    signing_key,
    token,
    unique,
)

from samverkan.contracts import CloudEvent, topics
from samverkan.contracts.referral import ReferralSent
from samverkan.devnet.embedded import EmbeddedKafka
from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings
from samverkan.runtime.auth import Role
from samverkan.runtime.signing import Signer, verify

pytestmark = pytest.mark.integration

REFERRAL = {
    "need": "medical-psychological",
    "child": {"personnummer": "20120315-1236", "name": "Alva Exempel"},
    "reason": "Oro för nedstämdhet",
    "consent": {"decided_by": "child", "purpose": "stöd", "given_at": "2026-11-20T10:00:00Z"},
}


async def test_referral_survives_kafka_outage(database: str) -> None:
    school, region = unique("school"), unique("region")
    kafka = EmbeddedKafka()  # chosen port, not started: the broker is "down"
    node, app = build(
        settings(ReferralSettings, principal=school, dsn=database, kafka=kafka.bootstrap_servers)
    )
    try:
        async with running(node, app) as client:
            await seed_directory(node, school_to_health_centre(school, region))

            response = await client.post(
                "/referrals", json=REFERRAL, headers=token(school, "skolskoterska", Role.STAFF)
            )
            assert response.status_code == 201, response.text
            referral_id = response.json()["id"]
            assert response.json()["recipient"] == {"principal": region, "function": "uph"}

            async def outbox() -> list[dict]:
                return [dict(r) for r in await node.pool.fetch("SELECT * FROM outbox")]

            rows = await outbox()
            assert len(rows) == 1 and rows[0]["published_at"] is None
            assert not node.broker_connected.is_set()

            kafka.start()

            async def published() -> dict | None:
                row = (await outbox())[0]
                return row if row["published_at"] is not None else None

            row = await eventually("the outbox row to be published", published)

        records = await read_topic(
            kafka.bootstrap_servers,
            topics.REFERRAL,
            until=lambda rs: any(
                dict(r.headers).get("ce_id") == str(row["event_id"]).encode() for r in rs
            ),
        )
        mine = [r for r in records if dict(r.headers)["ce_id"] == str(row["event_id"]).encode()]
        assert len(mine) == 1
        event = CloudEvent.from_kafka(mine[0].value, mine[0].headers)
        assert isinstance(event.data, ReferralSent)
        assert str(event.data.referral_id) == referral_id
        assert mine[0].key == referral_id.encode()
        assert event.recipientprincipal == region
        school_key = Signer(signing_key(school), "key-1").public_key_b64()
        assert verify(school_key, list(mine[0].headers), mine[0].value), "published unsigned"
    finally:
        kafka.cleanup()
