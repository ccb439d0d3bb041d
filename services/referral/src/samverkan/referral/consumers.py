"""Reactions to events addressed to this principal: check who sent them, call a use case."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from samverkan.contracts import CloudEvent
from samverkan.contracts.concern import (
    ConcernFeedbackGiven,
    ConcernReportReceived,
    ConcernReportSubmitted,
)
from samverkan.contracts.consent import ConsentExpired, ConsentGiven, ConsentWithdrawn
from samverkan.contracts.consultation import ConsultationAnswered, ConsultationRequested
from samverkan.contracts.followup import (
    ReferralCompleted,
    ReferralContactScheduled,
    ReferralFailed,
    ReferralNoShow,
    ReferralPutOnHold,
    ReferralResumed,
)
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
from samverkan.referral.service import concerns, consents, consultations, inbound
from samverkan.referral.service.context import Context, Later, Rejected
from samverkan.referral.store import referrals
from samverkan.runtime.consumer import NotYet, Refused
from samverkan.runtime.db import UnitOfWork

FROM_RECIPIENT = (
    ReferralReceived,
    ReferralAccepted,
    ReferralRejected,
    ReferralForwarded,
    ReferralContactScheduled,
    ReferralNoShow,
    ReferralPutOnHold,
    ReferralResumed,
    ReferralCompleted,
    ReferralFailed,
    ReferralCancelled,
)
FROM_SENDER = (ReferralCancellationRequested, ReferralSuperseded)

Apply = Callable[[UnitOfWork, CloudEvent], Awaitable[None]]


def _from(event: CloudEvent, party: str) -> FunctionRef:
    """The function on whose behalf the event was emitted; it must be the source principal's."""
    function: FunctionRef = getattr(event.data, party)
    if function.principal != event.sourceprincipal:
        raise Refused(f"the {party} function belongs to another principal than the event source")
    return function


def _guarded(party: str, apply: Apply, *, flush_first: bool = True) -> Apply:
    """`apply`, for events from `party` only, raising the consumer's exceptions. `flush_first`:
    the new referral copies a batch holds back (inbound.receive) are stored before it runs."""

    async def handler(tx: UnitOfWork, event: CloudEvent) -> None:
        _from(event, party)
        if flush_first:
            await tx.flush(referrals.HELD)
        try:
            await apply(tx, event)
        except Rejected as exc:
            raise Refused(str(exc)) from None
        except Later as exc:
            raise NotYet(str(exc)) from None

    return handler


def register(node_on: Callable[..., None], ctx: Context) -> None:
    def on(event_class: type, party: str, apply: Apply) -> None:
        node_on(event_class, _guarded(party, apply), addressed_to_me=True)

    async def sent(tx: UnitOfWork, event: CloudEvent) -> None:
        assert isinstance(event.data, ReferralSent)
        if event.data.recipient.principal != ctx.principal:
            raise Rejected("the recipient function belongs to another principal than this node")
        await inbound.receive(ctx, tx, event.data)

    async def followed(tx: UnitOfWork, event: CloudEvent) -> None:
        await inbound.follow(ctx, tx, event.data)  # type: ignore[arg-type]

    async def consent_given(tx: UnitOfWork, event: CloudEvent) -> None:
        assert isinstance(event.data, ConsentGiven)
        await consents.given_elsewhere(tx, event.data)

    async def consent_ended(tx: UnitOfWork, event: CloudEvent) -> None:
        assert isinstance(event.data, ConsentWithdrawn | ConsentExpired)
        await consents.ended_elsewhere(ctx, tx, event.data)

    async def concern_submitted(tx: UnitOfWork, event: CloudEvent) -> None:
        assert isinstance(event.data, ConcernReportSubmitted)
        await concerns.received(ctx, tx, event.data)

    async def concern_followed(tx: UnitOfWork, event: CloudEvent) -> None:
        assert isinstance(event.data, ConcernReportReceived | ConcernFeedbackGiven)
        await concerns.follow(tx, event.data)

    async def consultation_requested(tx: UnitOfWork, event: CloudEvent) -> None:
        assert isinstance(event.data, ConsultationRequested)
        await consultations.requested(tx, event.data)

    async def consultation_answered(tx: UnitOfWork, event: CloudEvent) -> None:
        assert isinstance(event.data, ConsultationAnswered)
        await consultations.answered(tx, event.data)

    # Only receiving holds copies back (inbound.receive), and it reads none of them.
    node_on(ReferralSent, _guarded("sender", sent, flush_first=False), addressed_to_me=True)
    for event_class in FROM_RECIPIENT:
        on(event_class, "recipient", followed)
    for event_class in FROM_SENDER:
        on(event_class, "sender", followed)
    on(ConsentGiven, "holder", consent_given)
    on(ConsentWithdrawn, "holder", consent_ended)
    on(ConsentExpired, "holder", consent_ended)
    on(ConcernReportSubmitted, "reporter", concern_submitted)
    on(ConcernReportReceived, "recipient", concern_followed)
    on(ConcernFeedbackGiven, "recipient", concern_followed)
    on(ConsultationRequested, "requester", consultation_requested)
    on(ConsultationAnswered, "counterpart", consultation_answered)
