"""Auditor use cases: search and export this principal's own flows, each access itself logged."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

from samverkan.audit import checkpoints, merkle, service, store
from samverkan.audit.chain import Entry, pseudonym
from samverkan.audit.context import AuditContext
from samverkan.audit.exports import Export, Item, render
from samverkan.audit.note import vkey
from samverkan.contracts.audit import AccessAction
from samverkan.runtime.auth import Caller
from samverkan.runtime.db import UnitOfWork


class NotSigned(Exception):
    """This node has no signing key, so nothing it exports can be verified."""


def _criteria(filters: store.Filters) -> dict[str, Any]:
    return {k: str(v) for k, v in dataclasses.asdict(filters).items() if v is not None}


def with_personnummer(
    ctx: AuditContext, filters: store.Filters, personnummer: str | None
) -> store.Filters:
    if personnummer is None:
        return filters
    return dataclasses.replace(filters, pseudonym=pseudonym(ctx.pseudonym_key, personnummer))


async def search(
    tx: UnitOfWork, ctx: AuditContext, caller: Caller, filters: store.Filters, limit: int
) -> list[asyncpg.Record]:
    found = await store.find(tx.conn, ctx.principal, filters, limit)
    await service.log_access(
        tx,
        ctx,
        person=caller.person,
        function=caller.function,
        action=AccessAction.READ,
        query=json.dumps(_criteria(filters), sort_keys=True),
        pseudonym=filters.pseudonym,
    )
    return found


async def export(
    tx: UnitOfWork, ctx: AuditContext, caller: Caller, filters: store.Filters, limit: int, fmt: str
) -> str:
    """The matching entries with a fresh signed checkpoint and their inclusion proofs."""
    if ctx.signer is None:
        raise NotSigned("this node has no signing key: exports could not be verified")
    criteria = _criteria(filters)
    await service.log_access(
        tx,
        ctx,
        person=caller.person,
        function=caller.function,
        action=AccessAction.EXPORT,
        query=json.dumps({**criteria, "format": fmt}, sort_keys=True),
        pseudonym=filters.pseudonym,
    )
    size = await checkpoints.make(tx, ctx, force=True)
    assert size is not None
    note = await checkpoints.signed_note(tx.conn, size)
    assert note is not None
    leaves = await store.leaf_hashes(tx.conn, size)
    rows = await store.find(tx.conn, ctx.principal, filters, limit, full=True)
    items = [
        Item(r["seq"], Entry.from_row(r).leaf_fields(), merkle.inclusion_proof(r["seq"], leaves))
        for r in rows
        if r["seq"] < size
    ]
    result = Export(
        principal=ctx.principal,
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        exported_by=caller.person,
        query=criteria,
        log_key=vkey(ctx.origin, ctx.signer.public_key),
        checkpoint=note,
        items=items,
    )
    return render(result, fmt, ctx.signer)
