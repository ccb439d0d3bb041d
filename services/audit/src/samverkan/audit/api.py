"""Auditor HTTP API: search, export, proofs, checkpoints and verify, for this principal's auditors."""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from samverkan.audit import checkpoints, merkle, queries, service, store
from samverkan.audit.context import AuditContext
from samverkan.contracts.values import Personnummer, Slug
from samverkan.runtime.auth import Caller, Role, require
from samverkan.runtime.node import Node
from samverkan.runtime.problems import Problem

log = logging.getLogger(__name__)
router = APIRouter(prefix="/audit", tags=["audit"])
AuditorDep = Annotated[Caller, Depends(require(Role.AUDITOR))]
# An index or size of the Merkle tree: what Postgres can count (a bigint), never negative.
TreePosition = Annotated[int, Query(ge=0, le=2**63 - 1)]


def _node(request: Request) -> Node:
    return request.app.state.node


def _ctx(request: Request) -> AuditContext:
    return request.app.state.audit


# Bounded so that the logged criteria of one search always fit its access-log entry.
Criterion = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Criteria(BaseModel):
    """Search criteria that may travel in a URL; all given must match. Only flows this
    principal sent or received."""

    subject: Criterion | None = Field(
        default=None, description="A referral (or other aggregate) id."
    )
    actor: Criterion | None = Field(default=None, description="A staff member's HSA id.")
    type: Criterion | None = Field(default=None, description="A CloudEvents type.")
    source: Slug | None = Field(default=None, description="The sending principal.")
    recipient: Slug | None = Field(default=None, description="The receiving principal.")
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=200, ge=1, le=10000)


class Search(Criteria):
    """Criteria with a personnummer too: sent in a body, never in a URL."""

    personnummer: Personnummer | None = Field(
        default=None, description="Found through its keyed pseudonym; never stored or logged."
    )

    def filters(self, ctx: AuditContext) -> store.Filters:
        plain = store.Filters(
            subject=self.subject,
            actor=self.actor,
            type=self.type,
            source=self.source,
            recipient=self.recipient,
            since=self.since,
            until=self.until,
        )
        return queries.with_personnummer(ctx, plain, self.personnummer)


class ExportRequest(Search):
    format: Literal["json", "csv", "fhir"] = "json"


_MEDIA = {"json": "application/json", "csv": "text/csv", "fhir": "application/fhir+json"}


@router.get("/entries", summary="Entries by referral, staff id, event type, principals and time")
async def entries(
    request: Request, caller: AuditorDep, criteria: Annotated[Criteria, Query()]
) -> list[dict[str, Any]]:
    return await search(request, caller, Search(**criteria.model_dump()))


@router.post("/search", summary="Search by any criteria, personnummer included (kept out of URLs)")
async def search(request: Request, caller: AuditorDep, criteria: Search) -> list[dict[str, Any]]:
    ctx = _ctx(request)
    async with _node(request).uow() as tx:
        found = await queries.search(tx, ctx, caller, criteria.filters(ctx), criteria.limit)
    return [dict(row) for row in found]


@router.post(
    "/export", summary="Export as JSON, CSV or a FHIR AuditEvent bundle, verifiable offline"
)
async def export(request: Request, caller: AuditorDep, criteria: ExportRequest) -> Response:
    ctx = _ctx(request)
    try:
        async with _node(request).uow() as tx:
            text = await queries.export(
                tx, ctx, caller, criteria.filters(ctx), criteria.limit, criteria.format
            )
    except queries.NotSigned as exc:
        raise Problem(409, "Not signed", str(exc)) from None
    name = f"audit-{ctx.principal}.{'json' if criteria.format == 'fhir' else criteria.format}"
    return Response(
        text,
        media_type=_MEDIA[criteria.format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/verify", summary="Rehash every entry, link and witnessed root; name the first mismatch"
)
async def verify(
    request: Request,
    caller: AuditorDep,
    full: Annotated[
        bool, Query(description="rebuild every entry from its columns, not trusting the leaf check")
    ] = False,
) -> dict[str, Any]:
    async with _node(request).pool.acquire() as conn:
        result = await service.verify(conn, full=full)
    if not result.leaf_check and not full:
        log.warning(service.LEAF_CHECK_MISSING)
    return {
        "ok": result.ok,
        "entries": result.entries,
        "head": result.head.hex(),
        "first_bad_seq": result.first_bad_seq,
        "problem": result.problem,
        "witnessed_checkpoint": result.checkpoint,
        "leaf_check": result.leaf_check,
        "rebuilt": result.rebuilt,
        "columns": service.columns_checked(result),
    }


@router.get("/checkpoint", summary="The latest signed checkpoint, with its cosignatures")
async def checkpoint(request: Request, caller: AuditorDep) -> dict[str, Any]:
    ctx = _ctx(request)
    async with _node(request).pool.acquire() as conn:
        latest = await store.latest_checkpoint(conn)
        witnessed = await store.latest_witnessed_checkpoint(conn)
        note = await checkpoints.signed_note(conn, latest["tree_size"]) if latest else None
    return {
        "signing": ctx.signer is not None,
        "tree_size": latest["tree_size"] if latest else None,
        "note": note,
        "witnessed_tree_size": witnessed["tree_size"] if witnessed else None,
    }


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@router.get("/proofs/inclusion", summary="RFC 6962 inclusion proof of one entry in a tree size")
async def inclusion(
    request: Request, caller: AuditorDep, index: TreePosition, tree_size: TreePosition
) -> dict[str, Any]:
    async with _node(request).pool.acquire() as conn:
        leaves = await store.leaf_hashes(conn, tree_size)
    if not index < tree_size <= len(leaves):
        raise Problem(404, "No such proof", f"entry {index} is not in a tree of size {tree_size}")
    return {
        "index": index,
        "tree_size": tree_size,
        "leaf_hash": base64.b64encode(leaves[index]).decode(),
        "root_hash": base64.b64encode(merkle.root(leaves)).decode(),
        "proof": _b64(merkle.inclusion_proof(index, leaves)),
    }


@router.get("/proofs/consistency", summary="RFC 6962 consistency proof between two tree sizes")
async def consistency(
    request: Request, caller: AuditorDep, first: TreePosition, second: TreePosition
) -> dict[str, Any]:
    async with _node(request).pool.acquire() as conn:
        leaves = await store.leaf_hashes(conn, second)
    if not first <= second <= len(leaves):
        raise Problem(404, "No such proof", f"no tree of size {second} extends size {first}")
    return {
        "first": first,
        "second": second,
        "first_root": base64.b64encode(merkle.root(leaves[:first])).decode(),
        "second_root": base64.b64encode(merkle.root(leaves)).decode(),
        "proof": _b64(merkle.consistency_proof(first, leaves)),
    }
