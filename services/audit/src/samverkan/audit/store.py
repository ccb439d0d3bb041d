"""SQL for the audit log, its checkpoints and what this node witnessed of others' logs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from samverkan.audit import merkle
from samverkan.audit.chain import GENESIS, Entry, chain

log = logging.getLogger(__name__)

_APPEND_LOCK = 0x5A4D_A0D1  # one appender at a time keeps seq and the chain gapless
_CHECKPOINT_LOCK = 0x5A4D_A0D2  # one checkpointer at a time, whatever the replicas


COLUMNS = [  # what an append writes, in the order of `row`
    "seq", "event_id", "topic", "kafka_partition", "kafka_offset", "type", "source",
    "source_principal", "recipient_principal", "subject", "legal_basis", "event_time",
    "recorded_at", "personnummer_pseudonym", "headers", "payload", "leaf_hash", "entry_hash",
    "payload_sha256", "actor", "leaf",
]  # fmt: skip


async def append(conn: asyncpg.Connection, entry: Entry) -> None:
    """Append `entry` (its seq is assigned here) inside the caller's transaction."""
    await append_many(conn, [entry])


async def append_many(conn: asyncpg.Connection, entries: Sequence[Entry]) -> None:
    """Append `entries` in order, with one lock, one read of the head and one round of inserts.
    Each is written at the next seq, whatever seq it holds."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _APPEND_LOCK)
    last = await conn.fetchrow("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    seq = last["seq"] + 1 if last else 0
    prev = bytes(last["entry_hash"]) if last else GENESIS
    rows = []
    for entry in entries:
        data = entry.leaf_bytes(seq)
        leaf = merkle.leaf_hash(data)
        prev = chain(prev, leaf)
        rows.append(row(seq, entry, leaf, prev, data))
        seq += 1
    # COPY: measured on batches of 500 entries (~3 KB rows), 1.4-2x as fast as executemany.
    await conn.copy_records_to_table("audit_log", records=rows, columns=COLUMNS)


def row(seq: int, entry: Entry, leaf: bytes, link: bytes, data: bytes) -> tuple[object, ...]:
    """The values of `COLUMNS` for `entry` at `seq`, its leaf hash, its link and its leaf's bytes."""
    return (
        seq,
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
        data,
    )


Page = tuple[list[asyncpg.Record], list[asyncpg.Record]]
_SEQ_MIN = -(2**63)  # from the very first row, even one that should not be there


async def chain_pages(
    conn: asyncpg.Connection, page: int = 1000, *, rebuild_all: bool = False
) -> AsyncIterator[Page]:
    """Every entry's seq, stored leaf (None before migration 0004) and hashes, in order, a page at
    a time, each with the full rows of its entries to rebuild: those with no stored leaf, or all.

    One snapshot throughout. The next page is read while the caller works on this one."""

    async def fetch(start: int) -> Page:
        found = await statement.fetch(start, page)
        rebuild = [seq for seq, leaf, *_ in found if rebuild_all or leaf is None]
        return found, await entries_at(conn, rebuild) if rebuild else []

    async with conn.transaction(isolation="repeatable_read", readonly=True):
        # Pages by key, not through a cursor: each page is then an index range scan that the
        # server streams whole, while the caller hashes the page before it.
        statement = await conn.prepare(
            "SELECT seq, leaf, leaf_hash, entry_hash FROM audit_log WHERE seq >= $1"
            " ORDER BY seq LIMIT $2"
        )
        ahead = asyncio.ensure_future(fetch(_SEQ_MIN))
        try:
            while (current := await ahead)[0]:
                ahead = asyncio.ensure_future(fetch(current[0][-1]["seq"] + 1))
                await asyncio.sleep(0)  # let it ask for the next page before the caller works
                yield current
        finally:
            # The connection is free again only once the page read ahead has arrived.
            with contextlib.suppress(Exception):
                await ahead


# The check of migration 0004, word for word: it binds each entry's columns to its stored leaf.
LEAF_CHECK = """
    leaf IS NULL OR convert_from(leaf, 'UTF8')::jsonb = jsonb_build_object(
        'seq', seq, 'event_id', event_id, 'topic', topic, 'partition', kafka_partition,
        'offset', kafka_offset, 'type', type, 'source', source,
        'source_principal', source_principal, 'recipient_principal', recipient_principal,
        'subject', subject, 'legal_basis', legal_basis,
        'event_time', to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
        'recorded_at', to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
        'personnummer_pseudonym', personnummer_pseudonym, 'headers', headers,
        'payload', encode(payload, 'hex')
    ) || jsonb_strip_nulls(jsonb_build_object(
        'payload_sha256', encode(payload_sha256, 'hex'), 'actor', actor
    ))
"""
_LEAF_CHECK_NAME = "audit_log_leaf_matches"


async def leaf_check_holds(conn: asyncpg.Connection) -> bool:
    """Whether audit_log has the leaf check, validated, with exactly LEAF_CHECK's expression.

    The expression is compared as Postgres itself prints it, against the same expression added to
    a throw-away copy of the table, so the comparison holds whatever the server's version."""
    found = await conn.fetchrow(
        """SELECT convalidated, pg_get_constraintdef(oid) AS definition FROM pg_constraint
           WHERE conrelid = 'audit_log'::regclass AND conname = $1""",
        _LEAF_CHECK_NAME,
    )
    if found is None or not found["convalidated"]:
        return False
    probe = conn.transaction()
    await probe.start()
    try:
        await conn.execute("CREATE TEMPORARY TABLE leaf_check_probe (LIKE audit_log)")
        await conn.execute(
            f"ALTER TABLE leaf_check_probe ADD CONSTRAINT probe CHECK ({LEAF_CHECK})"
        )
        expected = await conn.fetchval(
            """SELECT pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid = 'leaf_check_probe'::regclass AND conname = 'probe'"""
        )
    except asyncpg.InsufficientPrivilegeError as exc:
        log.warning("cannot compare the leaf check (no TEMPORARY right?): %s", exc)
        return False
    finally:
        await probe.rollback()  # the probe table goes with it
    return bool(found["definition"] == expected)


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
