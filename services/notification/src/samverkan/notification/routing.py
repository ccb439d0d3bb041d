"""Which function's mailbox an event concerns, and why (pure rules, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from samverkan.contracts import CloudEvent
from samverkan.contracts.concern import ConcernFeedbackGiven, ConcernReportSubmitted
from samverkan.contracts.consultation import ConsultationAnswered, ConsultationRequested
from samverkan.contracts.followup import (
    ReferralCompleted,
    ReferralContactScheduled,
    ReferralNoShow,
)
from samverkan.contracts.notification import ReferralOverdue
from samverkan.contracts.parties import FunctionRef
from samverkan.contracts.referral import (
    ReferralAccepted,
    ReferralCancellationRequested,
    ReferralCancelled,
    ReferralForwarded,
    ReferralReceived,
    ReferralRejected,
    ReferralSent,
    ReferralSuperseded,
)


@dataclass(frozen=True)
class Parties:
    """Both ends of a referral, as this principal recorded them from referral.sent."""

    sender: FunctionRef
    recipient: FunctionRef


@dataclass(frozen=True)
class MailOrder:
    """Tell `to` (a function of this principal) that something of `kind` happened."""

    kind: str
    to: FunctionRef
    reference: UUID
    link_path: str
    status: str | None = None


# Status changes the sending function hears about, with the word the mail uses.
_TO_SENDER = {
    ReferralAccepted: "accepted",
    ReferralRejected: "rejected",
    ReferralForwarded: "forwarded",
    ReferralCancelled: "cancelled",
    ReferralContactScheduled: "contact-scheduled",
    ReferralNoShow: "no-show",
    ReferralCompleted: "completed",
}
# What ends the wait for a receipt, and what ends the wait for a decision.
MEETS_RECEIPT = (ReferralReceived, *_TO_SENDER, ReferralSuperseded)
MEETS_DECISION = (
    ReferralAccepted,
    ReferralRejected,
    ReferralForwarded,
    ReferralCancelled,
    ReferralSuperseded,
)


def concerns(event: CloudEvent, me: str) -> bool:
    """Whether this principal may see the event at all: it sent it, or it is addressed to it."""
    return me in (event.sourceprincipal, event.recipientprincipal)


def mails(event: CloudEvent, me: str, parties: Parties | None) -> list[MailOrder]:
    """The mails this principal sends about `event`: only to its own functions, and only for
    events addressed to it (an overdue referral also when this principal found it)."""
    data = event.data
    if isinstance(data, ReferralOverdue):
        if not concerns(event, me):
            return []
        orders = [
            MailOrder("referral-reminder", data.recipient, data.referral_id, _referral(data)),
            MailOrder("referral-escalation", data.sender, data.referral_id, _referral(data)),
        ]
        return [
            MailOrder(o.kind, o.to, o.reference, o.link_path, data.stage.value)
            for o in orders
            if o.to.principal == me
        ]
    if event.recipientprincipal != me:
        return []
    order = _order(data, parties)
    return [order] if order is not None and order.to.principal == me else []


def _order(data: object, parties: Parties | None) -> MailOrder | None:
    if isinstance(data, ReferralSent):
        return MailOrder("referral-arrived", data.recipient, data.referral_id, _referral(data))
    if isinstance(data, ReferralCancellationRequested) and parties is not None:
        return MailOrder(
            "referral-status",
            parties.recipient,
            data.referral_id,
            _referral(data),
            "cancellation-requested",
        )
    status = _TO_SENDER.get(type(data))  # type: ignore[call-overload]
    if status is not None and parties is not None:
        referral_id: UUID = data.referral_id  # type: ignore[attr-defined]
        return MailOrder(
            "referral-status", parties.sender, referral_id, f"/referrals/{referral_id}", status
        )
    if isinstance(data, ConcernReportSubmitted):
        return MailOrder(
            "concern-arrived", data.recipient, data.report_id, f"/concerns/{data.report_id}"
        )
    if isinstance(data, ConcernFeedbackGiven):
        return MailOrder(
            "concern-feedback", data.reporter, data.report_id, f"/concerns/{data.report_id}"
        )
    if isinstance(data, ConsultationRequested):
        path = f"/consultations/{data.consultation_id}"
        return MailOrder("consultation-arrived", data.counterpart, data.consultation_id, path)
    if isinstance(data, ConsultationAnswered):
        path = f"/consultations/{data.consultation_id}"
        return MailOrder("consultation-answered", data.requester, data.consultation_id, path)
    return None


def _referral(data: ReferralSent | ReferralOverdue | ReferralCancellationRequested) -> str:
    return f"/referrals/{data.referral_id}"
