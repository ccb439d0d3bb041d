"""SQL for the audit log, its checkpoints and what this node witnessed of others' logs."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from samverkan.audit.chain import GENESIS, Entry, chain

_APPEND_LOCK = 0x5A4D_A0D1  # one appender at a time keeps seq and the chain gapless
_CHECKPOINT_LOCK = 0x5A4D_A0D2  # one checkpointer at a time, whatever the replicas


async def append(conn: asyncpg.Connection, entry: Entry) -> Entry:
    """Append `entry` (its seq is assigned here) inside the caller's transaction."""
    return (await append_many(conn, [entry]))[0]


async def append_many(conn: asyncpg.Connection, entries: Sequence[Entry]) -> list[Entry]:
    """Append `entries` in order, with one lock, one read of the head and one round of inserts."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _APPEND_LOCK)
    last = await conn.fetchrow("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    seq = last["seq"] + 1 if last else 0
    prev = bytes(last["entry_hash"]) if last else GENESIS
    appended, rows = [], []
    for entry in entries:
        entry = dataclasses.replace(entry, seq=seq)
        leaf = entry.leaf_hash()
        prev = chain(prev, leaf)
        appended.append(entry)
        rows.append(_row(entry, leaf, prev))
        seq += 1
    await conn.executemany(
        """INSERT INTO audit_log (seq, event_id, topic, kafka_partition, kafka_offset, type,
               source, source_principal, recipient_principal, subject, legal_basis, event_time,
               recorded_at, personnummer_pseudonym, headers, payload, leaf_hash, entry_hash,
               payload_sha256, actor)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                   $18, $19, $20)""",
        rows,
    )
    return appended


def _row(entry: Entry, leaf: bytes, link: bytes) -> tuple[object, ...]:
    return (
        entry.seq,
        entry.event_id,
        entry.topic,
        entry.partition,
        entry.offset,
        entry.type,
        entry.source,
        entry.source_principal,
        entry.recipient_principal,
        entry.subject,
        entry.legal_basis,
        entry.event_time,
        entry.recorded_at,
        entry.personnummer_pseudonym,
        entry.headers,
        entry.payload,
        leaf,
        link,
        entry.payload_sha256,
        entry.actor,
    )


async def rows(conn: asyncpg.Connection, batch: int = 5000) -> AsyncIterator[asyncpg.Record]:
    async with conn.transaction():
        async for row in conn.cursor("SELECT * FROM audit_log ORDER BY seq", prefetch=batch):
            yield row


async def size(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT coalesce(max(seq) + 1, 0) FROM audit_log")


async def leaf_hashes(
    conn: asyncpg.Connection, size: int | None = None, *, start: int = 0
) -> list[bytes]:
    """The stored leaf hashes in order from entry `start` (up to entry `size`, exclusive)."""
    found = await conn.fetch(
        "SELECT leaf_hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
        start,
        None if size is None else max(size - start, 0),
    )
    return [bytes(r["leaf_hash"]) for r in found]


async def entries_at(conn: asyncpg.Connection, seqs: Sequence[int]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM audit_log WHERE seq = ANY($1) ORDER BY seq", list(seqs))


async def has_news(conn: asyncpg.Connection, since: int, quiet_types: Sequence[str]) -> bool:
    """Whether an entry from `since` on is of a type other than `quiet_types`."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM audit_log WHERE seq >= $1 AND type <> ALL($2))",
            since,
            list(quiet_types),
        )
    )


@dataclass(frozen=True)
class Filters:
    """What an auditor searches for; every search is limited to this principal's own flows."""

    subject: str | None = None
    pseudonym: str | None = None
    actor: str | None = None
    type: str | None = None
    source: str | None = None
    recipient: str | None = None
    since: datetime | None = None
    until: datetime | None = None


_COLUMNS = """seq, event_id, topic, type, source_principal, recipient_principal, subject, actor,
    legal_basis, event_time, recorded_at"""


async def find(
    conn: asyncpg.Connection, principal: str, filters: Filters, limit: int, *, full: bool = False
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {"*" if full else _COLUMNS}
           FROM audit_log
           WHERE (source_principal = $1 OR recipient_principal = $1)
             AND ($2::text IS NULL OR subject = $2)
             AND ($3::text IS NULL OR personnummer_pseudonym = $3)
             AND ($4::text IS NULL OR actor = $4)
             AND ($5::text IS NULL OR type = $5)
             AND ($6::text IS NULL OR source_principal = $6)
             AND ($7::text IS NULL OR recipient_principal = $7)
             AND ($8::timestamptz IS NULL OR event_time >= $8)
             AND ($9::timestamptz IS NULL OR event_time < $9)
           ORDER BY seq LIMIT $10""",
        principal,
        filters.subject,
        filters.pseudonym,
        filters.actor,
        filters.type,
        filters.source,
        filters.recipient,
        filters.since,
        filters.until,
        limit,
    )


async def lock_checkpoints(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _CHECKPOINT_LOCK)


async def latest_checkpoint(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1")


async def checkpoint(conn: asyncpg.Connection, size: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM audit_checkpoints WHERE tree_size = $1", size)


async def add_checkpoint(
    conn: asyncpg.Connection,
    size: int,
    root: bytes,
    note: str,
    signed_at: datetime,
    compact_range: Sequence[bytes],
) -> None:
    await conn.execute(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, note, signed_at, compact_range)"
        " VALUES ($1, $2, $3, $4, $5)",
        size,
        root,
        note,
        signed_at,
        list(compact_range),
    )


async def latest_witnessed_checkpoint(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """This log's latest checkpoint that another principal has cosigned: the final one."""
    return await conn.fetchrow(
        """SELECT c.* FROM audit_checkpoints c
           WHERE EXISTS (SELECT 1 FROM audit_cosignatures s WHERE s.tree_size = c.tree_size)
           ORDER BY c.tree_size DESC LIMIT 1"""
    )


async def witnessed_checkpoints(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT c.* FROM audit_checkpoints c
           WHERE EXISTS (SELECT 1 FROM audit_cosignatures s WHERE s.tree_size = c.tree_size)
           ORDER BY c.tree_size"""
    )


async def add_cosignature(
    conn: asyncpg.Connection, size: int, witness: str, line: str, witnessed_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO audit_cosignatures (tree_size, witness, line, witnessed_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        size,
        witness,
        line,
        witnessed_at,
    )


async def cosignature_lines(conn: asyncpg.Connection, size: int) -> list[str]:
    found = await conn.fetch(
        "SELECT line FROM audit_cosignatures WHERE tree_size = $1 ORDER BY witness", size
    )
    return [r["line"] for r in found]


async def last_witnessed(conn: asyncpg.Connection, principal: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM audit_witnessed WHERE principal = $1 ORDER BY id DESC LIMIT 1", principal
    )


async def add_witnessed(
    conn: asyncpg.Connection, principal: str, origin: str, size: int, root: bytes, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO audit_witnessed (principal, origin, tree_size, root_hash, witnessed_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        principal,
        origin,
        size,
        root,
        at,
    )
