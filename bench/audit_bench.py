"""Audit: append and verify rates against the same inserts without the chain, and bare hashlib."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord

from bench import heap, sample
from bench.components import Components
from bench.stats import rate, ratio
from samverkan.audit import service, store
from samverkan.audit.chain import GENESIS, Entry
from samverkan.audit.context import AuditContext
from samverkan.contracts import CloudEvent
from samverkan.runtime.db import UnitOfWork, create_pool
from samverkan.runtime.migrations import RUNTIME, MigrationSource, migrate
from samverkan.runtime.settings import ServiceSettings

AUDIT = MigrationSource("audit", "samverkan.audit")
BATCH = ServiceSettings.model_fields["consumer_batch_size"].default  # events per transaction
KEY = b"bench-pseudonym-key-0123456789abcdef"


def _record(event: CloudEvent, offset: int) -> ConsumerRecord:
    value = event.value()
    return ConsumerRecord(
        topic=event.topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=event.key(),
        value=value,
        checksum=None,
        serialized_key_size=len(event.key()),
        serialized_value_size=len(value),
        headers=tuple(event.headers()),
    )


async def _ingest(pool: asyncpg.Pool, events: list[CloudEvent]) -> float:
    """The service's own use case, a batch per transaction as its consumer runs it."""
    # This principal is the events' source, so payloads are kept and children indexed, as for
    # a node's own traffic (the heavier case).
    principal = events[0].sourceprincipal
    ctx = AuditContext(
        principal=principal,
        pseudonym_key=KEY,
        wrap=lambda data, **kw: CloudEvent.wrap(data, principal=principal, service="audit", **kw),
    )
    started = time.perf_counter()
    for start in range(0, len(events), BATCH):
        async with UnitOfWork(pool) as tx:
            for offset, event in enumerate(events[start : start + BATCH], start):
                await service.record(tx, ctx, event, _record(event, offset))
    return time.perf_counter() - started


async def _insert_bare(pool: asyncpg.Pool, events: list[CloudEvent]) -> float:
    """The same rows (leaf bytes and all, made untimed) in the same transactions, by COPY as the
    service appends them, with no lock, no read of the head and no hashing."""
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE audit_bare (LIKE audit_log INCLUDING ALL)")
        # LIKE leaves out the table's storage parameters: without audit_log's toast_tuple_target
        # each ~3 KB row would be compressed, at nearly twice the server's cost per row.
        options = await conn.fetchval(
            "SELECT reloptions FROM pg_class WHERE oid = 'audit_log'::regclass"
        )
        if options:
            await conn.execute(f"ALTER TABLE audit_bare SET ({', '.join(options)})")
    now = datetime.now(UTC)
    entries = [_entry(event, seq, now) for seq, event in enumerate(events)]
    rows = [store.row(entry.seq, entry, GENESIS, GENESIS, entry.leaf_bytes()) for entry in entries]
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        async with pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "audit_bare", records=rows[start : start + BATCH], columns=store.COLUMNS
            )
    return time.perf_counter() - started


def _entry(event: CloudEvent, seq: int, now: datetime) -> Entry:
    return Entry(
        seq=seq,
        event_id=event.id,
        topic=event.topic,
        partition=0,
        offset=seq,
        type=event.type,
        source=event.source,
        source_principal=event.sourceprincipal,
        recipient_principal=event.recipientprincipal,
        subject=event.subject,
        legal_basis=event.legalbasis.value,
        event_time=event.time,
        recorded_at=now,
        personnummer_pseudonym=None,
        headers=[[k, v.decode()] for k, v in event.headers()],
        payload=event.value(),
    )


async def _extend(conn: asyncpg.Connection, upto: int) -> None:
    """Grow the trail to `upto` entries, correctly chained, in bulk (only verify is timed here)."""
    seq = await store.size(conn)
    template = sample.referral_sent()
    now = datetime.now(UTC)
    while seq < upto:
        entries = []
        for _ in range(min(5000, upto - seq)):
            event = template.model_copy(update={"id": sample.referral_sent().id})
            entries.append(_entry(event, seq, now))
            seq += 1
        async with conn.transaction():
            await store.append_many(conn, entries)


async def _verify(conn: asyncpg.Connection) -> tuple[float, int]:
    started = time.perf_counter()
    result = await service.verify(conn)
    assert result.ok, result.problem
    return time.perf_counter() - started, result.entries


async def _read_only(conn: asyncpg.Connection) -> float:
    """Reading what verify reads, and nothing else."""
    started = time.perf_counter()
    async for _ in store.chain_pages(conn):
        pass
    return time.perf_counter() - started


async def _hash_only(conn: asyncpg.Connection) -> tuple[float, int]:
    """hashlib alone over the same leaf bytes and links verify computes (bytes prepared untimed)."""
    leaves = [
        b"\x00" + row["leaf"] for row in await conn.fetch("SELECT leaf FROM audit_log ORDER BY seq")
    ]
    started = time.perf_counter()
    prev = GENESIS
    sha256 = hashlib.sha256
    for data in leaves:
        prev = sha256(prev + sha256(data).digest()).digest()
    return time.perf_counter() - started, len(leaves)


async def _run(env: Components, entries: int, verify_entries: int) -> dict[str, Any]:
    dsn = env.database("bench_audit_store")
    await migrate(dsn, [RUNTIME, AUDIT])
    events = [sample.referral_sent() for _ in range(entries)]
    with heap.frozen():  # ingest and verify run in this process
        pool = await create_pool(dsn, max_size=2)
        try:
            ingest_s = await _ingest(pool, events)
            bare_s = await _insert_bare(pool, events)
            async with pool.acquire() as conn:
                await _extend(conn, max(verify_entries, entries))
                # As autovacuum and the checkpointer have long since done on a real node: otherwise
                # the first read after the bulk loads (verify's) alone pays for setting every row's
                # hint bits and for writing out the dirty buffers the earlier parts left.
                await conn.execute("VACUUM ANALYZE audit_log")
                await conn.execute("CHECKPOINT")
                verify_s, verified = await _verify(conn)
                read_s = await _read_only(conn)
                hash_s, hashed = await _hash_only(conn)
        finally:
            await pool.close()
    ingest, bare = rate(entries, ingest_s), rate(entries, bare_s)
    verify, hashing = rate(verified, verify_s), rate(hashed, hash_s)
    return {
        "ingest": {"entries": entries, "seconds": ingest_s, "per_s": ingest},
        "insert_baseline": {"entries": entries, "seconds": bare_s, "per_s": bare},
        "ingest_ratio": ratio(ingest, bare),
        "verify": {"entries": verified, "seconds": verify_s, "per_s": verify},
        "read_only": {"entries": verified, "seconds": read_s, "per_s": rate(verified, read_s)},
        "hashlib_baseline": {"entries": hashed, "seconds": hash_s, "per_s": hashing},
        "verify_ratio": ratio(verify, hashing),
    }


def run(env: Components, entries: int, verify_entries: int) -> dict[str, Any]:
    return asyncio.run(_run(env, entries, verify_entries))
