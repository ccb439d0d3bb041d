"""Staff routes for referrals: send, list, read, and each move of the lifecycle."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from samverkan.contracts.parties import Child, FunctionRef, Need
from samverkan.contracts.referral import ConsentStatement
from samverkan.contracts.values import FreeText
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
from samverkan.referral.domain.referral import Direction
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


class Forward(_Body):
    to: FunctionRef
    reason_text: FreeText


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


@router.post(
    "/{referral_id}/send",
    response_model=ReferralSummary,
    summary="Send a draft under a covering consent (sender)",
)
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


@router.post(
    "/{referral_id}/withdraw",
    response_model=ReferralSummary,
    summary="Withdraw a draft that was never sent (sender)",
)
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
