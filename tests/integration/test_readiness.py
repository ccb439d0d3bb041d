"""/readyz tells the truth: it turns 503 when Kafka goes away after the first connection."""

from __future__ import annotations

import pytest
from support import eventually, running, settings, unique

from samverkan.devnet.embedded import EmbeddedKafka
from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings

pytestmark = pytest.mark.integration


async def test_readiness_follows_the_broker(database: str) -> None:
    with EmbeddedKafka() as kafka:
        node, app = build(
            settings(
                ReferralSettings,
                principal=unique("school"),
                dsn=database,
                kafka=kafka.bootstrap_servers,
            )
        )
        async with running(node, app) as client:

            async def status(code: int) -> dict | None:
                r = await client.get("/readyz")
                return r.json() if r.status_code == code else None

            ready = await eventually("ready", lambda: status(200))
            assert ready["checks"] == {"kafka": True, "database": True, "migrations_pending": []}

            kafka.stop()
            down = await eventually("not ready without Kafka", lambda: status(503))
            assert down["checks"]["kafka"] is False and down["checks"]["database"] is True
            assert down["type"] == "about:blank" and down["title"] == "Not ready"

            kafka.start()
            await eventually("ready again", lambda: status(200))
