"""What the staff API answers with. Summaries carry no personal content; full views do, and
reading one is access-logged."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from samverkan.contracts.concern import ConcernDecision
from samverkan.contracts.consent import ConsentScope, MaturityAssessment
from samverkan.contracts.consultation import AgeBand
from samverkan.contracts.parties import Child, Decider, FunctionRef, Need
from samverkan.contracts.referral import ConsentStatement
from samverkan.referral.domain.concern import ConcernReport, ConcernState
from samverkan.referral.domain.consent import Consent, ConsentState
from samverkan.referral.domain.consultation import Consultation
from samverkan.referral.domain.lifecycle import Status, SubStatus
from samverkan.referral.domain.referral import Direction, Referral


class ReferralSummary(BaseModel):
    id: UUID
    direction: Direction
    status: Status
    sub_status: SubStatus | None
    sender: FunctionRef
    recipient: FunctionRef
    need: Need
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime
    decided_by: str | None
    consent_id: UUID | None
    forwarded_from: UUID | None
    superseded_by: UUID | None
    purged_at: datetime | None

    @classmethod
    def of(cls, r: Referral) -> ReferralSummary:
        return cls(**_summary(r))


class HistoryEntry(BaseModel):
    at: datetime
    status: Status
    sub_status: SubStatus | None
    action: str


class ReferralView(ReferralSummary):
    """With the personal content (gone after the consent ended: only the tombstone is left)."""

    child: Child | None
    reason: str | None
    consent: ConsentStatement | None
    rejection_code: str | None
    rejection_text: str | None
    outcome: str | None
    outcome_text: str | None
    cancellation: str | None
    contacts: list[dict[str, Any]]
    history: list[HistoryEntry]

    @classmethod
    def of(cls, r: Referral) -> ReferralView:
        return cls(
            **_summary(r),
            child=r.child,
            reason=r.reason,
            consent=r.consent,
            rejection_code=r.rejection[0] if r.rejection else None,
            rejection_text=(r.rejection[1] or None) if r.rejection else None,
            outcome=r.outcome[0] if r.outcome else None,
            outcome_text=r.outcome[1] if r.outcome else None,
            cancellation=r.cancellation,
            contacts=r.contacts,
            history=[
                HistoryEntry(at=a, status=s, sub_status=u, action=w) for a, s, u, w in r.history
            ],
        )


def _summary(r: Referral) -> dict[str, Any]:
    return {
        "id": r.id,
        "direction": r.direction,
        "status": r.status,
        "sub_status": r.sub_status,
        "sender": r.sender,
        "recipient": r.recipient,
        "need": r.need,
        "created_at": r.created_at,
        "sent_at": r.sent_at,
        "updated_at": r.updated_at,
        "decided_by": r.decided_by,
        "consent_id": r.consent.consent_id if r.consent else None,
        "forwarded_from": r.forwarded_from,
        "superseded_by": r.superseded_by,
        "purged_at": r.purged_at,
    }


class ConsentSummary(BaseModel):
    id: UUID
    holder: FunctionRef
    state: ConsentState
    scope: ConsentScope | None
    decided_by: Decider | None
    guardians_consenting: int
    given_at: datetime | None
    ended_at: datetime | None
    valid_until: date | None

    @classmethod
    def of(cls, c: Consent) -> ConsentSummary:
        return cls(**_consent(c))


class ConsentView(ConsentSummary):
    child: Child | None
    maturity: MaturityAssessment | None
    recorded_by: str | None
    ended_by: Decider | None

    @classmethod
    def of(cls, c: Consent) -> ConsentView:
        return cls(
            **_consent(c),
            child=c.child,
            maturity=c.maturity,
            recorded_by=c.recorded_by,
            ended_by=c.ended_by,
        )


def _consent(c: Consent) -> dict[str, Any]:
    return {
        "id": c.id,
        "holder": c.holder,
        "state": c.state,
        "scope": c.scope,
        "decided_by": c.decided_by,
        "guardians_consenting": c.guardians_consenting,
        "given_at": c.given_at,
        "ended_at": c.ended_at,
        "valid_until": c.scope.valid_until if c.scope else None,
    }


class ConcernSummary(BaseModel):
    id: UUID
    side: str
    reporter: FunctionRef
    recipient: FunctionRef
    state: ConcernState
    urgent: bool
    submitted_at: datetime
    received_at: datetime | None
    decision: ConcernDecision | None
    feedback_at: datetime | None
    legal_basis: str = "duty-to-report"

    @classmethod
    def of(cls, r: ConcernReport) -> ConcernSummary:
        return cls(**_concern(r))


class ConcernView(ConcernSummary):
    child: Child
    concern: str
    guardians_informed: bool
    reported_by: str
    feedback_by: str | None

    @classmethod
    def of(cls, r: ConcernReport) -> ConcernView:
        return cls(
            **_concern(r),
            child=r.child,
            concern=r.concern,
            guardians_informed=r.guardians_informed,
            reported_by=r.reported_by,
            feedback_by=r.feedback_by,
        )


def _concern(r: ConcernReport) -> dict[str, Any]:
    return {
        "id": r.id,
        "side": r.side.value,
        "reporter": r.reporter,
        "recipient": r.recipient,
        "state": r.state,
        "urgent": r.urgent,
        "submitted_at": r.submitted_at,
        "received_at": r.received_at,
        "decision": r.decision,
        "feedback_at": r.feedback_at,
    }


class ConsultationView(BaseModel):
    """A consultation holds no personal data, so it is shown whole and not access-logged."""

    id: UUID
    side: str
    requester: FunctionRef
    counterpart: FunctionRef
    need: Need
    age_band: AgeBand | None
    question: str
    requested_at: datetime
    answer: str | None
    referral_suggested: bool | None
    answered_at: datetime | None

    @classmethod
    def of(cls, c: Consultation) -> ConsultationView:
        return cls(
            id=c.id,
            side=c.side.value,
            requester=c.requester,
            counterpart=c.counterpart,
            need=c.need,
            age_band=c.age_band,
            question=c.question,
            requested_at=c.requested_at,
            answer=c.answer,
            referral_suggested=c.referral_suggested,
            answered_at=c.answered_at,
        )
