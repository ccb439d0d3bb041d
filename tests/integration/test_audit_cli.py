"""`samverkan-audit verify [--full]` as an operator runs it: what it prints and its exit status."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support import SECRET, audit_entry, unique

from samverkan.audit import store
from samverkan.audit.app import MIGRATIONS
from samverkan.runtime.db import connect
from samverkan.runtime.migrations import RUNTIME, migrate

pytestmark = pytest.mark.integration


def verify(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "SAMVERKAN_PRINCIPAL": unique("kommun"),
        "SAMVERKAN_AUTH_JWT_KEY": SECRET,
        "SAMVERKAN_AUDIT_DATABASE_URL": dsn,
        "SAMVERKAN_AUDIT_PSEUDONYM_KEY": SECRET,
    }
    command = [sys.executable, "-m", "samverkan.audit", "verify", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def test_verify_says_how_it_checked_and_fails_on_an_altered_entry(database: str) -> None:
    await migrate(database, [RUNTIME, MIGRATIONS])
    conn = await connect(database)
    try:
        async with conn.transaction():
            await store.append_many(conn, [audit_entry(n) for n in range(3)])

        done = verify(database)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("ok: 3 entries, head ")
        assert "bound to the stored leaves by the database's leaf check" in done.stdout

        done = verify(database, "--full")
        assert done.returncode == 0, done.stderr
        assert "every entry's columns rebuilt and rehashed (3)" in done.stdout
        assert "warning" not in done.stderr

        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("ALTER TABLE audit_log DROP CONSTRAINT audit_log_leaf_matches")
        done = verify(database)
        assert done.returncode == 0 and "every entry's columns rebuilt" in done.stdout
        assert "warning: audit_log's leaf check (migration 0004) is missing" in done.stderr

        await conn.execute("UPDATE audit_log SET subject = 'someone else' WHERE seq = 1")
        done = verify(database)
        assert done.returncode == 1
        assert "FAILED at entry 1: entry 1 differs from what was recorded" in done.stderr
    finally:
        await conn.close()
