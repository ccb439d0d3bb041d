"""Directory HTTP API: the admin's import, export, republish and keys; the routing question."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from samverkan.contracts.directory import KeyRevocationReason
from samverkan.contracts.referral import FunctionRef, Need
from samverkan.contracts.values import Slug
from samverkan.directory import mcsd, service
from samverkan.directory.domain import DirectoryDocument
from samverkan.directory.keys import KeyProblem
from samverkan.runtime import directory_view
from samverkan.runtime.auth import Caller, Role, require
from samverkan.runtime.problems import Problem

router = APIRouter(tags=["directory"])
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]


def _directory(request: Request) -> service.Directory:
    return request.app.state.directory


@router.put("/admin/directory", summary="Import this principal's directory document")
async def import_directory(
    document: DirectoryDocument, request: Request, caller: Admin
) -> dict[str, Any]:
    """Publishes what is new or changed and retires what the document no longer holds."""
    try:
        result = await service.import_document(_directory(request), document)
    except service.ForeignDocument as exc:
        raise Problem(422, "Wrong principal", str(exc)) from None
    return {
        "published": result.published,
        "retired": result.retired,
        "key_problem": result.key_problem,
    }


@router.get("/admin/directory", summary="Export this principal's directory document")
async def export_directory(
    request: Request,
    caller: Admin,
    format: Annotated[str, Query(pattern="^(native|mcsd)$")] = "native",
) -> Any:
    """`native` is the document import takes; `mcsd` is an IHE mCSD (FHIR R4) Bundle."""
    async with request.app.state.node.pool.acquire() as conn:
        try:
            document = await service.export_document(conn)
        except LookupError as exc:
            raise Problem(404, "Nothing imported", str(exc)) from None
    if format == "mcsd":
        return mcsd.bundle(document, date.today())
    return document


@router.post("/admin/directory/republish", summary="Publish every own entry again")
async def republish(request: Request, caller: Admin) -> dict[str, int]:
    """For a node that joins after the directory topic's retention, or rebuilds its read model."""
    return {"published": await service.republish(_directory(request))}


@router.get("/admin/directory/proposals", summary="Contacts other principals propose to us")
async def proposals(request: Request, caller: Admin) -> list[dict[str, Any]]:
    """Confirm one by adding the mirrored contact to this principal's document."""
    async with request.app.state.node.pool.acquire() as conn:
        return await service.proposals(conn, caller.principal)


class Revocation(BaseModel):
    reason: KeyRevocationReason
    compromised_since: datetime | None = None


@router.post("/admin/directory/keys/{key_id}/revoke", summary="Revoke one of our signing keys")
async def revoke_key(
    key_id: str, revocation: Revocation, request: Request, caller: Admin
) -> dict[str, Any]:
    try:
        event = await service.revoke_key(
            _directory(request), key_id, revocation.reason, revocation.compromised_since
        )
    except KeyProblem as exc:
        raise Problem(422, "Cannot revoke", str(exc)) from None
    return event.model_dump(mode="json")


@router.get("/routing", summary="Who is the counterpart of a function for a need, on a day?")
async def routing(
    request: Request,
    caller: Annotated[Caller, Depends(require(Role.STAFF))],
    principal: Slug,
    function: Slug,
    need: Need,
    on: Annotated[date | None, Query(description="defaults to today")] = None,
) -> dict[str, Any]:
    of = FunctionRef(principal=principal, function=function)
    async with request.app.state.node.pool.acquire() as conn:
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
