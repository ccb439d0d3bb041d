"""Staff routes for consents: record one, list and read those the function holds, withdraw."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from samverkan.contracts.consent import ConsentScope, MaturityAssessment
from samverkan.contracts.parties import Child, Decider
from samverkan.referral.api.common import (
    CallerDep,
    ContextDep,
    IdempotencyDep,
    Limit,
    Offset,
    Page,
    StaffDep,
    effect,
)
from samverkan.referral.api.views import ConsentSummary, ConsentView
from samverkan.referral.service import consents as service
from samverkan.referral.store import consents as store
from samverkan.runtime.db import UnitOfWork

router = APIRouter(prefix="/consents", tags=["consents"])


class GiveConsent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    child: Child
    scope: ConsentScope
    decided_by: Decider
    guardians_consenting: int = Field(ge=0, le=2)
    maturity: MaturityAssessment | None = Field(
        default=None, description="Required when the child decides alone."
    )


class WithdrawConsent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    withdrawn_by: Decider


@router.post(
    "",
    status_code=201,
    response_model=ConsentSummary,
    summary="Record a consent given by the child and/or guardians; its recipients are told",
)
async def give(
    body: GiveConsent, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    async def run(tx: UnitOfWork) -> ConsentSummary:
        consent = await service.give(
            ctx,
            tx,
            by,
            child=body.child,
            scope=body.scope,
            decided_by=body.decided_by,
            guardians_consenting=body.guardians_consenting,
            maturity=body.maturity,
        )
        return ConsentSummary.of(consent)

    return await effect(ctx, idem, caller, run, status_code=201)


@router.get("", summary="Consents held by the caller's function, without personal content")
async def list_consents(
    ctx: ContextDep, by: StaffDep, limit: Limit = 50, offset: Offset = 0
) -> Page[ConsentSummary]:
    async with ctx.uow() as tx:
        found, total = await store.held_by(tx.conn, by.function, limit, offset)
    return Page(
        items=[ConsentSummary.of(c) for c in found], total=total, limit=limit, offset=offset
    )


@router.get("/{consent_id}", summary="One consent held by the caller's function (access-logged)")
async def get(consent_id: UUID, ctx: ContextDep, by: StaffDep) -> ConsentView:
    async with ctx.uow() as tx:
        return ConsentView.of(await service.read(ctx, tx, by, consent_id))


@router.post(
    "/{consent_id}/withdraw",
    response_model=ConsentSummary,
    summary="Record a withdrawal: every recipient stops, cancels and purges what it holds",
)
async def withdraw(
    consent_id: UUID,
    body: WithdrawConsent,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    async def run(tx: UnitOfWork) -> ConsentSummary:
        consent = await service.withdraw(ctx, tx, by, consent_id, withdrawn_by=body.withdrawn_by)
        return ConsentSummary.of(consent)

    return await effect(ctx, idem, caller, run)
