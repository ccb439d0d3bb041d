"""Audit use cases: record an event (and react to checkpoints), log an auditor's access, verify."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
from aiokafka import ConsumerRecord

from samverkan.audit import checkpoints, merkle, store, witnessing
from samverkan.audit.chain import GENESIS, Entry, chain, chain_links, pseudonym
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
    entries: list[Entry] = tx.gathered(_PENDING, list, store.append_many)
    entries.append(entry)


def actor_of(data: Event) -> str | None:
    """The person who acted, from the payload's `…_by` field holding a person id."""
    for name in _by_fields(type(data)):
        value = getattr(data, name)
        if type(value) is str:
            return value
    return None


@functools.cache
def _by_fields(event_class: type[Event]) -> tuple[str, ...]:
    # Named once per class: iterating a model's fields costs ~2 µs an entry.
    return tuple(name for name in event_class.model_fields if name.endswith("_by"))


async def _react(tx: UnitOfWork, ctx: AuditContext, event: CloudEvent) -> None:
    """Witnessing and the key directory: their failure must never cost the entry (a savepoint
    guards it, or in a batch the consumer's retry in parts, down to the failing event alone)."""
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
    if act is not _apply_directory and tx.verified is not None:
        # Witnessing logs alarms (a fork, a cosignature that does not verify), which a forged
        # event must not raise: it waits for the batch's signatures. Checkpoints are rare.
        await tx.verified
    if tx.applies_together:
        # Should it fail, the consumer records the batch again in parts, and the failing event
        # alone, in the savepoint below; here a savepoint would add two round trips to every
        # such event.
        await act(tx, ctx, event)
        return
    try:
        async with tx.savepoint():
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
    leaf_check: bool = False  # the database's leaf check was in place and trusted
    rebuilt: int = 0  # entries rebuilt from their columns (all of them without the leaf check)

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


LEAF_CHECK_MISSING = (
    "audit_log's leaf check (migration 0004) is missing, not validated or altered, so every entry"
    " was rebuilt from its columns. Nobody but the schema's owner can change it: find out who did."
)


def columns_checked(result: Verification) -> str:
    """How `verify` knew that each entry's searchable columns say what its leaf says."""
    if not result.leaf_check:
        return f"every entry's columns rebuilt and rehashed ({result.rebuilt})"
    older = f"; {result.rebuilt} older entries rebuilt from their columns" if result.rebuilt else ""
    return f"columns bound to the stored leaves by the database's leaf check{older}"


async def verify(conn: asyncpg.Connection, *, full: bool = False, page: int = 1000) -> Verification:
    """Rehash every entry's leaf and link, then the Merkle root at each witnessed checkpoint; name
    the first entry that does not match.

    An entry's leaf is its stored canonical bytes while the database's leaf check binds its
    columns to them (migration 0004); an entry with no stored leaf, every entry when that check is
    missing or altered, and every entry with `full`, is rebuilt from its columns instead."""
    leaf_check = not full and await store.leaf_check_holds(conn)
    walk = _Walk(
        [(r["tree_size"], bytes(r["root_hash"])) for r in await store.witnessed_checkpoints(conn)]
    )
    pages = store.chain_pages(conn, page, rebuild_all=not leaf_check)
    async with contextlib.aclosing(pages):
        async for rows, full_rows in pages:
            rebuilt = {r["seq"]: Entry.from_row(r).leaf_bytes() for r in full_rows}
            walk.rebuilt += len(rebuilt)
            if problem := walk.page(rows, rebuilt):
                return walk.result(problem, leaf_check)
    return walk.result(walk.finish(), leaf_check)


class _Walk:
    """verify's pass over the log: the chain so far and the compact range of the leaves so far,
    compared with each witnessed checkpoint as the walk reaches its size."""

    def __init__(self, witnessed: list[tuple[int, bytes]]) -> None:
        self.witnessed = witnessed
        self.latest = witnessed[-1][0] if witnessed else None
        self.checked = 0  # how many witnessed checkpoints matched
        self.count = 0  # entries that checked out
        self.prev = GENESIS  # the last good entry's hash
        self.range: list[bytes] = []  # compact range of the good entries' leaves
        self.rebuilt = 0
        self.bad: int | None = None

    def page(self, rows: list[asyncpg.Record], rebuilt: dict[int, bytes]) -> str | None:
        """Check a page of (seq, stored leaf, leaf hash, entry hash) rows; `rebuilt` holds the
        leaves rebuilt from their columns, by seq."""
        if not rows:
            return None
        seqs, stored, leaves, links = zip(*rows, strict=True)
        data = (
            [rebuilt.get(seq, leaf) for seq, leaf in zip(seqs, stored, strict=True)]
            if rebuilt
            else stored
        )
        # All of a page at once, for speed; `_first_problem` names the entry when one is wrong.
        if (
            seqs == tuple(range(self.count, self.count + len(rows)))
            and all(stored[seq - self.count] in (None, leaf) for seq, leaf in rebuilt.items())
            and list(map(merkle.leaf_hash, data)) == list(leaves)
            and list(links) == chain_links(self.prev, leaves)
        ):
            self.prev = links[-1]
            return self._grow(list(leaves))
        return self._first_problem(rows, data)

    def _first_problem(self, rows: list[asyncpg.Record], data: Sequence[bytes]) -> str:
        leaves: list[bytes] = []
        for count, ((seq, stored, leaf, link), leaf_data) in enumerate(
            zip(rows, data, strict=True), self.count
        ):
            problem = None
            if seq != count:
                problem = f"expected entry {count}, found {seq}: entry {count} is missing"
            elif merkle.leaf_hash(leaf_data) != leaf or stored not in (None, leaf_data):
                problem = f"entry {seq} differs from what was recorded"
            elif chain(self.prev, leaf) != link:
                problem = f"entry {seq} does not link to the entry before it"
            if problem:
                return self._stop(leaves, count, problem)
            self.prev = link
            leaves.append(leaf)
        raise AssertionError("a page that does not check out has a first problem")

    def _stop(self, leaves: list[bytes], bad: int, problem: str) -> str:
        """Compare the good leaves before `bad` with the checkpoints they reach, then stop."""
        self.bad = bad
        return self._grow(leaves) or problem

    def _grow(self, leaves: list[bytes]) -> str | None:
        start = 0
        while self.checked < len(self.witnessed):
            size, root = self.witnessed[self.checked]
            if size > self.count + len(leaves) - start:
                break
            take = size - self.count
            self.range = merkle.extend(self.range, self.count, leaves[start : start + take])
            self.count, start = size, start + take
            if merkle.range_root(self.range) != root:
                good = self.witnessed[self.checked - 1][0] if self.checked else 0
                self.bad = good
                return (
                    f"entries {good}–{size - 1} differ from the witnessed checkpoint of size {size}"
                )
            self.checked += 1
        self.range = merkle.extend(self.range, self.count, leaves[start:])
        self.count += len(leaves) - start
        return None

    def finish(self) -> str | None:
        if self.checked < len(self.witnessed):
            size = self.witnessed[self.checked][0]
            self.bad = self.count
            return f"entries {self.count}–{size - 1} are missing: witnessed size is {size}"
        return None

    def result(self, problem: str | None, leaf_check: bool) -> Verification:
        return Verification(
            self.count, self.prev, self.bad, problem, self.latest, leaf_check, self.rebuilt
        )
