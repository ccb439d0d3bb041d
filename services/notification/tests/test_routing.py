"""Mails go only to this principal's own functions, for events addressed to it."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from samverkan.contracts import CloudEvent
from samverkan.contracts.consultation import ConsultationRequested
from samverkan.contracts.notification import OverdueStage, ReferralOverdue
from samverkan.contracts.parties import FunctionRef
from samverkan.contracts.referral import ReferralAccepted
from samverkan.notification.routing import Parties, concerns, mails

pytestmark = pytest.mark.unit

NURSE = FunctionRef(principal="kommun", function="skolskoterska")
UPH = FunctionRef(principal="region", function="uph")
NOW = datetime(2026, 5, 13, 9, tzinfo=UTC)


def _event(data, source: str, to: str | None) -> CloudEvent:  # type: ignore[no-untyped-def]
    return CloudEvent.wrap(data, principal=source, service="referral", recipient=to)


def test_a_third_principal_sees_nothing() -> None:
    accepted = ReferralAccepted(
        referral_id=uuid4(), recipient=UPH, accepted_by="SE2321004562-ps1", accepted_at=NOW
    )
    event = _event(accepted, "region", "kommun")
    assert not concerns(event, "annan-kommun")
    assert mails(event, "annan-kommun", Parties(NURSE, UPH)) == []


def test_status_change_goes_to_the_sending_function() -> None:
    rid = uuid4()
    accepted = ReferralAccepted(
        referral_id=rid, recipient=UPH, accepted_by="SE2321004562-ps1", accepted_at=NOW
    )
    [order] = mails(_event(accepted, "region", "kommun"), "kommun", Parties(NURSE, UPH))
    assert (order.kind, order.to, order.status, order.reference) == (
        "referral-status",
        NURSE,
        "accepted",
        rid,
    )
    assert mails(_event(accepted, "region", "kommun"), "region", Parties(NURSE, UPH)) == []


def test_consultation_goes_to_the_counterpart() -> None:
    asked = ConsultationRequested(
        consultation_id=uuid4(),
        requester=NURSE,
        counterpart=UPH,
        need="psychosocial",
        question="Hur stöttar vi en elev som är orolig?",
        requested_at=NOW,
    )
    [order] = mails(_event(asked, "kommun", "region"), "region", None)
    assert order.kind == "consultation-arrived" and order.to == UPH


def test_overdue_reminds_the_recipient_and_escalates_to_the_sender_each_on_its_own_node() -> None:
    overdue = ReferralOverdue(
        notification_id=uuid4(),
        referral_id=uuid4(),
        stage=OverdueStage.NOT_DECIDED,
        sender=NURSE,
        recipient=UPH,
        working_days=5,
        due_at=NOW,
        detected_at=NOW,
    )
    event = _event(overdue, "region", "kommun")
    assert [(o.kind, o.to) for o in mails(event, "region", None)] == [("referral-reminder", UPH)]
    assert [(o.kind, o.to) for o in mails(event, "kommun", None)] == [
        ("referral-escalation", NURSE)
    ]
