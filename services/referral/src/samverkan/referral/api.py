"""Referral HTTP API for staff: send, list, read, accept, reject."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from samverkan.contracts.referral import Child, ConsentStatement, FunctionRef, Need
from samverkan.contracts.values import FreeText, Slug
from samverkan.referral import service, store
from samverkan.referral.domain import Direction, IllegalTransition, NotAllowed, Referral, Staff
from samverkan.runtime import directory_view
from samverkan.runtime.auth import Caller, Role, require
from samverkan.runtime.node import Node
from samverkan.runtime.problems import Problem

router = APIRouter(prefix="/referrals", tags=["referrals"])


class SendReferral(BaseModel):
    model_config = ConfigDict(extra="forbid")
    need: Need
    child: Child
    reason: FreeText
    consent: ConsentStatement


class RejectReferral(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason_code: Slug
    reason_text: FreeText


class ReferralView(BaseModel):
    id: UUID
    direction: Direction
    status: str
    sender: FunctionRef
    recipient: FunctionRef
    need: Need
    child: Child
    reason: str
    sent_at: datetime
    updated_at: datetime
    decided_by: str | None
    rejection_code: str | None

    @classmethod
    def of(cls, r: Referral) -> ReferralView:
        return cls(
            id=r.id,
            direction=r.direction,
            status=r.status.value,
            sender=r.sender,
            recipient=r.recipient,
            need=r.need,
            child=r.child,
            reason=r.reason,
            sent_at=r.sent_at,
            updated_at=r.updated_at,
            decided_by=r.decided_by,
            rejection_code=r.rejection[0] if r.rejection else None,
        )


def _node(request: Request) -> Node:
    return request.app.state.node


def _staff(caller: Annotated[Caller, Depends(require(Role.STAFF))]) -> Staff:
    assert caller.function is not None
    return Staff(
        person=caller.person,
        function=FunctionRef(principal=caller.principal, function=caller.function),
    )


StaffDep = Annotated[Staff, Depends(_staff)]


@router.post("", status_code=201, summary="Send a referral to the counterpart function")
async def send(body: SendReferral, request: Request, by: StaffDep) -> ReferralView:
    try:
        referral = await service.send(
            _node(request),
            by,
            need=body.need,
            child=body.child,
            reason=body.reason,
            consent=body.consent,
        )
    except directory_view.NoRoute as exc:
        raise Problem(422, "No counterpart", str(exc)) from None
    except NotAllowed as exc:
        raise Problem(403, "Not allowed", str(exc)) from None
    return ReferralView.of(referral)


@router.get("", summary="The caller's function's inbox or sent referrals")
async def list_referrals(
    request: Request,
    by: StaffDep,
    box: Literal["inbox", "sent"] = "inbox",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReferralView]:
    direction = Direction.INCOMING if box == "inbox" else Direction.OUTGOING
    async with _node(request).pool.acquire() as conn:
        found = await store.list_for(conn, by.function, direction, limit)
    return [ReferralView.of(r) for r in found]


@router.get("/{referral_id}", summary="One referral addressed to or sent by the caller's function")
async def get(referral_id: UUID, request: Request, by: StaffDep) -> ReferralView:
    try:
        return ReferralView.of(await service.get(_node(request), referral_id, by))
    except service.NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None


@router.post("/{referral_id}/accept", summary="Accept a referral (the clinical decision)")
async def accept(referral_id: UUID, request: Request, by: StaffDep) -> ReferralView:
    return await _decide(service.accept(_node(request), referral_id, by))


@router.post("/{referral_id}/reject", summary="Decline a referral, with a reason")
async def reject(
    referral_id: UUID, body: RejectReferral, request: Request, by: StaffDep
) -> ReferralView:
    return await _decide(
        service.reject(
            _node(request), referral_id, by, code=body.reason_code, text=body.reason_text
        )
    )


async def _decide(decision: object) -> ReferralView:
    try:
        referral = await decision  # type: ignore[misc]
    except service.NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except NotAllowed as exc:
        raise Problem(403, "Not allowed", str(exc)) from None
    except IllegalTransition as exc:
        raise Problem(409, "Conflict", str(exc)) from None
    return ReferralView.of(referral)
