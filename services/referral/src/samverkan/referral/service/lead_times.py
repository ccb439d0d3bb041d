"""Referral lead times: seconds from a referral's sending to its decision and to its completion,
recorded by the recipient's node when its staff make the move (and only once it is committed)."""

from __future__ import annotations

from samverkan.referral.domain.lifecycle import Status
from samverkan.referral.domain.referral import Referral
from samverkan.runtime import telemetry
from samverkan.runtime.db import UnitOfWork

MEASURED = frozenset({Status.ACCEPTED, Status.REJECTED, Status.COMPLETED})

_lead_time = telemetry.meter.create_histogram(
    "samverkan.referral.lead_time",
    unit="s",
    description="From a referral's sending to its acceptance, rejection or completion",
)


def measure(tx: UnitOfWork, referral: Referral, before: Status) -> None:
    """Record the lead time to the referral's new status, if the move reached a measured one."""
    if referral.status == before or referral.status not in MEASURED or referral.sent_at is None:
        return
    seconds = (referral.updated_at - referral.sent_at).total_seconds()
    attributes = {"to": referral.status.value}
    tx.after_commit(lambda: _lead_time.record(max(seconds, 0.0), attributes))
