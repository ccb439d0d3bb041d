"""Audit use cases: record an event (and react to checkpoints), log an auditor's access, verify."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
from aiokafka import ConsumerRecord

from samverkan.audit import checkpoints, merkle, store, witnessing
from samverkan.audit.chain import GENESIS, Entry, chain, pseudonym
from samverkan.audit.context import AuditContext
from samverkan.contracts import CloudEvent, Event, topics
from samverkan.contracts.audit import (
    AccessAction,
    AccessLogged,
    CheckpointSigned,
    CheckpointWitnessed,
)
from samverkan.contracts.parties import FunctionRef
from samverkan.runtime import directory_view
from samverkan.runtime.consumer import is_transient
from samverkan.runtime.db import UnitOfWork

log = logging.getLogger(__name__)

_PENDING = "audit.pending"  # in a transaction's memo: the entries it appends when it commits


async def record(
    tx: UnitOfWork, ctx: AuditContext, event: CloudEvent, kafka: ConsumerRecord
) -> None:
    """Append the event; keep its payload and index its child only if it is this principal's own."""
    value = kafka.value or b""
    own = ctx.principal in (event.sourceprincipal, event.recipientprincipal)
    child = getattr(event.data, "child", None)
    _append_at_commit(
        tx,
        Entry(
            seq=-1,
            event_id=event.id,
            topic=kafka.topic,
            partition=kafka.partition,
            offset=kafka.offset,
            type=event.type,
            source=event.source,
            source_principal=event.sourceprincipal,
            recipient_principal=event.recipientprincipal,
            subject=event.subject,
            legal_basis=event.legalbasis.value,
            event_time=event.time,
            recorded_at=datetime.now(UTC),
            personnummer_pseudonym=pseudonym(ctx.pseudonym_key, child.personnummer)
            if child and own
            else None,
            headers=[[k, v.decode(errors="replace")] for k, v in kafka.headers],
            payload=value if own else None,
            payload_sha256=hashlib.sha256(value).digest(),
            actor=actor_of(event.data) if own else None,
        ),
    )
    await _react(tx, ctx, event)


def _append_at_commit(tx: UnitOfWork, entry: Entry) -> None:
    """Gather the transaction's entries and append them together just before it commits: one
    lock, one read of the head and one round of inserts for a whole batch of events."""
    pending: list[Entry] | None = tx.memo.get(_PENDING)
    if pending is None:
        pending = tx.memo[_PENDING] = []
        gathered = pending

        async def append() -> None:
            await store.append_many(tx.conn, gathered)

        tx.before_commit(append)
    pending.append(entry)


def actor_of(data: Event) -> str | None:
    """The person who acted, from the payload's `…_by` field holding a person id."""
    for name, value in data:
        if name.endswith("_by") and type(value) is str:
            return value
    return None


async def _react(tx: UnitOfWork, ctx: AuditContext, event: CloudEvent) -> None:
    """Witnessing and the key directory: their failure must never cost the entry (a savepoint
    guards it, or in a batch the consumer's retry of each event alone)."""
    data = event.data
    act: Callable[[UnitOfWork, AuditContext, CloudEvent], Awaitable[object]]
    if isinstance(data, CheckpointSigned):
        act = witnessing.witness
    elif isinstance(data, CheckpointWitnessed) and data.principal == ctx.principal:
        act = checkpoints.receive_cosignature
    elif isinstance(data, directory_view.DIRECTORY_EVENTS):
        act = _apply_directory
    else:
        return
    if tx.applies_together:
        # Should it fail, the consumer records each event of the batch again alone, in the
        # savepoint below; here a savepoint would add two round trips to every such event.
        await act(tx, ctx, event)
        return
    try:
        async with tx.conn.transaction():
            await act(tx, ctx, event)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning("recorded %s, but could not act on it: %s", event.type, exc)


async def _apply_directory(tx: UnitOfWork, ctx: AuditContext, event: CloudEvent) -> None:
    await directory_view.apply(tx, event)


async def log_access(
    tx: UnitOfWork,
    ctx: AuditContext,
    *,
    person: str,
    function: str | None,
    action: AccessAction,
    query: str,
    pseudonym: str | None = None,
) -> None:
    """Append an auditor's search or export to the log itself, in the transaction that serves it."""
    access = AccessLogged(
        access_id=uuid4(),
        accessed_by=person,
        function=FunctionRef(principal=ctx.principal, function=function or "auditor"),
        action=action,
        resource_type="audit-trail",
        resource_id=uuid4(),
        accessed_at=datetime.now(UTC),
        query=query,
    )
    event = ctx.wrap(access, recipient=ctx.principal)
    value = event.value()
    await store.append(
        tx.conn,
        Entry(
            seq=-1,
            event_id=event.id,
            topic=topics.AUDIT,
            partition=-1,  # written here, not read from Kafka
            offset=-1,
            type=event.type,
            source=event.source,
            source_principal=ctx.principal,
            recipient_principal=ctx.principal,
            subject=event.subject,
            legal_basis=event.legalbasis.value,
            event_time=event.time,
            recorded_at=access.accessed_at,
            personnummer_pseudonym=pseudonym,
            headers=[[k, v.decode()] for k, v in event.headers()],
            payload=value,
            payload_sha256=hashlib.sha256(value).digest(),
            actor=person,
        ),
    )


@dataclass(frozen=True)
class Verification:
    entries: int
    head: bytes
    first_bad_seq: int | None
    problem: str | None
    checkpoint: int | None = None  # size of the latest witnessed checkpoint compared with

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


async def verify(conn: asyncpg.Connection) -> Verification:
    """Recompute every leaf and link from the stored rows, then the Merkle root at each witnessed
    checkpoint; name the first entry that does not match."""
    prev, leaves = GENESIS, []
    async with contextlib.aclosing(store.rows(conn)) as rows:
        async for row in rows:
            count = len(leaves)
            problem = _check(row, count, prev)
            if problem:
                return Verification(count, prev, count, problem)
            prev = bytes(row["entry_hash"])
            leaves.append(bytes(row["leaf_hash"]))
    count = len(leaves)
    witnessed = await store.witnessed_checkpoints(conn)
    if not witnessed:
        return Verification(count, prev, None, None)
    latest = witnessed[-1]["tree_size"]
    good = 0
    for row in witnessed:
        size = row["tree_size"]
        if size > count:
            return Verification(
                count,
                prev,
                count,
                f"entries {count}–{size - 1} are missing: witnessed size is {size}",
                latest,
            )
        if merkle.root(leaves[:size]) != bytes(row["root_hash"]):
            return Verification(
                count,
                prev,
                good,
                f"entries {good}–{size - 1} differ from the witnessed checkpoint of size {size}",
                latest,
            )
        good = size
    return Verification(count, prev, None, None, latest)


def _check(row: asyncpg.Record, expected_seq: int, prev: bytes) -> str | None:
    seq = row["seq"]
    if seq != expected_seq:
        return f"expected entry {expected_seq}, found {seq}: entry {expected_seq} is missing"
    leaf = Entry.from_row(row).leaf_hash()
    if leaf != bytes(row["leaf_hash"]):
        return f"entry {seq} differs from what was recorded"
    if chain(prev, leaf) != bytes(row["entry_hash"]):
        return f"entry {seq} does not link to the entry before it"
    return None
