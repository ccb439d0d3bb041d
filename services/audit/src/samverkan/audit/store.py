"""SQL for the audit log: append under a lock, read in order."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import asyncpg

from samverkan.audit.chain import GENESIS, Entry, chain

_APPEND_LOCK = 0x5A4D_A0D1  # one appender at a time keeps seq and the chain gapless


async def append(conn: asyncpg.Connection, entry: Entry) -> Entry:
    """Append `entry` (its seq is assigned here) inside the caller's transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _APPEND_LOCK)
    last = await conn.fetchrow("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    entry = dataclasses.replace(entry, seq=last["seq"] + 1 if last else 0)
    prev = bytes(last["entry_hash"]) if last else GENESIS
    leaf = entry.leaf_hash()
    await conn.execute(
        """INSERT INTO audit_log (seq, event_id, topic, kafka_partition, kafka_offset, type,
               source, source_principal, recipient_principal, subject, legal_basis, event_time,
               recorded_at, personnummer_pseudonym, headers, payload, leaf_hash, entry_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                   $18)""",
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
        chain(prev, leaf),
    )
    return entry


async def rows(conn: asyncpg.Connection, batch: int = 5000) -> AsyncIterator[asyncpg.Record]:
    async with conn.transaction():
        async for row in conn.cursor("SELECT * FROM audit_log ORDER BY seq", prefetch=batch):
            yield row


async def find(
    conn: asyncpg.Connection, *, subject: str | None, pseudonym: str | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT seq, event_id, topic, type, source_principal, recipient_principal, subject,
                  legal_basis, event_time, recorded_at
           FROM audit_log
           WHERE ($1::text IS NULL OR subject = $1)
             AND ($2::text IS NULL OR personnummer_pseudonym = $2)
           ORDER BY seq LIMIT $3""",
        subject,
        pseudonym,
        limit,
    )
