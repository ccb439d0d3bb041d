"""The referral lifecycle as data: statuses (FHIR Task), sub-statuses, and who may do what."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """FHIR Task.status, one to one, so journal systems can map us directly."""

    DRAFT = "draft"
    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SubStatus(StrEnum):
    """FHIR Task.businessStatus: what the status alone does not say."""

    AWAITING_CONSENT = "awaiting-consent"
    SCHEDULED = "scheduled"
    NO_SHOW = "no-show"
    CANCELLATION_REQUESTED = "cancellation-requested"
    SUPERSEDED = "superseded"
    CONSENT_WITHDRAWN = "consent-withdrawn"
    CONSENT_EXPIRED = "consent-expired"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.REJECTED, Status.CANCELLED})
NON_TERMINAL = frozenset(Status) - TERMINAL

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.REQUESTED, Status.CANCELLED}),
    Status.REQUESTED: frozenset({Status.RECEIVED, Status.CANCELLED}),
    Status.RECEIVED: frozenset({Status.ACCEPTED, Status.REJECTED, Status.CANCELLED}),
    Status.ACCEPTED: frozenset({Status.IN_PROGRESS, Status.CANCELLED}),
    Status.IN_PROGRESS: frozenset(
        {Status.ON_HOLD, Status.COMPLETED, Status.FAILED, Status.CANCELLED}
    ),
    Status.ON_HOLD: frozenset({Status.IN_PROGRESS, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
}


class Side(StrEnum):
    """Whose copy an action is taken on, and so which function may take it."""

    SENDER = "sender"
    RECIPIENT = "recipient"
    NODE = "node"  # done by the service itself (technical receipt, consent ended)


class Action(StrEnum):
    SEND = "send"
    WITHDRAW = "withdraw"  # the sender drops a draft
    RECEIVE = "receive"
    ACCEPT = "accept"
    REJECT = "reject"
    FORWARD = "forward"
    SCHEDULE = "schedule"
    NO_SHOW = "no-show"
    PUT_ON_HOLD = "put-on-hold"
    RESUME = "resume"
    COMPLETE = "complete"
    FAIL = "fail"
    REQUEST_CANCELLATION = "request-cancellation"
    CONFIRM_CANCELLATION = "confirm-cancellation"
    END_FOR_CONSENT = "end-for-consent"


@dataclass(frozen=True)
class Rule:
    side: Side
    allowed_from: frozenset[Status]
    target: Status | None  # None: the status stays, only the sub-status changes
    sub_status: SubStatus | None = None
    needs_sub_status: SubStatus | None = None


_OPEN_AFTER_SENDING = NON_TERMINAL - {Status.DRAFT}

RULES: dict[Action, Rule] = {
    Action.SEND: Rule(Side.SENDER, frozenset({Status.DRAFT}), Status.REQUESTED),
    Action.WITHDRAW: Rule(Side.SENDER, frozenset({Status.DRAFT}), Status.CANCELLED),
    Action.RECEIVE: Rule(Side.NODE, frozenset({Status.REQUESTED}), Status.RECEIVED),
    Action.ACCEPT: Rule(Side.RECIPIENT, frozenset({Status.RECEIVED}), Status.ACCEPTED),
    Action.REJECT: Rule(Side.RECIPIENT, frozenset({Status.RECEIVED}), Status.REJECTED),
    Action.FORWARD: Rule(
        Side.RECIPIENT,
        frozenset({Status.RECEIVED, Status.ACCEPTED}),
        Status.CANCELLED,
        SubStatus.SUPERSEDED,
    ),
    Action.SCHEDULE: Rule(
        Side.RECIPIENT,
        frozenset({Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD}),
        Status.IN_PROGRESS,
        SubStatus.SCHEDULED,
    ),
    Action.NO_SHOW: Rule(Side.RECIPIENT, frozenset({Status.IN_PROGRESS}), None, SubStatus.NO_SHOW),
    Action.PUT_ON_HOLD: Rule(Side.RECIPIENT, frozenset({Status.IN_PROGRESS}), Status.ON_HOLD),
    Action.RESUME: Rule(Side.RECIPIENT, frozenset({Status.ON_HOLD}), Status.IN_PROGRESS),
    Action.COMPLETE: Rule(Side.RECIPIENT, frozenset({Status.IN_PROGRESS}), Status.COMPLETED),
    Action.FAIL: Rule(Side.RECIPIENT, frozenset({Status.IN_PROGRESS}), Status.FAILED),
    Action.REQUEST_CANCELLATION: Rule(
        Side.SENDER, _OPEN_AFTER_SENDING, None, SubStatus.CANCELLATION_REQUESTED
    ),
    Action.CONFIRM_CANCELLATION: Rule(
        Side.RECIPIENT,
        _OPEN_AFTER_SENDING,
        Status.CANCELLED,
        needs_sub_status=SubStatus.CANCELLATION_REQUESTED,
    ),
    Action.END_FOR_CONSENT: Rule(Side.NODE, NON_TERMINAL, Status.CANCELLED),
}


class IllegalTransition(Exception):
    """The referral's status does not allow this move."""


class NotAllowed(Exception):
    """This function may not do this to this referral."""


def can_move(source: Status, target: Status) -> bool:
    return target in TRANSITIONS[source]


def check(action: Action, status: Status, sub_status: SubStatus | None) -> Rule:
    """The rule of `action` if the referral's state allows it; raise IllegalTransition if not."""
    rule = RULES[action]
    if status not in rule.allowed_from:
        raise IllegalTransition(f"a {status.value} referral cannot be given '{action.value}'")
    if rule.needs_sub_status is not None and sub_status is not rule.needs_sub_status:
        raise IllegalTransition(
            f"'{action.value}' needs the sub-status {rule.needs_sub_status.value}"
        )
    return rule
