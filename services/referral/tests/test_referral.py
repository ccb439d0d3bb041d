"""The referral aggregate: who may act, what each move carries, and how the copies agree."""

from __future__ import annotations

import pytest
from referral_builders import (
    CHILD,
    NOW,
    NURSE,
    NURSE_FN,
    SOCIONOM,
    STATEMENT,
    STRANGER,
    UPH,
    UPH_STAFF,
    referral,
)

from samverkan.contracts.followup import ReferralOutcome
from samverkan.contracts.parties import Need
from samverkan.contracts.referral import (
    CancellationCause,
    ReferralCancelled,
    ReferralForwarded,
    ReferralReceived,
    SupersessionCause,
)
from samverkan.referral.domain.lifecycle import IllegalTransition, NotAllowed, Status, SubStatus
from samverkan.referral.domain.referral import Direction, Referral

pytestmark = pytest.mark.unit


def _sent() -> tuple[Referral, Referral]:
    outgoing = Referral.draft(
        by=NURSE, recipient=UPH, need=Need.MEDICAL_PSYCHOLOGICAL, child=CHILD, reason="Oro", now=NOW
    )
    assert (outgoing.status, outgoing.sub_status) == (Status.DRAFT, SubStatus.AWAITING_CONSENT)
    sent = outgoing.send(NURSE, STATEMENT, now=NOW)
    incoming, receipt = Referral.receive(sent, now=NOW)
    assert receipt.referral_id == outgoing.id == incoming.id
    return outgoing, incoming


def test_send_then_receive_gives_two_copies_each_visible_to_its_own_function() -> None:
    outgoing, incoming = _sent()
    assert (outgoing.direction, outgoing.status) == (Direction.OUTGOING, Status.REQUESTED)
    assert (incoming.direction, incoming.status) == (Direction.INCOMING, Status.RECEIVED)
    assert outgoing.sub_status is None and incoming.consent == STATEMENT
    assert incoming.visible_to(UPH) and not incoming.visible_to(NURSE_FN)
    assert outgoing.visible_to(NURSE_FN) and not outgoing.visible_to(UPH)


def test_a_function_cannot_refer_to_itself_but_may_within_its_principal() -> None:
    with pytest.raises(NotAllowed):
        Referral.draft(
            by=NURSE, recipient=NURSE_FN, need=Need.PSYCHOSOCIAL, child=CHILD, reason="x", now=NOW
        )
    kurator = NURSE_FN.model_copy(update={"function": "skolkurator"})
    same = Referral.draft(
        by=NURSE, recipient=kurator, need=Need.PSYCHOSOCIAL, child=CHILD, reason="x", now=NOW
    )
    assert same.recipient == kurator


@pytest.mark.parametrize(
    "move",
    [
        lambda r, by: r.accept(by, now=NOW),
        lambda r, by: r.reject(by, code="fel", text="x", now=NOW),
        lambda r, by: r.forward(by, to=SOCIONOM, text="x", now=NOW),
    ],
)
def test_only_the_recipient_function_decides(move) -> None:  # type: ignore[no-untyped-def]
    _, incoming = _sent()
    for wrong in (STRANGER, NURSE):
        with pytest.raises(NotAllowed):
            move(incoming, wrong)
    move(incoming, UPH_STAFF)


def test_only_the_sender_requests_cancellation_and_the_recipient_confirms() -> None:
    outgoing, incoming = _sent()
    with pytest.raises(NotAllowed):
        incoming.request_cancellation(UPH_STAFF, code="x", text=None, now=NOW)
    request = outgoing.request_cancellation(NURSE, code="flyttat", text=None, now=NOW)
    assert outgoing.sub_status is SubStatus.CANCELLATION_REQUESTED
    assert incoming.follow(request) and incoming.sub_status is SubStatus.CANCELLATION_REQUESTED
    with pytest.raises(NotAllowed):
        outgoing.confirm_cancellation(NURSE, now=NOW)
    cancelled = incoming.confirm_cancellation(UPH_STAFF, now=NOW)
    assert outgoing.follow(cancelled) and outgoing.status is Status.CANCELLED
    assert outgoing.cancellation == "requested-by-sender"


def test_the_sender_copy_follows_the_whole_way_and_ignores_stale_events() -> None:
    outgoing, incoming = _sent()
    moves = [
        lambda: ReferralReceived(referral_id=incoming.id, recipient=UPH, received_at=NOW),
        lambda: incoming.accept(UPH_STAFF, now=NOW),
        lambda: incoming.schedule(
            UPH_STAFF,
            kind="first-visit",
            mode="video",
            starts_at=NOW,  # type: ignore[arg-type]
            duration_minutes=30,
            participants=["child"],
            location=None,  # type: ignore[list-item]
            video_link="https://v.example/x",
            contact_id=None,
            now=NOW,
        ),
        lambda: incoming.put_on_hold(UPH_STAFF, code="sjuk", text=None, until=None, now=NOW),
        lambda: incoming.resume(UPH_STAFF, now=NOW),
        lambda: incoming.complete(
            UPH_STAFF, outcome=ReferralOutcome.SIP_INITIATED, text="SIP", now=NOW
        ),
    ]
    for move in moves:
        event = move()
        assert outgoing.follow(event) is True, event.TYPE
        assert (outgoing.status, outgoing.sub_status) == (incoming.status, incoming.sub_status)
    assert outgoing.outcome == ("sip-initiated", "SIP") and outgoing.contacts == incoming.contacts
    late = ReferralReceived(referral_id=outgoing.id, recipient=UPH, received_at=NOW)
    assert outgoing.follow(late) is False and outgoing.status is Status.COMPLETED


