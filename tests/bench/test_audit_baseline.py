"""The audit ingest's baseline inserts the same rows into a table stored as audit_log is."""

from __future__ import annotations

import pytest

from bench import sample
from bench.audit_bench import AUDIT, _insert_bare
from samverkan.runtime.db import create_pool
from samverkan.runtime.migrations import RUNTIME, migrate

pytestmark = pytest.mark.integration

_STORED_AS = """SELECT c.reloptions, array_agg((a.attname, a.attstorage) ORDER BY a.attnum)::text
    FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.oid = $1::regclass GROUP BY c.reloptions"""


async def test_the_baseline_table_keeps_audit_logs_storage(database: str) -> None:
    await migrate(database, [RUNTIME, AUDIT])
    pool = await create_pool(database, max_size=1)
    try:
        await _insert_bare(pool, [sample.referral_sent() for _ in range(3)])
        async with pool.acquire() as conn:
            log = await conn.fetchrow(_STORED_AS, "audit_log")
            bare = await conn.fetchrow(_STORED_AS, "audit_bare")
            copied = await conn.fetchval("SELECT count(*) FROM audit_bare")
    finally:
        await pool.close()
    assert log["reloptions"] == ["toast_tuple_target=8160"]  # rows stay whole and uncompressed
    assert tuple(bare) == tuple(log)
    assert copied == 3
