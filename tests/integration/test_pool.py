"""A pooled connection comes back clean: whatever transaction it was left in is rolled back."""

from __future__ import annotations

import pytest

from samverkan.runtime.db import UnitOfWork, create_pool

pytestmark = pytest.mark.integration


async def test_a_transaction_left_open_is_rolled_back_before_the_next_use(database: str) -> None:
    pool = await create_pool(database, min_size=1, max_size=1)  # the same connection each time
    try:
        await pool.execute("CREATE TABLE notes (text text)")
        conn = await pool.acquire()
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO notes VALUES ('never committed')")
        await pool.release(conn)

        async with pool.acquire() as again:
            assert await again.fetchval("SELECT pg_backend_pid()") == backend  # the same session
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT count(*) FROM notes") == 0
    finally:
        await pool.close()


async def test_a_unit_of_work_that_fails_leaves_nothing_behind(database: str) -> None:
    pool = await create_pool(database, min_size=1, max_size=1)
    try:
        await pool.execute("CREATE TABLE notes (text text)")
        with pytest.raises(RuntimeError):
            async with UnitOfWork(pool) as tx:
                await tx.conn.execute("INSERT INTO notes VALUES ('rolled back')")
                raise RuntimeError("the handler failed")
        async with UnitOfWork(pool) as tx:
            assert await tx.conn.fetchval("SELECT count(*) FROM notes") == 0
            await tx.conn.execute("INSERT INTO notes VALUES ('kept')")
        assert await pool.fetchval("SELECT string_agg(text, ',') FROM notes") == "kept"
    finally:
        await pool.close()
