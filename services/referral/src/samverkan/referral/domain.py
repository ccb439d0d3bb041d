"""The referral aggregate and its rules: pure Python, no I/O.

Each principal keeps its own copy of a referral: the sender an OUTGOING one, the recipient an
INCOMING one. Only the recipient's copy is decided on; the sender's follows the recipient's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from samverkan.contracts.referral import (
    Child,
    ConsentStatement,
    FunctionRef,
    Need,
    ReferralAccepted,
    ReferralReceived,
    ReferralRejected,
    ReferralSent,
)


class Status(StrEnum):
    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Direction(StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


TRANSITIONS: dict[Status, set[Status]] = {
    Status.REQUESTED: {Status.RECEIVED, Status.ACCEPTED, Status.REJECTED},
    Status.RECEIVED: {Status.ACCEPTED, Status.REJECTED},
    Status.ACCEPTED: set(),
    Status.REJECTED: set(),
}


class IllegalTransition(Exception):
    """The referral's status does not allow this move."""


class NotAllowed(Exception):
    """This function may not do this to this referral."""


@dataclass(frozen=True)
class Staff:
    """A person acting in a function of this principal."""

    person: str
    function: FunctionRef


@dataclass
class Referral:
    id: UUID
    direction: Direction
    sender: FunctionRef
    recipient: FunctionRef
    need: Need
    child: Child
    reason: str
    consent: ConsentStatement
    status: Status
    sent_at: datetime
    updated_at: datetime
    decided_by: str | None = None
    rejection: tuple[str, str] | None = None
    history: list[tuple[datetime, Status]] = field(default_factory=list)

    @classmethod
    def send(
        cls,
        *,
        by: Staff,
        recipient: FunctionRef,
        need: Need,
        child: Child,
        reason: str,
        consent: ConsentStatement,
        now: datetime,
    ) -> tuple[Referral, ReferralSent]:
        if recipient.principal == by.function.principal:
            raise NotAllowed(
                "a referral goes to another principal; use internal routines within one"
            )
        referral = cls(
            id=uuid4(),
            direction=Direction.OUTGOING,
            sender=by.function,
            recipient=recipient,
            need=need,
            child=child,
            reason=reason,
            consent=consent,
            status=Status.REQUESTED,
            sent_at=now,
            updated_at=now,
        )
        return referral, ReferralSent(
            referral_id=referral.id,
            sender=referral.sender,
            recipient=recipient,
            need=need,
            child=child,
            reason=reason,
            consent=consent,
            sent_at=now,
        )

    @classmethod
    def receive(cls, sent: ReferralSent, *, now: datetime) -> tuple[Referral, ReferralReceived]:
        """The recipient node stores a referral addressed to one of its functions."""
        referral = cls(
            id=sent.referral_id,
            direction=Direction.INCOMING,
            sender=sent.sender,
            recipient=sent.recipient,
            need=sent.need,
            child=sent.child,
            reason=sent.reason,
            consent=sent.consent,
            status=Status.RECEIVED,
            sent_at=sent.sent_at,
            updated_at=now,
        )
        return referral, ReferralReceived(
            referral_id=referral.id, recipient=referral.recipient, received_at=now
        )

    def accept(self, by: Staff, *, now: datetime) -> ReferralAccepted:
        self._decide(by, Status.ACCEPTED, now)
        return ReferralAccepted(
            referral_id=self.id, recipient=self.recipient, accepted_by=by.person, accepted_at=now
        )

    def reject(self, by: Staff, *, code: str, text: str, now: datetime) -> ReferralRejected:
        self._decide(by, Status.REJECTED, now)
        self.rejection = (code, text)
        return ReferralRejected(
            referral_id=self.id,
            recipient=self.recipient,
            rejected_by=by.person,
            reason_code=code,
            reason_text=text,
            rejected_at=now,
        )

    def follow(self, event: ReferralReceived | ReferralAccepted | ReferralRejected) -> bool:
        """The sender's copy follows the recipient's decision; False if already at or past it."""
        if self.direction is not Direction.OUTGOING:
            raise NotAllowed("only the sender's copy follows the recipient's events")
        if event.recipient != self.recipient:
            raise NotAllowed("the event comes from another function than the recipient")
        match event:
            case ReferralReceived():
                target, at = Status.RECEIVED, event.received_at
            case ReferralAccepted():
                target, at = Status.ACCEPTED, event.accepted_at
                self.decided_by = event.accepted_by
            case ReferralRejected():
                target, at = Status.REJECTED, event.rejected_at
                self.decided_by = event.rejected_by
                self.rejection = (event.reason_code, event.reason_text)
        if target not in TRANSITIONS[self.status]:
            return False
        self._move(target, at)
        return True

    def visible_to(self, function: FunctionRef) -> bool:
        mine = self.sender if self.direction is Direction.OUTGOING else self.recipient
        return function == mine

    def _decide(self, by: Staff, target: Status, now: datetime) -> None:
        if self.direction is not Direction.INCOMING or by.function != self.recipient:
            raise NotAllowed("only the recipient function decides on a referral")
        if target not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"a {self.status.value} referral cannot become {target.value}")
        self.decided_by = by.person
        self._move(target, now)

    def _move(self, target: Status, at: datetime) -> None:
        self.status = target
        self.updated_at = at
        self.history.append((at, target))
