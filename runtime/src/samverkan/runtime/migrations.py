"""A small migrations runner: numbered .sql files per component, applied once, in order.

Replicas may start together: a session advisory lock makes one of them apply and the others wait.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import asyncpg

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x5A4D_0001  # arbitrary, constant: "the migrations lock"


@dataclass(frozen=True)
class MigrationSource:
    """The migrations of one component: a package's `migrations/` folder."""

    component: str
    package: str

    def scripts(self) -> list[tuple[int, str, Traversable]]:
        folder = files(self.package).joinpath("migrations")
        found = []
        for entry in folder.iterdir():
            match = _FILE.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry.name, entry))
        return sorted(found, key=lambda item: item[0])


RUNTIME = MigrationSource("runtime", "samverkan.runtime")
DIRECTORY_VIEW = MigrationSource("directory-view", "samverkan.runtime.directory_view")


async def migrate(dsn: str, sources: list[MigrationSource]) -> list[str]:
    """Apply every pending migration of `sources`; return the names applied."""
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
        for source in sources:
            done = {
                row["version"]
                for row in await conn.fetch(
                    "SELECT version FROM schema_migrations WHERE component = $1", source.component
                )
            }
            for version, name, script in source.scripts():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(script.read_text(encoding="utf-8"))
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                        source.component,
                        version,
                        name,
                    )
                log.info("applied migration %s/%s", source.component, name)
                applied.append(f"{source.component}/{name}")
    finally:
        await conn.close()  # closing the session releases the advisory lock
    return applied


async def pending(conn: asyncpg.Connection, sources: list[MigrationSource]) -> list[str]:
    """Names of migrations not yet applied (for readiness checks)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    rows = await conn.fetch("SELECT component, version FROM schema_migrations") if exists else []
    done = {(r["component"], r["version"]) for r in rows}
    return [
        f"{s.component}/{name}"
        for s in sources
        for version, name, _ in s.scripts()
        if (s.component, version) not in done
    ]
