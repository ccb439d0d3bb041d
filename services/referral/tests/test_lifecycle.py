"""The lifecycle table, in full: every status pair, and every action from every status."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from referral_builders import CONTACT, NOW, NURSE, STATEMENT, UPH_STAFF, referral

from samverkan.contracts.followup import ContactKind, ContactMode, Participant, ReferralOutcome
from samverkan.contracts.referral import CancellationCause, ReferralCancelled, ReferralReceived
from samverkan.referral.domain.lifecycle import (
    NON_TERMINAL,
    RULES,
    TERMINAL,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Side,
    Status,
    SubStatus,
    can_move,
)
from samverkan.referral.domain.referral import Direction, Referral

pytestmark = pytest.mark.unit

S = Status
# Written out independently of TRANSITIONS: the lifecycle, pair by pair.
LEGAL = {
    (S.DRAFT, S.REQUESTED),
    (S.REQUESTED, S.RECEIVED),
    (S.RECEIVED, S.ACCEPTED),
    (S.RECEIVED, S.REJECTED),
    (S.ACCEPTED, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.ON_HOLD),
    (S.ON_HOLD, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.IN_PROGRESS, S.FAILED),
    *((s, S.CANCELLED) for s in (S.DRAFT, S.REQUESTED, S.RECEIVED, S.ACCEPTED, S.IN_PROGRESS)),
    (S.ON_HOLD, S.CANCELLED),
}


@pytest.mark.parametrize(
    ("source", "target"), list(itertools.product(Status, Status)), ids=lambda s: s.value
)
def test_every_status_pair_is_legal_exactly_when_the_lifecycle_says(
    source: Status, target: Status
) -> None:
    assert can_move(source, target) is ((source, target) in LEGAL)


def test_terminal_statuses_are_the_four_and_have_no_moves() -> None:
    assert {S.COMPLETED, S.FAILED, S.REJECTED, S.CANCELLED} == TERMINAL
    assert all(TRANSITIONS[s] == frozenset() for s in TERMINAL)
    assert all(can_move(s, S.CANCELLED) for s in NON_TERMINAL)


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_each_rule_only_makes_legal_moves(action: Action) -> None:
    rule = RULES[action]
    for source in rule.allowed_from:
        assert rule.target in (None, source) or can_move(source, rule.target)


# How each action is attempted on a copy, by the function allowed to take it.
def _schedule(r: Referral) -> Any:
    return r.schedule(
        UPH_STAFF,
        kind=ContactKind.FIRST_VISIT,
        mode=ContactMode.IN_PERSON,
        starts_at=NOW,
        duration_minutes=45,
        participants=[Participant.CHILD],
        location=None,
        video_link=None,
        contact_id=None,
        now=NOW,
    )


def _follow_receipt(r: Referral) -> Any:
    event = ReferralReceived(referral_id=r.id, recipient=r.recipient, received_at=NOW)
    if not r.follow(event):
        raise IllegalTransition("not followed")


def _end_for_consent(r: Referral) -> Any:
    if r.end_for_consent(CancellationCause.CONSENT_WITHDRAWN, now=NOW) is None:
        raise IllegalTransition("nothing to cancel")


ATTEMPTS: dict[Action, Callable[[Referral], Any]] = {
    Action.SEND: lambda r: r.send(NURSE, STATEMENT, now=NOW),
    Action.WITHDRAW: lambda r: r.withdraw(NURSE, now=NOW),
    Action.RECEIVE: _follow_receipt,
    Action.ACCEPT: lambda r: r.accept(UPH_STAFF, now=NOW),
    Action.REJECT: lambda r: r.reject(UPH_STAFF, code="fel-niva", text="BUP", now=NOW),
    Action.FORWARD: lambda r: r.forward(
        UPH_STAFF, to=r.recipient.model_copy(update={"function": "socionom"}), text="x", now=NOW
    ),
    Action.SCHEDULE: _schedule,
    Action.NO_SHOW: lambda r: r.no_show(UPH_STAFF, contact_id=CONTACT, now=NOW),
    Action.PUT_ON_HOLD: lambda r: r.put_on_hold(
        UPH_STAFF, code="vantar", text=None, until=None, now=NOW
    ),
    Action.RESUME: lambda r: r.resume(UPH_STAFF, now=NOW),
    Action.COMPLETE: lambda r: r.complete(
        UPH_STAFF, outcome=ReferralOutcome.HELP_GIVEN, text=None, now=NOW
    ),
    Action.FAIL: lambda r: r.fail(UPH_STAFF, code="ej-nadd", text=None, now=NOW),
    Action.REQUEST_CANCELLATION: lambda r: r.request_cancellation(
        NURSE, code="flyttat", text=None, now=NOW
    ),
    Action.CONFIRM_CANCELLATION: lambda r: r.confirm_cancellation(UPH_STAFF, now=NOW),
    Action.END_FOR_CONSENT: _end_for_consent,
}
# The node's receipt is checked on the sender's copy, which follows it.
_DIRECTION = {Side.SENDER: Direction.OUTGOING, Side.RECIPIENT: Direction.INCOMING}


def test_every_action_has_an_attempt() -> None:
    assert set(ATTEMPTS) == set(Action)


@pytest.mark.parametrize(
    ("action", "status"), list(itertools.product(Action, Status)), ids=lambda x: x.value
)
def test_every_action_from_every_status(action: Action, status: Status) -> None:
    rule = RULES[action]
    direction = _DIRECTION.get(rule.side, Direction.INCOMING)
    if action is Action.RECEIVE:
        direction = Direction.OUTGOING
    copy = referral(status, direction, sub_status=rule.needs_sub_status)
    legal = status in rule.allowed_from
    if legal:
        ATTEMPTS[action](copy)
        expected = rule.target or status
        assert copy.status is expected
        assert copy.history[-1][1] is expected
        if rule.sub_status is not None:
            assert copy.sub_status is rule.sub_status
    else:
        with pytest.raises(IllegalTransition):
            ATTEMPTS[action](copy)
        assert copy.status is status
        # Only a purge (a consent ended) touches a closed copy; no move does.
        assert [entry[3] for entry in copy.history] in ([], ["purged"])


def test_confirming_a_cancellation_needs_a_request() -> None:
    copy = referral(S.IN_PROGRESS)
    with pytest.raises(IllegalTransition, match="cancellation-requested"):
        copy.confirm_cancellation(UPH_STAFF, now=NOW)
    copy.sub_status = SubStatus.CANCELLATION_REQUESTED
    event = copy.confirm_cancellation(UPH_STAFF, now=NOW)
    assert isinstance(event, ReferralCancelled)
    assert event.cause is CancellationCause.REQUESTED_BY_SENDER and copy.status is S.CANCELLED
