"""Checkpoints extend the last one's compact range with the new leaves, instead of reading the
whole log each time; a checkpoint made before ranges were kept is followed by one full read."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from support import audit_entry

from samverkan.audit import checkpoints, merkle, store
from samverkan.audit.app import MIGRATIONS
from samverkan.audit.context import AuditContext
from samverkan.audit.note import NoteSigner
from samverkan.contracts import CloudEvent, Event
from samverkan.contracts.audit import CheckpointSigned
from samverkan.runtime.db import UnitOfWork, create_pool
from samverkan.runtime.migrations import DIRECTORY_VIEW, RUNTIME, migrate
from samverkan.runtime.signing import generate_key

pytestmark = pytest.mark.integration


def _context() -> AuditContext:
    def wrap(data: Event, recipient: str | None = None) -> CloudEvent:
        return CloudEvent.wrap(data, principal="region", service="audit", recipient=recipient)

    return AuditContext("region", b"pseudonym-key", wrap, signer=NoteSigner(generate_key()))


class _Reads:
    """Where each read of leaf hashes started: 0 is the whole log."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.starts: list[int] = []
        original = store.leaf_hashes

        async def leaf_hashes(conn: Any, size: int | None = None, *, start: int = 0) -> Any:
            self.starts.append(start)
            return await original(conn, size, start=start)

        monkeypatch.setattr(store, "leaf_hashes", leaf_hashes)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database, [RUNTIME, DIRECTORY_VIEW, MIGRATIONS])
    pool = await create_pool(database, max_size=2)
    yield pool
    await pool.close()


async def test_checkpoints_extend_the_last_from_the_new_leaves_only(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, reads = _context(), _Reads(monkeypatch)

    async def grow_and_checkpoint(entries: int) -> int | None:
        async with UnitOfWork(pool) as tx:
            await store.append_many(tx.conn, [audit_entry(n) for n in range(entries)])
        async with UnitOfWork(pool) as tx:
            return await checkpoints.make(tx, ctx, force=True)

    assert await grow_and_checkpoint(5) == 5
    assert await grow_and_checkpoint(8) == 13
    assert await grow_and_checkpoint(1) == 14
    assert reads.starts == [0, 5, 13]  # the whole log once, then only what was new

    async with pool.acquire() as conn:
        leaves = await store.leaf_hashes(conn)
        rows = await conn.fetch("SELECT * FROM audit_checkpoints ORDER BY tree_size")
        signed = [
            CheckpointSigned.model_validate_json(bytes(r["value"]))
            for r in await conn.fetch(
                "SELECT value FROM outbox WHERE headers::text LIKE '%checkpoint-signed%'"
                " ORDER BY id"
            )
        ]
    for row in rows:
        size = row["tree_size"]
        assert bytes(row["root_hash"]) == merkle.root(leaves[:size])
        assert list(row["compact_range"]) == merkle.compact_range(leaves[:size])
    assert [s.tree_size for s in signed] == [5, 13, 14]
    for before, after in itertools.pairwise(signed):
        proof = [bytes.fromhex(p) for p in after.consistency_proof]
        assert after.previous_size == before.tree_size
        assert proof == merkle.consistency_proof(before.tree_size, leaves[: after.tree_size])
        assert merkle.verify_consistency(
            before.tree_size,
            after.tree_size,
            bytes.fromhex(before.root_hash),
            bytes.fromhex(after.root_hash),
            proof,
        )


async def _checkpoint_at_three_then_grow(
    pool: asyncpg.Pool, compact_range: list[bytes] | None, *, more: int
) -> None:
    """Three entries, a checkpoint of them with the true root and `compact_range`, then `more`."""
    async with UnitOfWork(pool) as tx:
        await store.append_many(tx.conn, [audit_entry(n) for n in range(3)])
        root = merkle.root(await store.leaf_hashes(tx.conn))
        await tx.conn.execute(
            "INSERT INTO audit_checkpoints (tree_size, root_hash, note, signed_at, compact_range)"
            " VALUES (3, $1, 'note', now(), $2)",
            root,
            compact_range,
        )
        await store.append_many(tx.conn, [audit_entry(n) for n in range(more)])


async def test_a_checkpoint_without_a_kept_range_is_followed_by_one_full_read(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, reads = _context(), _Reads(monkeypatch)
    await _checkpoint_at_three_then_grow(pool, None, more=4)  # as signed before ranges were kept
    async with UnitOfWork(pool) as tx:
        assert await checkpoints.make(tx, ctx, force=True) == 7
    async with UnitOfWork(pool) as tx:
        await store.append_many(tx.conn, [audit_entry(n) for n in range(2)])
    async with UnitOfWork(pool) as tx:
        assert await checkpoints.make(tx, ctx, force=True) == 9
    assert reads.starts[-2:] == [0, 7]
    async with pool.acquire() as conn:
        leaves = await store.leaf_hashes(conn)
        seven = await store.checkpoint(conn, 7)
    assert seven is not None and bytes(seven["root_hash"]) == merkle.root(leaves[:7])
    assert list(seven["compact_range"]) == merkle.compact_range(leaves[:7])


async def test_a_kept_range_that_does_not_give_its_root_is_not_trusted(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, reads = _context(), _Reads(monkeypatch)
    wrong = merkle.compact_range([merkle.leaf_hash(b"x")] * 3)  # the right shape, not the log
    await _checkpoint_at_three_then_grow(pool, wrong, more=2)
    async with UnitOfWork(pool) as tx:
        assert await checkpoints.make(tx, ctx, force=True) == 5
    assert reads.starts[-1] == 0  # the whole log was read instead
    async with pool.acquire() as conn:
        five = await store.checkpoint(conn, 5)
        leaves = await store.leaf_hashes(conn)
    assert five is not None and bytes(five["root_hash"]) == merkle.root(leaves)
