"""The unit of work on the real database: its outbox rows commit with it, in order, and a
savepoint takes back what was published inside it; a pooled connection comes back clean."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import AsyncIterator

import asyncpg
import pytest
from support import referral_sent, unique

from samverkan.runtime.consumer import collector_paused
from samverkan.runtime.db import UnitOfWork, create_pool
from samverkan.runtime.migrations import RUNTIME, migrate

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database, [RUNTIME])
    pool = await create_pool(database, min_size=1, max_size=1)  # the same connection each time
    await pool.execute("CREATE TABLE notes (id serial PRIMARY KEY, text text)")
    yield pool
    await pool.close()


class Gathering(list[str]):
    """What a transaction gathers: a list that a weak reference can follow."""


async def write_notes(conn: asyncpg.Connection, gathering: Gathering) -> None:
    await conn.executemany("INSERT INTO notes (text) VALUES ($1)", [(t,) for t in gathering])


async def outbox_ids(pool: asyncpg.Pool) -> list[str]:
    return [str(r["event_id"]) for r in await pool.fetch("SELECT event_id FROM outbox ORDER BY id")]


async def test_published_events_commit_with_the_transaction_in_their_order(
    pool: asyncpg.Pool,
) -> None:
    events = [referral_sent(unique("school"), unique("region")) for _ in range(50)]
    async with UnitOfWork(pool) as tx:
        for event in events:
            await tx.publish(event)
        assert await tx.conn.fetchval("SELECT count(*) FROM outbox") == 0  # written at the end
    assert await outbox_ids(pool) == [str(e.id) for e in events]


async def test_a_savepoint_that_fails_takes_back_what_it_published(pool: asyncpg.Pool) -> None:
    kept, dropped, after = (referral_sent(unique("school"), unique("region")) for _ in range(3))
    async with UnitOfWork(pool) as tx:
        await tx.publish(kept)
        with pytest.raises(RuntimeError):
            async with tx.savepoint():
                await tx.conn.execute("INSERT INTO notes (text) VALUES ('inside')")
                await tx.publish(dropped)
                raise RuntimeError("witnessing failed")
        await tx.publish(after)
    assert await outbox_ids(pool) == [str(kept.id), str(after.id)]
    assert await pool.fetchval("SELECT count(*) FROM notes") == 0


async def test_an_outbox_row_that_cannot_be_written_rolls_back_the_state_change(
    pool: asyncpg.Pool,
) -> None:
    event = referral_sent(unique("school"), unique("region"))
    with pytest.raises(asyncpg.UniqueViolationError):
        async with UnitOfWork(pool) as tx:
            await tx.conn.execute("INSERT INTO notes (text) VALUES ('state')")
            await tx.publish(event)
            await tx.publish(event)  # the same event id twice
    assert await pool.fetchval("SELECT count(*) FROM notes") == 0
    assert await outbox_ids(pool) == []


async def test_a_transaction_left_open_is_rolled_back_before_the_next_use(
    pool: asyncpg.Pool,
) -> None:
    conn = await pool.acquire()
    backend = await conn.fetchval("SELECT pg_backend_pid()")
    await conn.execute("BEGIN")
    await conn.execute("INSERT INTO notes (text) VALUES ('never committed')")
    await pool.release(conn)

    async with pool.acquire() as again:
        assert await again.fetchval("SELECT pg_backend_pid()") == backend  # the same session
        assert not again.is_in_transaction()
        assert await again.fetchval("SELECT count(*) FROM notes") == 0


async def test_a_unit_of_work_that_fails_leaves_nothing_behind(pool: asyncpg.Pool) -> None:
    with pytest.raises(RuntimeError):
        async with UnitOfWork(pool) as tx:
            await tx.conn.execute("INSERT INTO notes (text) VALUES ('rolled back')")
            raise RuntimeError("the handler failed")
    async with UnitOfWork(pool) as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM notes") == 0
        await tx.conn.execute("INSERT INTO notes (text) VALUES ('kept')")
    assert await pool.fetchval("SELECT string_agg(text, ',') FROM notes") == "kept"


async def test_rows_left_for_the_end_keep_their_order_and_a_failed_savepoint_drops_its_own(
    pool: asyncpg.Pool,
) -> None:
    # Rows left for the end are given as arrays, one a column (see write_at_end).
    note = """INSERT INTO notes (text)
        SELECT text FROM unnest($1::text[]) WITH ORDINALITY AS r(text, n) ORDER BY n"""
    event = referral_sent(unique("school"), unique("region"))
    async with UnitOfWork(pool) as tx:
        tx.write_at_end(note, "first")
        await tx.publish(event)
        tx.write_at_end(note, "second")
        with pytest.raises(RuntimeError):
            async with tx.savepoint():
                tx.write_at_end(note, "inside")
                await tx.publish(referral_sent(unique("school"), unique("region")))
                raise RuntimeError("undone")
        tx.write_at_end(note, "third")
        assert await tx.conn.fetchval("SELECT count(*) FROM notes") == 0  # not yet written
    assert [r["text"] for r in await pool.fetch("SELECT text FROM notes ORDER BY id")] == [
        "first",
        "second",
        "third",
    ]
    assert await outbox_ids(pool) == [str(event.id)]


async def test_an_event_published_by_a_before_commit_step_is_written_too(
    pool: asyncpg.Pool,
) -> None:
    first, late = (referral_sent(unique("school"), unique("region")) for _ in range(2))
    async with UnitOfWork(pool) as tx:
        await tx.publish(first)

        async def announce() -> None:
            await tx.publish(late)

        tx.before_commit(announce)
    assert await outbox_ids(pool) == [str(first.id), str(late.id)]


async def test_what_a_transaction_gathered_is_freed_when_it_ends_without_the_collector(
    pool: asyncpg.Pool,
) -> None:
    # A batch's gatherings (the audit's entries, say) must go by their reference counts once
    # the transaction is over, even when a callback holds the transaction: the consumer pauses
    # the cyclic collector while it applies a batch.
    def mark_committed(tx: UnitOfWork) -> None:
        tx.memo["committed"] = True

    with collector_paused():
        async with UnitOfWork(pool) as tx:
            tx.gathered("notes", Gathering, write_notes).append("gathered")
            tx.after_commit(functools.partial(mark_committed, tx))  # holds the transaction
            gone = weakref.ref(tx.memo["notes"])
        del tx
        assert gone() is None
    assert await pool.fetchval("SELECT text FROM notes") == "gathered"


async def test_a_transaction_whose_verdict_refuses_the_batch_is_freed_without_the_collector(
    pool: asyncpg.Pool,
) -> None:
    # A forged signature fails the verdict awaited before the commit. The failure's traceback
    # holds the transaction's frames, so neither the transaction (through `verified`) nor a
    # local of those frames (the callback that awaited the verdict) may hold the failure in
    # turn, or what the transaction gathered for the batch waits for the collector.
    async def refuse() -> None:
        raise ValueError("a forged signature")

    def awaited_before_commit(tx: UnitOfWork, verdict: asyncio.Future[None]) -> None:
        tx.verified = verdict  # as the consumer hands a batch's verdict over
        tx.before_commit(lambda: verdict)

    with collector_paused():
        with pytest.raises(ValueError, match="forged"):
            async with UnitOfWork(pool) as tx:
                awaited_before_commit(tx, asyncio.ensure_future(refuse()))
                tx.gathered("notes", Gathering, write_notes).append("never written")
                gone = weakref.ref(tx.memo["notes"])
        del tx
        assert gone() is None
    assert await pool.fetchval("SELECT count(*) FROM notes") == 0
