"""Staff routes for anonymous consultations: ask, list, read, answer."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from samverkan.contracts.consultation import AgeBand
from samverkan.contracts.parties import FunctionRef, Need
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
from samverkan.referral.api.views import ConsultationView
from samverkan.referral.domain.consultation import Side
from samverkan.referral.service import consultations as service
from samverkan.runtime.db import UnitOfWork

router = APIRouter(prefix="/consultations", tags=["consultations"])


class Ask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    need: Need
    question: FreeText = Field(description="Anonymous: nothing shaped like a personnummer.")
    age_band: AgeBand | None = None
    counterpart: FunctionRef | None = Field(
        default=None, description="Whom to ask; by default the formalised counterpart."
    )


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: FreeText = Field(description="Anonymous: nothing shaped like a personnummer.")
    referral_suggested: bool


@router.post(
    "",
    status_code=201,
    response_model=ConsultationView,
    summary="Ask a counterpart function about an anonymous case",
)
async def ask(
    body: Ask, ctx: ContextDep, by: StaffDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    async def run(tx: UnitOfWork) -> ConsultationView:
        asked = service.ask(
            ctx,
            tx,
            by,
            need=body.need,
            question=body.question,
            age_band=body.age_band,
            counterpart=body.counterpart,
        )
        consultation = await (named_recipient(asked) if body.counterpart else asked)
        return ConsultationView.of(consultation)

    return await effect(ctx, idem, caller, run, status_code=201)


@router.get("", summary="Consultations asked of (inbox) or by (sent) the caller's function")
async def list_consultations(
    ctx: ContextDep,
    by: StaffDep,
    box: Literal["inbox", "sent"] = "inbox",
    answered: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ConsultationView]:
    side = Side.COUNTERPART if box == "inbox" else Side.REQUESTER
    async with ctx.uow() as tx:
        found, total = await service.listing(
            tx, by, side=side, answered=answered, limit=limit, offset=offset
        )
    return Page(
        items=[ConsultationView.of(c) for c in found], total=total, limit=limit, offset=offset
    )


@router.get("/{consultation_id}", summary="One consultation")
async def get(consultation_id: UUID, ctx: ContextDep, by: StaffDep) -> ConsultationView:
    async with ctx.uow() as tx:
        return ConsultationView.of(await service.load(tx, consultation_id, by))


@router.post(
    "/{consultation_id}/answer",
    response_model=ConsultationView,
    summary="Answer a consultation asked of the caller's function",
)
async def answer(
    consultation_id: UUID,
    body: Answer,
    ctx: ContextDep,
    by: StaffDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    async def run(tx: UnitOfWork) -> ConsultationView:
        consultation = await service.answer(
            ctx,
            tx,
            by,
            consultation_id,
            text=body.answer,
            referral_suggested=body.referral_suggested,
        )
        return ConsultationView.of(consultation)

    return await effect(ctx, idem, caller, run)
