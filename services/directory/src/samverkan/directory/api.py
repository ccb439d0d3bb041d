"""Directory HTTP API: admin import, and the routing question staff and services ask."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from samverkan.contracts.referral import FunctionRef, Need
from samverkan.directory import service
from samverkan.directory.domain import DirectoryDocument
from samverkan.runtime import directory_view
from samverkan.runtime.auth import Caller, Role, require
from samverkan.runtime.node import Node
from samverkan.runtime.problems import Problem

router = APIRouter(tags=["directory"])


def _node(request: Request) -> Node:
    return request.app.state.node


@router.put("/admin/directory", summary="Import this principal's directory document")
async def import_directory(
    document: DirectoryDocument,
    request: Request,
    caller: Annotated[Caller, Depends(require(Role.ADMIN))],
) -> dict[str, int]:
    try:
        published = await service.import_document(_node(request), document)
    except service.ForeignDocument as exc:
        raise Problem(422, "Wrong principal", str(exc)) from None
    return {"published": published}


@router.get("/routing", summary="Who is the counterpart of a function for a need, on a day?")
async def routing(
    request: Request,
    caller: Annotated[Caller, Depends(require(Role.STAFF))],
    principal: str,
    function: str,
    need: Need,
    on: Annotated[date | None, Query(description="defaults to today")] = None,
) -> dict[str, Any]:
    of = FunctionRef(principal=principal, function=function)
    async with _node(request).pool.acquire() as conn:
        try:
            found = await directory_view.counterpart(conn, of, need, on or date.today())
        except directory_view.NoRoute as exc:
            raise Problem(404, "No counterpart", str(exc)) from None
    return {
        "principal": found.principal,
        "function": found.function,
        "name": found.name,
        "unit_name": found.unit_name,
    }
