"""The referral aggregate: pure Python, no I/O.

Each principal keeps its own copy: the sender an OUTGOING one, the recipient an INCOMING one (both
live in one database when sender and recipient share a principal). A copy is acted on by its own
function and follows the events the other copy emits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from samverkan.contracts.followup import (
    ContactKind,
    ContactMode,
    Participant,
    ReferralCompleted,
    ReferralContactScheduled,
    ReferralFailed,
    ReferralNoShow,
    ReferralOutcome,
    ReferralPutOnHold,
    ReferralResumed,
)
from samverkan.contracts.referral import (
    CancellationCause,
    Child,
    ConsentStatement,
    FunctionRef,
    Need,
    ReferralAccepted,
    ReferralCancellationRequested,
    ReferralCancelled,
    ReferralForwarded,
    ReferralReceived,
    ReferralRejected,
    ReferralSent,
    ReferralSuperseded,
    SupersessionCause,
)
from samverkan.referral.domain.lifecycle import (
    RULES,
    TERMINAL,
    Action,
    IllegalTransition,
    NotAllowed,
    Side,
    Status,
    SubStatus,
    check,
)


class Direction(StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


@dataclass(frozen=True)
class Staff:
    """A person acting in a function of this principal."""

    person: str
    function: FunctionRef


FromRecipient = (
    ReferralReceived
    | ReferralAccepted
    | ReferralRejected
    | ReferralForwarded
    | ReferralContactScheduled
    | ReferralNoShow
    | ReferralPutOnHold
    | ReferralResumed
    | ReferralCompleted
    | ReferralFailed
    | ReferralCancelled
)
FromSender = ReferralCancellationRequested | ReferralSuperseded

_CANCEL_SUB = {
    CancellationCause.CONSENT_WITHDRAWN: SubStatus.CONSENT_WITHDRAWN,
    CancellationCause.CONSENT_EXPIRED: SubStatus.CONSENT_EXPIRED,
}


@dataclass
class Referral:
    id: UUID
    direction: Direction
    sender: FunctionRef
    recipient: FunctionRef
    need: Need
    child: Child | None
    reason: str | None
    consent: ConsentStatement | None
    status: Status
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    sub_status: SubStatus | None = None
    decided_by: str | None = None
    rejection: tuple[str, str] | None = None
    outcome: tuple[str, str | None] | None = None
    cancellation: str | None = None  # a CancellationCause or a failure reason code
    contacts: list[dict[str, Any]] = field(default_factory=list)
    forwarded_from: UUID | None = None
    superseded_by: UUID | None = None
    purged_at: datetime | None = None
    history: list[tuple[datetime, Status, SubStatus | None, str]] = field(default_factory=list)

    # -- the sender's copy -------------------------------------------------------------------

    @classmethod
    def draft(
        cls,
        *,
        by: Staff,
        recipient: FunctionRef,
        need: Need,
        child: Child,
        reason: str,
        now: datetime,
        forwarded_from: UUID | None = None,
    ) -> Referral:
        if recipient == by.function:
            raise NotAllowed("a function cannot refer to itself")
        referral = cls(
            id=uuid4(),
            direction=Direction.OUTGOING,
            sender=by.function,
            recipient=recipient,
            need=need,
            child=child,
            reason=reason,
            consent=None,
            status=Status.DRAFT,
            sub_status=SubStatus.AWAITING_CONSENT,
            created_at=now,
            updated_at=now,
            forwarded_from=forwarded_from,
        )
        referral.history.append((now, Status.DRAFT, referral.sub_status, "draft"))
        return referral

    def send(self, by: Staff, consent: ConsentStatement, *, now: datetime) -> ReferralSent:
        """Send a draft under `consent` (the service has checked that it covers the referral)."""
        self._act(Action.SEND, by, now)
        assert self.child is not None and self.reason is not None
        self.consent = consent
        self.sent_at = now
        return ReferralSent(
            referral_id=self.id,
            sender=self.sender,
            recipient=self.recipient,
            need=self.need,
            child=self.child,
            reason=self.reason,
            consent=consent,
            sent_at=now,
            forwarded_from=self.forwarded_from,
        )

    def withdraw(self, by: Staff, *, now: datetime) -> None:
        """Drop a draft that was never sent; nothing left this node, so no event."""
        self._act(Action.WITHDRAW, by, now)

    def request_cancellation(
        self, by: Staff, *, code: str, text: str | None, now: datetime
    ) -> ReferralCancellationRequested:
        self._act(Action.REQUEST_CANCELLATION, by, now)
        return ReferralCancellationRequested(
            referral_id=self.id,
            sender=self.sender,
            requested_by=by.person,
            reason_code=code,
            reason_text=text,
            requested_at=now,
        )

    def reopen(self, by: Staff, *, reason: str, now: datetime) -> Referral:
        """A closed referral is never edited: a new draft to the same function supersedes it."""
        if self.direction is not Direction.OUTGOING or by.function != self.sender:
            raise NotAllowed("only the sending function reopens a referral")
        if self.status not in TERMINAL:
            raise IllegalTransition(f"a {self.status.value} referral is still open")
        self._refuse_if_purged()
        if self.superseded_by is not None:
            raise IllegalTransition(f"this referral is already superseded by {self.superseded_by}")
        assert self.child is not None
        return Referral.draft(
            by=by,
            recipient=self.recipient,
            need=self.need,
            child=self.child,
            reason=reason,
            now=now,
        )

    def supersede(
        self, new_id: UUID, cause: SupersessionCause, *, now: datetime
    ) -> ReferralSuperseded:
        self.superseded_by = new_id
        self.updated_at = now
        self.history.append((now, self.status, self.sub_status, f"superseded-{cause.value}"))
        return ReferralSuperseded(
            referral_id=self.id,
            sender=self.sender,
            superseded_by=new_id,
            cause=cause,
            superseded_at=now,
        )

    # -- the recipient's copy ----------------------------------------------------------------

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
            status=Status.REQUESTED,
            created_at=sent.sent_at,
            sent_at=sent.sent_at,
            updated_at=now,
            forwarded_from=sent.forwarded_from,
        )
        referral._move(Action.RECEIVE, now)
        return referral, ReferralReceived(
            referral_id=referral.id, recipient=referral.recipient, received_at=now
        )

    def accept(self, by: Staff, *, now: datetime) -> ReferralAccepted:
        self._act(Action.ACCEPT, by, now)
        self.decided_by = by.person
        return ReferralAccepted(
            referral_id=self.id, recipient=self.recipient, accepted_by=by.person, accepted_at=now
        )

    def reject(self, by: Staff, *, code: str, text: str, now: datetime) -> ReferralRejected:
        self._act(Action.REJECT, by, now)
        self.decided_by = by.person
        self.rejection = (code, text)
        return ReferralRejected(
            referral_id=self.id,
            recipient=self.recipient,
            rejected_by=by.person,
            reason_code=code,
            reason_text=text,
            rejected_at=now,
        )

    def forward(
        self, by: Staff, *, to: FunctionRef, text: str, now: datetime
    ) -> tuple[Referral, ReferralForwarded]:
        """End this referral and draft a new one from the forwarding function to `to`."""
        if to in (self.recipient, self.sender):
            raise NotAllowed("forward to a third function, not back or to oneself")
        self._act(Action.FORWARD, by, now)
        assert self.child is not None and self.reason is not None
        new = Referral.draft(
            by=by,
            recipient=to,
            need=self.need,
            child=self.child,
            reason=self.reason,
            now=now,
            forwarded_from=self.id,
        )
        self.superseded_by = new.id
        return new, ReferralForwarded(
            referral_id=self.id,
            recipient=self.recipient,
            forwarded_to=to,
            new_referral_id=new.id,
            forwarded_by=by.person,
            reason_text=text,
            forwarded_at=now,
        )

    def schedule(
        self,
        by: Staff,
        *,
        kind: ContactKind,
        mode: ContactMode,
        starts_at: datetime,
        duration_minutes: int,
        participants: list[Participant],
        location: str | None,
        video_link: str | None,
        contact_id: UUID | None,
        now: datetime,
    ) -> ReferralContactScheduled:
        self._act(Action.SCHEDULE, by, now)
        event = ReferralContactScheduled(
            referral_id=self.id,
            recipient=self.recipient,
            contact_id=contact_id or uuid4(),
            kind=kind,
            mode=mode,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            participants=participants,
            location=location,
            video_link=video_link,
            scheduled_by=by.person,
            scheduled_at=now,
        )
        self._book(event)
        return event

    def no_show(self, by: Staff, *, contact_id: UUID, now: datetime) -> ReferralNoShow:
        if not any(c["contact_id"] == str(contact_id) for c in self.contacts):
            raise IllegalTransition(f"no contact {contact_id} is scheduled for this referral")
        self._act(Action.NO_SHOW, by, now)
        return ReferralNoShow(
            referral_id=self.id,
            recipient=self.recipient,
            contact_id=contact_id,
            recorded_by=by.person,
            recorded_at=now,
        )

    def put_on_hold(
        self, by: Staff, *, code: str, text: str | None, until: date | None, now: datetime
    ) -> ReferralPutOnHold:
        self._act(Action.PUT_ON_HOLD, by, now)
        return ReferralPutOnHold(
            referral_id=self.id,
            recipient=self.recipient,
            reason_code=code,
            reason_text=text,
            until=until,
            put_on_hold_by=by.person,
            put_on_hold_at=now,
        )

    def resume(self, by: Staff, *, now: datetime) -> ReferralResumed:
        self._act(Action.RESUME, by, now)
        return ReferralResumed(
            referral_id=self.id, recipient=self.recipient, resumed_by=by.person, resumed_at=now
        )

    def complete(
        self, by: Staff, *, outcome: ReferralOutcome, text: str | None, now: datetime
    ) -> ReferralCompleted:
        self._act(Action.COMPLETE, by, now)
        self.outcome = (outcome.value, text)
        return ReferralCompleted(
            referral_id=self.id,
            recipient=self.recipient,
            outcome=outcome,
            outcome_text=text,
            completed_by=by.person,
            completed_at=now,
        )

    def fail(self, by: Staff, *, code: str, text: str | None, now: datetime) -> ReferralFailed:
        self._act(Action.FAIL, by, now)
        self.outcome = (code, text)
        return ReferralFailed(
            referral_id=self.id,
            recipient=self.recipient,
            reason_code=code,
            reason_text=text,
            failed_by=by.person,
            failed_at=now,
        )

    def confirm_cancellation(self, by: Staff, *, now: datetime) -> ReferralCancelled:
        self._act(Action.CONFIRM_CANCELLATION, by, now)
        self.cancellation = CancellationCause.REQUESTED_BY_SENDER.value
        return ReferralCancelled(
            referral_id=self.id,
            recipient=self.recipient,
            cause=CancellationCause.REQUESTED_BY_SENDER,
            cancelled_by=by.person,
            cancelled_at=now,
        )

    # -- consent ended: the node acts, on either copy ----------------------------------------

    def end_for_consent(
        self, cause: CancellationCause, *, now: datetime
    ) -> ReferralCancelled | None:
        """Stop processing and purge the personal content; the recipient's copy tells the sender.

        Returns the event to send, if any. Ids, parties and times stay, as the tombstone.
        """
        event = None
        if self.status not in TERMINAL and self.direction is Direction.INCOMING:
            self._move(Action.END_FOR_CONSENT, now, sub_status=_CANCEL_SUB[cause])
            self.cancellation = cause.value
            event = ReferralCancelled(
                referral_id=self.id, recipient=self.recipient, cause=cause, cancelled_at=now
            )
        self.purge(now)
        return event

    def purge(self, now: datetime) -> None:
        if self.purged_at is not None:
            return
        self.child = None
        self.reason = None
        self.rejection = (self.rejection[0], "") if self.rejection else None
        self.outcome = (self.outcome[0], None) if self.outcome else None
        self.contacts = [{"contact_id": c["contact_id"]} for c in self.contacts]
        self.purged_at = now
        self.updated_at = now
        self.history.append((now, self.status, self.sub_status, "purged"))

    # -- following the other copy ------------------------------------------------------------

    def follow(self, event: FromRecipient | FromSender) -> bool:
        """Apply what the other copy did; False if this copy is already at or past it."""
        if isinstance(event, FromSender):
            if self.direction is not Direction.INCOMING or event.sender != self.sender:
                raise NotAllowed("only the recipient's copy follows the sender's events")
            return self._follow_sender(event)
        if self.direction is not Direction.OUTGOING or event.recipient != self.recipient:
            raise NotAllowed("only the sender's copy follows the recipient's events")
        return self._follow_recipient(event)

    def _follow_sender(self, event: FromSender) -> bool:
        match event:
            case ReferralCancellationRequested():
                return self._try(Action.REQUEST_CANCELLATION, event.requested_at)
            case ReferralSuperseded():
                self.superseded_by = event.superseded_by
                self.updated_at = event.superseded_at
                return True

    def _follow_recipient(self, event: FromRecipient) -> bool:
        match event:
            case ReferralReceived():
                return self._try(Action.RECEIVE, event.received_at)
            case ReferralAccepted():
                self.decided_by = event.accepted_by
                return self._try(Action.ACCEPT, event.accepted_at)
            case ReferralRejected():
                self.decided_by = event.rejected_by
                self.rejection = (event.reason_code, event.reason_text)
                return self._try(Action.REJECT, event.rejected_at)
            case ReferralForwarded():
                self.superseded_by = event.new_referral_id
                return self._try(Action.FORWARD, event.forwarded_at)
            case ReferralContactScheduled():
                self._book(event)
                return self._try(Action.SCHEDULE, event.scheduled_at)
            case ReferralNoShow():
                return self._try(Action.NO_SHOW, event.recorded_at)
            case ReferralPutOnHold():
                return self._try(Action.PUT_ON_HOLD, event.put_on_hold_at)
            case ReferralResumed():
                return self._try(Action.RESUME, event.resumed_at)
            case ReferralCompleted():
                self.outcome = (event.outcome.value, event.outcome_text)
                return self._try(Action.COMPLETE, event.completed_at)
            case ReferralFailed():
                self.outcome = (event.reason_code, event.reason_text)
                return self._try(Action.FAIL, event.failed_at)
            case ReferralCancelled():
                if self.status in TERMINAL:
                    return False
                self.cancellation = event.cause.value
                self._move(
                    Action.END_FOR_CONSENT,
                    event.cancelled_at,
                    sub_status=_CANCEL_SUB.get(event.cause),
                )
                return True

    # -- rules -------------------------------------------------------------------------------

    def visible_to(self, function: FunctionRef) -> bool:
        return function == self.own_function

    @property
    def own_function(self) -> FunctionRef:
        return self.sender if self.direction is Direction.OUTGOING else self.recipient

    def _act(self, action: Action, by: Staff, now: datetime) -> None:
        side = RULES[action].side
        if side is Side.SENDER:
            mine = (Direction.OUTGOING, self.sender)
        else:
            mine = (Direction.INCOMING, self.recipient)
        if (self.direction, by.function) != mine:
            raise NotAllowed(f"only the {side.value} function may '{action.value}' a referral")
        self._refuse_if_purged()
        self._move(action, now)

    def _refuse_if_purged(self) -> None:
        if self.purged_at is not None:
            raise IllegalTransition(
                "the consent this referral depended on has ended; its content is purged"
            )

    def _try(self, action: Action, at: datetime) -> bool:
        try:
            self._move(action, at, follow=True)
        except IllegalTransition:
            return False
        return True

    def _move(
        self,
        action: Action,
        at: datetime,
        *,
        sub_status: SubStatus | None = None,
        follow: bool = False,
    ) -> None:
        rule = check(action, self.status, None if follow else self.sub_status)
        if rule.target is not None and rule.target != self.status:
            self.status = rule.target
            self.sub_status = None
        self.sub_status = sub_status or rule.sub_status or self.sub_status
        self.updated_at = at
        self.history.append((at, self.status, self.sub_status, action.value))

    def _book(self, event: ReferralContactScheduled) -> None:
        contact = {
            "contact_id": str(event.contact_id),
            "kind": event.kind.value,
            "mode": event.mode.value,
            "starts_at": event.starts_at.isoformat(),
            "duration_minutes": event.duration_minutes,
            "location": event.location,
            "video_link": event.video_link,
        }
        self.contacts = [c for c in self.contacts if c["contact_id"] != contact["contact_id"]]
        self.contacts.append(contact)
