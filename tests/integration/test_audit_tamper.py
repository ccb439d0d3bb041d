"""verify names the exact entry of a swapped pair, a flipped bit, and a history rewritten so well
that every row checks out but the witnessed checkpoint does not; and it trusts the database's leaf
check only while that check is the one migration 0004 made."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
from support import audit_entry

from samverkan.audit import merkle, service, store
from samverkan.audit.app import MIGRATIONS
from samverkan.audit.chain import GENESIS, Entry, chain
from samverkan.runtime.db import connect
from samverkan.runtime.migrations import DIRECTORY_VIEW, RUNTIME, migrate

pytestmark = pytest.mark.integration

DROP_CHECK = "ALTER TABLE audit_log DROP CONSTRAINT audit_log_leaf_matches"
FLIP = "UPDATE audit_log SET payload = set_byte(payload, 2, get_byte(payload, 2) # 1) WHERE seq = 4"


def _entry(n: int) -> Entry:
    entry: Entry = audit_entry(n, payload_sha256=bytes(32))
    return entry


async def _log(database: str, entries: int, witnessed: tuple[int, ...]) -> asyncpg.Connection:
    """A log of `entries` entries whose checkpoints at `witnessed` sizes have a cosignature."""
    await migrate(database, [RUNTIME, DIRECTORY_VIEW, MIGRATIONS])
    conn = await connect(database)
    for n in range(entries):
        async with conn.transaction():
            await store.append(conn, _entry(n))
    leaves = await store.leaf_hashes(conn)
    for size in witnessed:
        async with conn.transaction():
            range_ = merkle.compact_range(leaves[:size])
            root = merkle.range_root(range_)
            await store.add_checkpoint(conn, size, root, "note\n", datetime.now(UTC), range_)
            await store.add_cosignature(conn, size, "w", "— w x\n", datetime.now(UTC))
    return conn


async def test_swap_flip_and_rewrite_are_found_at_their_index(database: str) -> None:
    conn = await _log(database, 6, (6,))
    try:
        result = await service.verify(conn)
        assert result.ok and result.leaf_check and result.rebuilt == 0
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")

        # With the leaf check in place, a column cannot be changed apart from its leaf.
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(FLIP)

        # The owner drops the check first, then flips a bit in entry 4's payload: verify no
        # longer trusts the stored leaves and rebuilds every entry from its columns.
        await conn.execute(DROP_CHECK)
        await conn.execute(FLIP)
        result = await service.verify(conn)
        assert result.first_bad_seq == 4 and "entry 4" in (result.problem or "")
        assert not result.leaf_check
        await conn.execute(FLIP)
        result = await service.verify(conn)
        assert result.ok and not result.leaf_check and result.rebuilt == 6

        # Entries 2 and 3 swap places.
        await conn.execute("UPDATE audit_log SET seq = -3 WHERE seq = 3")
        await conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 2")
        await conn.execute("UPDATE audit_log SET seq = 2 WHERE seq = -3")
        assert (await service.verify(conn)).first_bad_seq == 2

        # A rewrite with every leaf, link and seq recomputed: only the witnessed root tells.
        await conn.execute("DELETE FROM audit_log")
        await conn.execute(
            f"ALTER TABLE audit_log ADD CONSTRAINT audit_log_leaf_matches CHECK ({store.LEAF_CHECK})"
        )
        prev = GENESIS
        for n in range(6):
            entry = _entry(n if n != 5 else 50)
            entry = Entry(**{**entry.__dict__, "seq": n})
            data = entry.leaf_bytes()
            leaf = merkle.leaf_hash(data)
            prev = chain(prev, leaf)
            await conn.execute(
                """INSERT INTO audit_log (seq, event_id, topic, kafka_partition, kafka_offset,
                       type, source, source_principal, recipient_principal, subject, legal_basis,
                       event_time, recorded_at, personnummer_pseudonym, headers, payload,
                       leaf_hash, entry_hash, payload_sha256, actor, leaf)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                           $16, $17, $18, $19, $20, $21)""",
                n, entry.event_id, entry.topic, entry.partition, entry.offset, entry.type,
                entry.source, entry.source_principal, entry.recipient_principal, entry.subject,
                entry.legal_basis, entry.event_time, entry.recorded_at, None, entry.headers,
                entry.payload, leaf, prev, entry.payload_sha256, None, data,
            )  # fmt: skip
        result = await service.verify(conn)
        assert not result.ok and result.checkpoint == 6 and result.first_bad_seq == 0
        assert "witnessed checkpoint of size 6" in (result.problem or "")
        assert result.leaf_check  # the check was put back as it was: it is trusted again
    finally:
        await conn.close()


async def test_a_leaf_changed_with_its_columns_is_found_by_its_hash(database: str) -> None:
    """The owner keeps the leaf check satisfied by changing a column and the leaf together."""
    conn = await _log(database, 6, ())
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute(
            """UPDATE audit_log SET subject = 'someone else',
                   leaf = convert_to(replace(convert_from(leaf, 'UTF8'), subject, 'someone else'),
                                     'UTF8')
               WHERE seq = 3"""
        )
        assert await conn.fetchval("SELECT subject FROM audit_log WHERE seq = 3") == "someone else"
        result = await service.verify(conn)
        assert result.leaf_check and result.first_bad_seq == 3
        assert "entry 3 differs" in (result.problem or "")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "replace",
    [
        pytest.param(f"CHECK ({store.LEAF_CHECK}) NOT VALID", id="not-validated"),
        pytest.param("CHECK (leaf IS NULL OR seq >= 0)", id="another-expression"),
    ],
)
async def test_an_altered_leaf_check_is_not_trusted(database: str, replace: str) -> None:
    """A check put back unvalidated, or with another expression under the same name, may hide a
    changed column: verify rebuilds every entry and still names it."""
    conn = await _log(database, 6, ())
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute(DROP_CHECK)
        await conn.execute(FLIP)
        await conn.execute(f"ALTER TABLE audit_log ADD CONSTRAINT audit_log_leaf_matches {replace}")
        result = await service.verify(conn)
        assert not result.leaf_check and result.first_bad_seq == 4
    finally:
        await conn.close()


async def test_entries_without_a_stored_leaf_are_rebuilt(database: str) -> None:
    """Entries written before migration 0004 have no leaf: verify rebuilds them from their columns
    and still finds one altered; `full` rebuilds every entry."""
    conn = await _log(database, 6, (2, 5))
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("UPDATE audit_log SET leaf = NULL WHERE seq < 3")
        result = await service.verify(conn)
        assert result.ok and result.leaf_check and result.rebuilt == 3
        assert (await service.verify(conn, full=True)).rebuilt == 6

        await conn.execute("UPDATE audit_log SET subject = 'someone else' WHERE seq = 1")
        result = await service.verify(conn)
        assert result.first_bad_seq == 1 and "entry 1 differs" in (result.problem or "")
    finally:
        await conn.close()


@pytest.mark.parametrize("page", [1, 2, 3, 5000])
async def test_every_witnessed_checkpoint_is_compared_whatever_the_page(
    database: str, page: int
) -> None:
    """Checkpoints at sizes inside and at the ends of pages; a root that does not match names the
    first entry after the last checkpoint that did."""
    conn = await _log(database, 7, (1, 3, 4, 7))
    try:
        result = await service.verify(conn, page=page)
        assert result.ok and result.checkpoint == 7 and result.entries == 7
        # A witnessed checkpoint of size 4 whose root is not this log's.
        await conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
        await conn.execute(
            "UPDATE audit_checkpoints SET root_hash = $1 WHERE tree_size = 4", bytes(32)
        )
        result = await service.verify(conn, page=page)
        assert result.first_bad_seq == 3
        assert result.problem == "entries 3–3 differ from the witnessed checkpoint of size 4"
    finally:
        await conn.close()


async def test_missing_entries_below_a_witnessed_size_are_named(database: str) -> None:
    conn = await _log(database, 5, (2, 5))
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("DELETE FROM audit_log WHERE seq >= 3")
        result = await service.verify(conn)
        assert result.first_bad_seq == 3 and result.entries == 3
        assert result.problem == "entries 3–4 are missing: witnessed size is 5"
    finally:
        await conn.close()