def test_events_from_another_function_are_not_followed() -> None:
    outgoing, incoming = _sent()
    forged = ReferralReceived(referral_id=outgoing.id, recipient=SOCIONOM, received_at=NOW)
    with pytest.raises(NotAllowed):
        outgoing.follow(forged)
    with pytest.raises(NotAllowed):
        incoming.follow(ReferralReceived(referral_id=incoming.id, recipient=UPH, received_at=NOW))


def test_rejection_needs_code_and_text_and_completion_an_outcome() -> None:
    _, incoming = _sent()
    event = incoming.reject(UPH_STAFF, code="fel-niva", text="Behöver BUP", now=NOW)
    assert (event.reason_code, event.reason_text) == ("fel-niva", "Behöver BUP")
    assert incoming.rejection == ("fel-niva", "Behöver BUP") and incoming.decided_by
    with pytest.raises(IllegalTransition):
        incoming.accept(UPH_STAFF, now=NOW)


def test_forwarding_ends_this_referral_and_drafts_a_new_one_that_supersedes_it() -> None:
    outgoing, incoming = _sent()
    new, forwarded = incoming.forward(UPH_STAFF, to=SOCIONOM, text="Kurator passar", now=NOW)
    assert isinstance(forwarded, ReferralForwarded) and forwarded.new_referral_id == new.id
    assert (incoming.status, incoming.sub_status) == (Status.CANCELLED, SubStatus.SUPERSEDED)
    assert (new.sender, new.recipient, new.forwarded_from) == (UPH, SOCIONOM, incoming.id)
    assert new.child == CHILD and new.status is Status.DRAFT
    sent = new.send(UPH_STAFF, STATEMENT, now=NOW)
    assert sent.forwarded_from == incoming.id
    assert outgoing.follow(
        ReferralReceived(referral_id=outgoing.id, recipient=UPH, received_at=NOW)
    )
    assert outgoing.follow(forwarded) and outgoing.superseded_by == new.id
    assert outgoing.status is Status.CANCELLED
    with pytest.raises(NotAllowed):
        incoming.forward(UPH_STAFF, to=NURSE_FN, text="tillbaka", now=NOW)


def test_a_closed_referral_is_reopened_as_a_new_draft_never_edited() -> None:
    outgoing, incoming = _sent()
    with pytest.raises(IllegalTransition):
        outgoing.reopen(NURSE, reason="Ny bedömning", now=NOW)
    outgoing.follow(ReferralReceived(referral_id=outgoing.id, recipient=UPH, received_at=NOW))
    assert outgoing.follow(incoming.reject(UPH_STAFF, code="fel", text="x", now=NOW))
    with pytest.raises(NotAllowed):
        incoming.reopen(UPH_STAFF, reason="x", now=NOW)
    new = outgoing.reopen(NURSE, reason="Ny bedömning", now=NOW)
    event = outgoing.supersede(new.id, SupersessionCause.CORRECTED, now=NOW)
    assert (new.status, new.reason, new.recipient) == (Status.DRAFT, "Ny bedömning", UPH)
    assert outgoing.status is Status.REJECTED and event.superseded_by == new.id
    assert incoming.follow(event) and incoming.superseded_by == new.id
    with pytest.raises(IllegalTransition):
        outgoing.reopen(NURSE, reason="igen", now=NOW)


def test_consent_ended_cancels_and_purges_the_recipient_copy_keeping_a_tombstone() -> None:
    outgoing, incoming = _sent()
    incoming.accept(UPH_STAFF, now=NOW)
    event = incoming.end_for_consent(CancellationCause.CONSENT_WITHDRAWN, now=NOW)
    assert isinstance(event, ReferralCancelled) and event.cancelled_by is None
    assert (incoming.status, incoming.sub_status) == (Status.CANCELLED, SubStatus.CONSENT_WITHDRAWN)
    assert incoming.child is None and incoming.reason is None and incoming.purged_at == NOW
    assert (incoming.id, incoming.sender, incoming.recipient) == (outgoing.id, NURSE_FN, UPH)
    assert outgoing.follow(
        ReferralReceived(referral_id=outgoing.id, recipient=UPH, received_at=NOW)
    )
    assert outgoing.follow(event) and outgoing.sub_status is SubStatus.CONSENT_WITHDRAWN
    assert outgoing.child == CHILD  # the sender's own record is not purged by the recipient


def test_a_purged_copy_refuses_every_further_action() -> None:
    copy = referral(Status.REQUESTED, Direction.OUTGOING)
    assert copy.end_for_consent(CancellationCause.CONSENT_EXPIRED, now=NOW) is None
    assert copy.purged_at == NOW and copy.status is Status.REQUESTED
    with pytest.raises(IllegalTransition, match="purged"):
        copy.request_cancellation(NURSE, code="x", text=None, now=NOW)


def test_a_no_show_names_a_scheduled_contact() -> None:
    copy = referral(Status.IN_PROGRESS)
    with pytest.raises(IllegalTransition, match="no contact"):
        copy.no_show(UPH_STAFF, contact_id=copy.id, now=NOW)
