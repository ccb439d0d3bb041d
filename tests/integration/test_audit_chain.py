"""The audit trail refuses changes at the database, and verify names the first altered entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from support import audit_entry

from samverkan.audit import service, store
from samverkan.audit.app import MIGRATIONS
from samverkan.audit.chain import Entry
from samverkan.runtime.db import connect
from samverkan.runtime.migrations import RUNTIME, migrate

pytestmark = pytest.mark.integration


def _entry(n: int) -> Entry:
    # Odd entries arrive with a local offset, as RFC 3339 allows; the chain must still verify.
    now = datetime.now(UTC) if n % 2 == 0 else datetime.now(timezone(timedelta(hours=2)))
    entry: Entry = audit_entry(n, at=now)
    return entry


async def test_append_only_and_verify_finds_first_altered_entry(database: str) -> None:
    await migrate(database, [RUNTIME, MIGRATIONS])
    conn = await connect(database)
    try:
        for n in range(5):
            async with conn.transaction():
                await store.append(conn, _entry(n))
        result = await service.verify(conn)
        assert result.ok and result.entries == 5

        for statement in (
            "UPDATE audit_log SET payload = 'x' WHERE seq = 2",
            "DELETE FROM audit_log WHERE seq = 4",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(statement)

        # Someone with the owner's rights switches the guard off and rewrites history:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
        await conn.execute("ALTER TABLE audit_log DROP CONSTRAINT audit_log_leaf_matches")
        await conn.execute("UPDATE audit_log SET payload = '\\x7b7d' WHERE seq = 2")
        result = await service.verify(conn)
        assert not result.ok and result.first_bad_seq == 2
        assert "entry 2" in (result.problem or "")

        # Removing an entry is found too, at the gap.
        await conn.execute("DELETE FROM audit_log WHERE seq = 1")
        result = await service.verify(conn)
        assert not result.ok and result.first_bad_seq == 1 and "missing" in (result.problem or "")
    finally:
        await conn.close()


async def test_every_kind_of_value_satisfies_the_leaf_check(database: str) -> None:
    """What Python writes as the leaf and what the database's leaf check rebuilds from the columns
    agree for every field's range of values: none, non-ASCII and escaped text, local offsets."""
    await migrate(database, [RUNTIME, MIGRATIONS])
    conn = await connect(database)
    odd = 'åäö "citat" \\ \t ✓ 😀 \u2028'
    try:
        entries = [
            audit_entry(0, recipient_principal=None, subject=None, payload=None),
            audit_entry(1, headers=[["ce_subject", odd], ["x-tom", ""]], subject=odd),
            audit_entry(
                2,
                personnummer_pseudonym="ab" * 32,
                payload_sha256=bytes(range(32)),
                actor=odd,
                at=datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-5))),
            ),
        ]
        async with conn.transaction():
            await store.append_many(conn, entries)
        result = await service.verify(conn)
        assert result.ok and result.leaf_check and result.rebuilt == 0
        assert (await service.verify(conn, full=True)).ok
    finally:
        await conn.close()
