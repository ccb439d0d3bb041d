"""Staff routes for the moves of a sent referral: decide, schedule, pause, close, cancel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from samverkan.contracts import Event
from samverkan.contracts.followup import ContactKind, ContactMode, Participant, ReferralOutcome
from samverkan.contracts.values import FreeText, HttpsUrl, ShortText, Slug
from samverkan.referral.api.common import CallerDep, ContextDep, IdempotencyDep, StaffDep, effect
from samverkan.referral.api.views import ReferralSummary
from samverkan.referral.domain.referral import Referral
from samverkan.referral.service import referrals as service
from samverkan.runtime.db import UnitOfWork

router = APIRouter(prefix="/referrals", tags=["referrals"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reason(_Body):
    reason_code: Slug
    reason_text: FreeText | None = None


class Reject(_Body):
    reason_code: Slug
    reason_text: FreeText


class Schedule(_Body):
    kind: ContactKind
    mode: ContactMode
    starts_at: datetime
    duration_minutes: int = Field(ge=5, le=480)
    participants: list[Participant] = Field(min_length=1)
    location: ShortText | None = None
    video_link: HttpsUrl | None = None
    contact_id: UUID | None = Field(default=None, description="Set to reschedule a contact.")


class Hold(Reason):
    until: date | None = None


class Complete(_Body):
    outcome: ReferralOutcome
    outcome_text: FreeText | None = None


async def _act(
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
    referral_id: UUID,
    move: Callable[[Referral], Event],
) -> Response:
    async def run(tx: UnitOfWork) -> ReferralSummary:
        referral = await service.act(ctx, tx, by, referral_id, move)
        return ReferralSummary.of(referral)

    return await effect(ctx, idem, caller, run)


@router.post(
    "/{referral_id}/cancellation-request",
    response_model=ReferralSummary,
    summary="Ask the recipient to cancel (sender)",
)
async def request_cancellation(
    referral_id: UUID,
    body: Reason,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> Event:
        return r.request_cancellation(
            by, code=body.reason_code, text=body.reason_text, now=ctx.now()
        )

    return await _act(ctx, by, caller, idem, referral_id, move)


@router.post(
    "/{referral_id}/accept",
    response_model=ReferralSummary,
    summary="Accept a received referral: the clinical decision (recipient)",
)
async def accept(
    referral_id: UUID, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    return await _act(ctx, by, caller, idem, referral_id, lambda r: r.accept(by, now=ctx.now()))


@router.post(
    "/{referral_id}/reject",
    response_model=ReferralSummary,
    summary="Decline a received referral with a reason (recipient)",
)
async def reject(
    referral_id: UUID,
    body: Reject,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> Event:
        return r.reject(by, code=body.reason_code, text=body.reason_text, now=ctx.now())

    return await _act(ctx, by, caller, idem, referral_id, move)


@router.post(
    "/{referral_id}/contacts",
    response_model=ReferralSummary,
    summary="Schedule (or reschedule) a contact (recipient)",
)
async def schedule(
    referral_id: UUID,
    body: Schedule,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> Event:
        return r.schedule(
            by,
            kind=body.kind,
            mode=body.mode,
            starts_at=body.starts_at,
            duration_minutes=body.duration_minutes,
            participants=body.participants,
            location=body.location,
            video_link=body.video_link,
            contact_id=body.contact_id,
            now=ctx.now(),
        )

    return await _act(ctx, by, caller, idem, referral_id, move)


@router.post(
    "/{referral_id}/contacts/{contact_id}/no-show",
    response_model=ReferralSummary,
    summary="Record a no-show (recipient)",
)
async def no_show(
    referral_id: UUID,
    contact_id: UUID,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> Event:
        return r.no_show(by, contact_id=contact_id, now=ctx.now())

    return await _act(ctx, by, caller, idem, referral_id, move)


@router.post(
    "/{referral_id}/hold", response_model=ReferralSummary, summary="Put work on hold (recipient)"
)
async def put_on_hold(
    referral_id: UUID,
    body: Hold,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> Event:
        return r.put_on_hold(
            by, code=body.reason_code, text=body.reason_text, until=body.until, now=ctx.now()
        )

    return await _act(ctx, by, caller, idem, referral_id, move)


@router.post(
    "/{referral_id}/resume",
    response_model=ReferralSummary,
    summary="Resume work on hold (recipient)",
)
async def resume(
    referral_id: UUID, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    return await _act(ctx, by, caller, idem, referral_id, lambda r: r.resume(by, now=ctx.now()))


@router.post(
    "/{referral_id}/complete",
    response_model=ReferralSummary,
    summary="Complete with an outcome (recipient)",
)
async def complete(
    referral_id: UUID,
    body: Complete,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> Event:
        return r.complete(by, outcome=body.outcome, text=body.outcome_text, now=ctx.now())

    return await _act(ctx, by, caller, idem, referral_id, move)


@router.post(
    "/{referral_id}/fail",
    response_model=ReferralSummary,
    summary="Close as failed: it could not be carried through (recipient)",
)
async def fail(
    referral_id: UUID,
    body: Reason,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> Event:
        return r.fail(by, code=body.reason_code, text=body.reason_text, now=ctx.now())

    return await _act(ctx, by, caller, idem, referral_id, move)


@router.post(
    "/{referral_id}/cancel",
    response_model=ReferralSummary,
    summary="Confirm the sender's cancellation request (recipient)",
)
async def confirm_cancellation(
    referral_id: UUID, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    return await _act(
        ctx, by, caller, idem, referral_id, lambda r: r.confirm_cancellation(by, now=ctx.now())
    )
