"""Auditor HTTP API: find entries and verify the chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from samverkan.audit import service, store
from samverkan.audit.chain import pseudonym
from samverkan.contracts.values import Personnummer
from samverkan.runtime.auth import Caller, Role, require
from samverkan.runtime.node import Node

router = APIRouter(prefix="/audit", tags=["audit"])
AuditorDep = Annotated[Caller, Depends(require(Role.AUDITOR))]


def _node(request: Request) -> Node:
    return request.app.state.node


@router.get("/entries", summary="Entries about a referral (subject) or a child (personnummer)")
async def entries(
    request: Request,
    caller: AuditorDep,
    subject: str | None = None,
    personnummer: Personnummer | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    key = request.app.state.pseudonym_key
    async with _node(request).pool.acquire() as conn:
        found = await store.find(
            conn,
            subject=subject,
            pseudonym=pseudonym(key, personnummer) if personnummer else None,
            limit=limit,
        )
    return [dict(row) for row in found]


@router.get("/verify", summary="Recompute the whole chain and report the first mismatch")
async def verify(request: Request, caller: AuditorDep) -> dict[str, Any]:
    async with _node(request).pool.acquire() as conn:
        result = await service.verify(conn)
    return {
        "ok": result.ok,
        "entries": result.entries,
        "head": result.head.hex(),
        "first_bad_seq": result.first_bad_seq,
        "problem": result.problem,
    }
