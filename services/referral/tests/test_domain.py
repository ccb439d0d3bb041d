"""The referral aggregate's rules, without I/O."""

from datetime import UTC, datetime

import pytest

from samverkan.contracts.referral import (
    Child,
    ConsentStatement,
    FunctionRef,
    Need,
    ReferralAccepted,
    ReferralReceived,
)
from samverkan.referral.domain import (
    TRANSITIONS,
    Direction,
    IllegalTransition,
    NotAllowed,
    Referral,
    Staff,
    Status,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NURSE = Staff("SE2120001231-sk1", FunctionRef(principal="sjostad-kommun", function="skolskoterska"))
UPH = FunctionRef(principal="vastra-regionen", function="uph-hamnen")
UPH_STAFF = Staff("SE2321004562-ps1", UPH)


def _send() -> tuple[Referral, Referral]:
    outgoing, sent = Referral.send(
        by=NURSE,
        recipient=UPH,
        need=Need.MEDICAL_PSYCHOLOGICAL,
        child=Child(personnummer="20120315-1236", name="Alva"),
        reason="Oro",
        consent=ConsentStatement(decided_by="child-and-guardians", purpose="stöd", given_at=NOW),
        now=NOW,
    )
    incoming, receipt = Referral.receive(sent, now=NOW)
    assert receipt.referral_id == outgoing.id == incoming.id
    return outgoing, incoming


def test_send_then_receive_gives_two_copies() -> None:
    outgoing, incoming = _send()
    assert (outgoing.direction, outgoing.status) == (Direction.OUTGOING, Status.REQUESTED)
    assert (incoming.direction, incoming.status) == (Direction.INCOMING, Status.RECEIVED)
    assert incoming.visible_to(UPH) and not incoming.visible_to(NURSE.function)
    assert outgoing.visible_to(NURSE.function) and not outgoing.visible_to(UPH)


def test_referral_to_own_principal_is_refused() -> None:
    with pytest.raises(NotAllowed):
        Referral.send(
            by=NURSE,
            recipient=FunctionRef(principal="sjostad-kommun", function="kurator"),
            need=Need.PSYCHOSOCIAL,
            child=Child(personnummer="20120315-1236", name="Alva"),
            reason="Oro",
            consent=ConsentStatement(decided_by="child", purpose="stöd", given_at=NOW),
            now=NOW,
        )


def test_only_the_recipient_function_decides() -> None:
    _, incoming = _send()
    other = Staff("SE2321004562-x", FunctionRef(principal="vastra-regionen", function="annan"))
    with pytest.raises(NotAllowed):
        incoming.accept(other, now=NOW)
    event = incoming.accept(UPH_STAFF, now=NOW)
    assert isinstance(event, ReferralAccepted) and incoming.status is Status.ACCEPTED


def test_a_decided_referral_cannot_be_decided_again() -> None:
    _, incoming = _send()
    incoming.reject(UPH_STAFF, code="wrong-level", text="Behöver BUP", now=NOW)
    with pytest.raises(IllegalTransition):
        incoming.accept(UPH_STAFF, now=NOW)


def test_sender_copy_follows_and_ignores_stale_events() -> None:
    outgoing, incoming = _send()
    accepted = incoming.accept(UPH_STAFF, now=NOW)
    assert outgoing.follow(accepted) is True
    assert outgoing.status is Status.ACCEPTED and outgoing.decided_by == UPH_STAFF.person
    late_receipt = ReferralReceived(referral_id=outgoing.id, recipient=UPH, received_at=NOW)
    assert outgoing.follow(late_receipt) is False
    assert outgoing.status is Status.ACCEPTED


def test_events_from_another_function_are_not_followed() -> None:
    outgoing, _ = _send()
    forged = ReferralReceived(
        referral_id=outgoing.id,
        recipient=FunctionRef(principal="vastra-regionen", function="annan"),
        received_at=NOW,
    )
    with pytest.raises(NotAllowed):
        outgoing.follow(forged)


def test_terminal_states_have_no_moves() -> None:
    assert TRANSITIONS[Status.ACCEPTED] == set() and TRANSITIONS[Status.REJECTED] == set()
