"""What the recipient's referral service does with referral events from other nodes."""

from __future__ import annotations

import pytest
from support import (
    dead_letter_about,
    eventually,
    referral_sent,
    running,
    school_to_health_centre,
    seed_directory,
    send_in_order,
    settings,
    unique,
)

from samverkan.contracts import CloudEvent
from samverkan.contracts.envelope import LegalBasis
from samverkan.contracts.referral import ReferralSent
from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings

pytestmark = pytest.mark.integration


async def test_a_second_referral_with_a_known_id_is_refused_and_changes_nothing(
    database: str, kafka_bootstrap: str
) -> None:
    """Another event (a new event id) sending a referral id already received here, with other
    content: refused to the dead-letter topic, and the stored referral stays as first received."""
    school, region = unique("school"), unique("region")
    node, app = build(
        settings(ReferralSettings, principal=region, dsn=database, kafka=kafka_bootstrap)
    )
    first = referral_sent(school, region)
    assert isinstance(first.data, ReferralSent)
    altered = first.data.model_copy(update={"reason": "Ändrad i efterhand"})
    again = CloudEvent.wrap(
        altered, principal=school, service="referral", recipient=region,
        legalbasis=LegalBasis.CONSENT,
    )  # fmt: skip
    assert again.id != first.id

    async with running(node, app):
        await seed_directory(node, school_to_health_centre(school, region))
        await send_in_order(kafka_bootstrap, [first, again])

        letter = await dead_letter_about(kafka_bootstrap, node.group, again)

        async def stored() -> list[str] | None:
            rows = await node.pool.fetch("SELECT reason FROM referrals")
            return [r["reason"] for r in rows] or None

        reasons = await eventually("the first referral", stored)
    assert f"referral {first.data.referral_id} already exists here" in letter["reason"]
    assert reasons == [first.data.reason]
