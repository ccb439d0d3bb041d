"""Staff routes for reports of concern (orosanmälan): submit, list, read, give feedback."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from samverkan.contracts.concern import ConcernDecision
from samverkan.contracts.parties import Child, FunctionRef
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
from samverkan.referral.api.views import ConcernSummary, ConcernView
from samverkan.referral.domain.concern import ConcernState, Side
from samverkan.referral.service import concerns as service
from samverkan.runtime.db import UnitOfWork

router = APIRouter(prefix="/concerns", tags=["reports of concern"])


class SubmitConcern(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient: FunctionRef
    child: Child
    concern: FreeText
    urgent: bool = False
    guardians_informed: bool


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: ConcernDecision


@router.post(
    "",
    status_code=201,
    response_model=ConcernSummary,
    summary="Report concern to social services (duty to report: no consent needed)",
)
async def submit(
    body: SubmitConcern, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    async def run(tx: UnitOfWork) -> ConcernSummary:
        report = await named_recipient(
            service.submit(
                ctx,
                tx,
                by,
                recipient=body.recipient,
                child=body.child,
                concern=body.concern,
                urgent=body.urgent,
                guardians_informed=body.guardians_informed,
            )
        )
        return ConcernSummary.of(report)

    return await effect(ctx, idem, caller, run, status_code=201)


@router.get("", summary="Reports received (inbox) or submitted (sent), without personal content")
async def list_concerns(
    ctx: ContextDep,
    by: StaffDep,
    box: Literal["inbox", "sent"] = "inbox",
    state: ConcernState | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ConcernSummary]:
    side = Side.RECIPIENT if box == "inbox" else Side.REPORTER
    async with ctx.uow() as tx:
        found, total = await service.listing(
            tx, by, side=side, state=state, limit=limit, offset=offset
        )
    return Page(
        items=[ConcernSummary.of(r) for r in found], total=total, limit=limit, offset=offset
    )


@router.get("/{report_id}", summary="One report of concern (the read is access-logged)")
async def get(report_id: UUID, ctx: ContextDep, by: StaffDep) -> ConcernView:
    async with ctx.uow() as tx:
        return ConcernView.of(await service.read(ctx, tx, by, report_id))


@router.post(
    "/{report_id}/feedback",
    response_model=ConcernSummary,
    summary="Tell the reporter whether an investigation was opened (social services)",
)
async def feedback(
    report_id: UUID,
    body: Feedback,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    async def run(tx: UnitOfWork) -> ConcernSummary:
        report = await service.give_feedback(ctx, tx, by, report_id, decision=body.decision)
        return ConcernSummary.of(report)

    return await effect(ctx, idem, caller, run)
