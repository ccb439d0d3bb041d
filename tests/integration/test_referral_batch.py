"""A batch of referral events applied together: the copies received go in with one round trip,
held back until the batch commits or another handler runs, and what follows a referral in the
same batch finds its copy."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from support import (
    eventually,
    referral_sent,
    running,
    school_to_health_centre,
    seed_before_start,
    settings,
    signed,
    unique,
)

from samverkan.contracts import CloudEvent
from samverkan.contracts.envelope import LegalBasis
from samverkan.contracts.referral import ReferralCancellationRequested, ReferralSent
from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings

pytestmark = pytest.mark.integration


def cancellation_requested(sent: CloudEvent) -> CloudEvent:
    assert isinstance(sent.data, ReferralSent)
    data = ReferralCancellationRequested(
        referral_id=sent.data.referral_id,
        sender=sent.data.sender,
        requested_by="skolskoterska-1",
        reason_code="flyttat",
        requested_at=datetime.now(UTC),
    )
    return CloudEvent.wrap(
        data,
        principal=sent.sourceprincipal,
        service="referral",
        recipient=sent.data.recipient.principal,
        legalbasis=LegalBasis.CONSENT,
    )


async def test_a_referral_and_its_cancellation_request_in_one_batch(
    database: str, kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    school, region = unique("school"), unique("region")
    node, app = build(
        settings(ReferralSettings, principal=region, dsn=database, kafka=kafka_bootstrap)
    )
    first, second = referral_sent(school, region), referral_sent(school, region)
    backlog = [first, cancellation_requested(first), second]
    # Everything is on the broker, and the directory known, before the consumer starts: its
    # first poll returns the whole backlog, one batch.
    await seed_before_start(
        node, [school], school_to_health_centre(school, region), backlog=signed(backlog)
    )
    caplog.set_level(logging.DEBUG, logger="samverkan.runtime.consumer")

    async with running(node, app):

        async def copies() -> list[Any] | None:
            rows = await node.pool.fetch("SELECT id, sub_status, xmin::text FROM referrals")
            return rows if len(rows) == 2 else None

        rows = await eventually("both referrals", copies)
        applied = await eventually("the whole backlog", lambda: _applied(node, len(backlog)))

    assert applied == len(backlog)
    # One transaction wrote both copies and the request's change: the backlog was one batch,
    # and the request found a copy the batch had held back until then.
    assert len({r["xmin"] for r in rows}) == 1
    stored = {str(r["id"]): r["sub_status"] for r in rows}
    assert stored == {
        str(first.data.referral_id): "cancellation-requested",  # type: ignore[attr-defined]
        str(second.data.referral_id): None,  # type: ignore[attr-defined]
    }
    assert not [r for r in caplog.records if "could not be applied together" in r.getMessage()]


async def _applied(node: object, at_least: int) -> int | None:
    applied: int = node.consumer.applied_total  # type: ignore[attr-defined]
    return applied if applied >= at_least else None
