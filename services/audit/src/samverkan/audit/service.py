"""Audit use cases: record an event, verify the whole chain."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiokafka import ConsumerRecord

from samverkan.audit import store
from samverkan.audit.chain import GENESIS, Entry, chain, pseudonym
from samverkan.contracts import CloudEvent
from samverkan.runtime.db import UnitOfWork


async def record(tx: UnitOfWork, key: bytes, event: CloudEvent, kafka: ConsumerRecord) -> None:
    child = getattr(event.data, "child", None)
    await store.append(
        tx.conn,
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
            personnummer_pseudonym=pseudonym(key, child.personnummer) if child else None,
            headers=[[k, v.decode(errors="replace")] for k, v in kafka.headers],
            payload=kafka.value or b"",
        ),
    )


@dataclass(frozen=True)
class Verification:
    entries: int
    head: bytes
    first_bad_seq: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


async def verify(conn: asyncpg.Connection) -> Verification:
    """Recompute every leaf and link from the stored rows; name the first entry that does not match."""
    prev, count = GENESIS, 0
    async with contextlib.aclosing(store.rows(conn)) as rows:
        async for row in rows:
            problem = _check(row, count, prev)
            if problem:
                return Verification(count, prev, count, problem)
            prev, count = bytes(row["entry_hash"]), count + 1
    return Verification(count, prev, None, None)


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
