"""Report of concern (orosanmälan): school staff to social services under the duty to report.

No consent is asked for; the legal basis travels with the events. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from samverkan.contracts.concern import (
    ConcernDecision,
    ConcernFeedbackGiven,
    ConcernReportReceived,
    ConcernReportSubmitted,
)
from samverkan.contracts.parties import Child, FunctionRef
from samverkan.referral.domain.lifecycle import IllegalTransition, NotAllowed
from samverkan.referral.domain.referral import Staff


class Side(StrEnum):
    REPORTER = "reporter"
    RECIPIENT = "recipient"


class ConcernState(StrEnum):
    SUBMITTED = "submitted"
    RECEIVED = "received"
    FEEDBACK_GIVEN = "feedback-given"


@dataclass
class ConcernReport:
    id: UUID
    side: Side
    reporter: FunctionRef
    recipient: FunctionRef
    child: Child
    concern: str
    urgent: bool
    guardians_informed: bool
    reported_by: str
    submitted_at: datetime
    state: ConcernState
    received_at: datetime | None = None
    decision: ConcernDecision | None = None
    feedback_by: str | None = None
    feedback_at: datetime | None = None

    @classmethod
    def submit(
        cls,
        *,
        by: Staff,
        recipient: FunctionRef,
        child: Child,
        concern: str,
        urgent: bool,
        guardians_informed: bool,
        now: datetime,
    ) -> tuple[ConcernReport, ConcernReportSubmitted]:
        if recipient == by.function:
            raise NotAllowed("a function cannot report concern to itself")
        report = cls(
            id=uuid4(),
            side=Side.REPORTER,
            reporter=by.function,
            recipient=recipient,
            child=child,
            concern=concern,
            urgent=urgent,
            guardians_informed=guardians_informed,
            reported_by=by.person,
            submitted_at=now,
            state=ConcernState.SUBMITTED,
        )
        return report, ConcernReportSubmitted(
            report_id=report.id,
            reporter=report.reporter,
            recipient=recipient,
            child=child,
            concern=concern,
            urgent=urgent,
            guardians_informed=guardians_informed,
            reported_by=by.person,
            submitted_at=now,
        )

    @classmethod
    def receive(
        cls, event: ConcernReportSubmitted, *, now: datetime
    ) -> tuple[ConcernReport, ConcernReportReceived]:
        report = cls(
            id=event.report_id,
            side=Side.RECIPIENT,
            reporter=event.reporter,
            recipient=event.recipient,
            child=event.child,
            concern=event.concern,
            urgent=event.urgent,
            guardians_informed=event.guardians_informed,
            reported_by=event.reported_by,
            submitted_at=event.submitted_at,
            state=ConcernState.RECEIVED,
            received_at=now,
        )
        return report, ConcernReportReceived(
            report_id=report.id, recipient=report.recipient, received_at=now
        )

    def give_feedback(
        self, by: Staff, *, decision: ConcernDecision, now: datetime
    ) -> ConcernFeedbackGiven:
        if self.side is not Side.RECIPIENT or by.function != self.recipient:
            raise NotAllowed("only the receiving social-services function gives feedback")
        if self.state is not ConcernState.RECEIVED:
            raise IllegalTransition(f"feedback cannot be given on a {self.state.value} report")
        self.state, self.decision = ConcernState.FEEDBACK_GIVEN, decision
        self.feedback_by, self.feedback_at = by.person, now
        return ConcernFeedbackGiven(
            report_id=self.id,
            recipient=self.recipient,
            reporter=self.reporter,
            decision=decision,
            given_by=by.person,
            given_at=now,
        )

    def follow(self, event: ConcernReportReceived | ConcernFeedbackGiven) -> bool:
        """The reporter's copy learns of the receipt and the feedback."""
        if self.side is not Side.REPORTER or event.recipient != self.recipient:
            raise NotAllowed("only the reporter's copy follows the recipient's events")
        if isinstance(event, ConcernReportReceived):
            if self.state is not ConcernState.SUBMITTED:
                return False
            self.state, self.received_at = ConcernState.RECEIVED, event.received_at
            return True
        if self.state is ConcernState.FEEDBACK_GIVEN:
            return False
        self.state, self.decision = ConcernState.FEEDBACK_GIVEN, event.decision
        self.feedback_by, self.feedback_at = event.given_by, event.given_at
        return True

    def visible_to(self, function: FunctionRef) -> bool:
        return function == (self.reporter if self.side is Side.REPORTER else self.recipient)
