"""Staff routes for referrals: send, list, read, and each move of the lifecycle."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from samverkan.contracts.followup import ContactKind, ContactMode, Participant, ReferralOutcome
from samverkan.contracts.parties import Child, FunctionRef, Need
from samverkan.contracts.referral import ConsentStatement
from samverkan.contracts.values import FreeText, HttpsUrl, ShortText, Slug
from samverkan.referral.api.common import (
    CallerDep,
    ContextDep,
    IdempotencyDep,
    Limit,
    Offset,
    Page,
    StaffDep,
    effect,
    named_recipient,
)
from samverkan.referral.api.views import ReferralSummary, ReferralView
from samverkan.referral.domain.lifecycle import Status
from samverkan.referral.domain.referral import Direction, Referral
from samverkan.referral.service import referrals as service
from samverkan.referral.service.referrals import InlineConsent
from samverkan.runtime.db import UnitOfWork

router = APIRouter(prefix="/referrals", tags=["referrals"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WithConsent(_Body):
    consent_id: UUID | None = Field(
        default=None, description="A consent recorded with POST /consents that covers this."
    )
    consent: ConsentStatement | None = Field(
        default=None,
        description="Or a consent stated here: recorded as covering exactly this referral "
        "(its recipient and purpose, identity and reason) for 180 days from given_at.",
    )

    @model_validator(mode="after")
    def _one_consent(self) -> WithConsent:
        if self.consent_id and self.consent:
            raise ValueError("give either consent_id or consent, not both")
        return self

    def inline(self) -> InlineConsent | None:
        if self.consent is None or self.consent.consent_id is not None:
            return None
        c = self.consent
        return InlineConsent(decided_by=c.decided_by, purpose=c.purpose, given_at=c.given_at)

    def reference(self) -> UUID | None:
        return self.consent_id or (self.consent.consent_id if self.consent else None)


class SendReferral(WithConsent):
    need: Need
    child: Child
    reason: FreeText
    draft: bool = Field(default=False, description="Keep it as a draft (awaiting consent).")

    @model_validator(mode="after")
    def _draft_without_consent(self) -> SendReferral:
        if self.draft and (self.consent_id or self.consent):
            raise ValueError("a draft takes no consent; give it when sending the draft")
        return self


class Reopen(_Body):
    reason: FreeText


class Reason(_Body):
    reason_code: Slug
    reason_text: FreeText | None = None


class Reject(_Body):
    reason_code: Slug
    reason_text: FreeText


class Forward(_Body):
    to: FunctionRef
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


@router.get("", summary="The caller's function's inbox or sent referrals, without personal content")
async def list_referrals(
    ctx: ContextDep,
    by: StaffDep,
    box: Literal["inbox", "sent"] = "inbox",
    status: Annotated[list[Status] | None, Query(description="Only these statuses.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ReferralSummary]:
    direction = Direction.INCOMING if box == "inbox" else Direction.OUTGOING
    async with ctx.uow() as tx:
        found, total = await service.listing(
            ctx, tx, by, direction=direction, statuses=status or [], limit=limit, offset=offset
        )
    return Page(
        items=[ReferralSummary.of(r) for r in found], total=total, limit=limit, offset=offset
    )


@router.post(
    "",
    status_code=201,
    response_model=ReferralSummary,
    summary="Send a referral to the counterpart function under a covering consent, or draft one",
)
async def send(
    body: SendReferral, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    async def run(tx: UnitOfWork) -> ReferralSummary:
        referral = await service.send(
            ctx,
            tx,
            by,
            need=body.need,
            child=body.child,
            reason=body.reason,
            consent_id=body.reference(),
            inline=body.inline(),
            draft=body.draft,
        )
        return ReferralSummary.of(referral)

    return await effect(ctx, idem, caller, run, status_code=201)


@router.get(
    "/{referral_id}",
    summary="One referral sent or received by the caller's function (the read is access-logged)",
)
async def get(referral_id: UUID, ctx: ContextDep, by: StaffDep) -> ReferralView:
    async with ctx.uow() as tx:
        return ReferralView.of(await service.read(ctx, tx, by, referral_id))


def _move(path: str, summary: str) -> object:
    return router.post(path, response_model=ReferralSummary, summary=summary)


@_move("/{referral_id}/send", "Send a draft under a covering consent (sender)")  # type: ignore[misc]
async def send_draft(
    referral_id: UUID,
    body: WithConsent,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    async def run(tx: UnitOfWork) -> ReferralSummary:
        referral = await service.send_draft(
            ctx, tx, by, referral_id, consent_id=body.reference(), inline=body.inline()
        )
        return ReferralSummary.of(referral)

    return await effect(ctx, idem, caller, run)


@_move("/{referral_id}/withdraw", "Withdraw a draft that was never sent (sender)")  # type: ignore[misc]
async def withdraw(
    referral_id: UUID, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    async def run(tx: UnitOfWork) -> ReferralSummary:
        return ReferralSummary.of(await service.withdraw_draft(ctx, tx, by, referral_id))

    return await effect(ctx, idem, caller, run)


@router.post(
    "/{referral_id}/reopen",
    status_code=201,
    response_model=ReferralSummary,
    summary="Reopen a closed referral as a new draft that supersedes it (sender)",
)
async def reopen(
    referral_id: UUID,
    body: Reopen,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    async def run(tx: UnitOfWork) -> ReferralSummary:
        new = await service.reopen(ctx, tx, by, referral_id, reason=body.reason)
        return ReferralSummary.of(new)

    return await effect(ctx, idem, caller, run, status_code=201)


@router.post(
    "/{referral_id}/forward",
    status_code=201,
    response_model=ReferralSummary,
    summary="Forward to another function within the consent: a new referral supersedes this one",
)
async def forward(
    referral_id: UUID,
    body: Forward,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    async def run(tx: UnitOfWork) -> ReferralSummary:
        new = await named_recipient(
            service.forward(ctx, tx, by, referral_id, to=body.to, text=body.reason_text)
        )
        return ReferralSummary.of(new)

    return await effect(ctx, idem, caller, run, status_code=201)


async def _act(
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
    referral_id: UUID,
    move: object,
) -> Response:
    async def run(tx: UnitOfWork) -> ReferralSummary:
        referral = await service.act(ctx, tx, by, referral_id, move)  # type: ignore[arg-type]
        return ReferralSummary.of(referral)

    return await effect(ctx, idem, caller, run)


@_move("/{referral_id}/cancellation-request", "Ask the recipient to cancel (sender)")  # type: ignore[misc]
async def request_cancellation(
    referral_id: UUID,
    body: Reason,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> object:
        return r.request_cancellation(
            by, code=body.reason_code, text=body.reason_text, now=ctx.now()
        )

    return await _act(ctx, by, caller, idem, referral_id, move)


@_move("/{referral_id}/accept", "Accept a received referral: the clinical decision (recipient)")  # type: ignore[misc]
async def accept(
    referral_id: UUID, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    return await _act(ctx, by, caller, idem, referral_id, lambda r: r.accept(by, now=ctx.now()))


@_move("/{referral_id}/reject", "Decline a received referral with a reason (recipient)")  # type: ignore[misc]
async def reject(
    referral_id: UUID,
    body: Reject,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> object:
        return r.reject(by, code=body.reason_code, text=body.reason_text, now=ctx.now())

    return await _act(ctx, by, caller, idem, referral_id, move)


@_move("/{referral_id}/contacts", "Schedule (or reschedule) a contact (recipient)")  # type: ignore[misc]
async def schedule(
    referral_id: UUID,
    body: Schedule,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> object:
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


@_move("/{referral_id}/contacts/{contact_id}/no-show", "Record a no-show (recipient)")  # type: ignore[misc]
async def no_show(
    referral_id: UUID,
    contact_id: UUID,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> object:
        return r.no_show(by, contact_id=contact_id, now=ctx.now())

    return await _act(ctx, by, caller, idem, referral_id, move)


@_move("/{referral_id}/hold", "Put work on hold (recipient)")  # type: ignore[misc]
async def put_on_hold(
    referral_id: UUID,
    body: Hold,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> object:
        return r.put_on_hold(
            by, code=body.reason_code, text=body.reason_text, until=body.until, now=ctx.now()
        )

    return await _act(ctx, by, caller, idem, referral_id, move)


@_move("/{referral_id}/resume", "Resume work on hold (recipient)")  # type: ignore[misc]
async def resume(
    referral_id: UUID, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    return await _act(ctx, by, caller, idem, referral_id, lambda r: r.resume(by, now=ctx.now()))


@_move("/{referral_id}/complete", "Complete with an outcome (recipient)")  # type: ignore[misc]
async def complete(
    referral_id: UUID,
    body: Complete,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> object:
        return r.complete(by, outcome=body.outcome, text=body.outcome_text, now=ctx.now())

    return await _act(ctx, by, caller, idem, referral_id, move)


@_move("/{referral_id}/fail", "Close as failed: it could not be carried through (recipient)")  # type: ignore[misc]
async def fail(
    referral_id: UUID,
    body: Reason,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    def move(r: Referral) -> object:
        return r.fail(by, code=body.reason_code, text=body.reason_text, now=ctx.now())

    return await _act(ctx, by, caller, idem, referral_id, move)


@_move("/{referral_id}/cancel", "Confirm the sender's cancellation request (recipient)")  # type: ignore[misc]
async def confirm_cancellation(
    referral_id: UUID, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    return await _act(
        ctx, by, caller, idem, referral_id, lambda r: r.confirm_cancellation(by, now=ctx.now())
    )
