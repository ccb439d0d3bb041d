"""The post-migration step: the service's own role may only INSERT and SELECT the audit tables.

The owner role (SAMVERKAN_AUDIT_DATABASE_OWNER_URL) owns the schema and runs migrations; this step
grants the service role (SAMVERKAN_AUDIT_DATABASE_URL) what it needs and nothing more, so even
with the triggers disabled its UPDATE, DELETE and TRUNCATE are refused by privileges.
"""

from __future__ import annotations

import logging

from samverkan.runtime.db import connect

log = logging.getLogger(__name__)

APPEND_ONLY = ("audit_log", "audit_checkpoints", "audit_cosignatures", "audit_witnessed")
# The plumbing the runtime needs: the relay marks outbox rows, the directory view (every
# dir_* table, whatever the directory view's migrations add) upserts.
OPERATIONAL = {
    "outbox": "SELECT, INSERT, UPDATE",
    "inbox": "SELECT, INSERT",
    "schema_migrations": "SELECT",
}
DIRECTORY_VIEW_RIGHTS = "SELECT, INSERT, UPDATE"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def grant_service_role(owner_url: str, service_url: str) -> str | None:
    """Grant the role of `service_url` its rights; return its name (None if it is the owner)."""
    service = await connect(service_url)
    try:
        role = await service.fetchval("SELECT current_user")
    finally:
        await service.close()
    owner = await connect(owner_url)
    try:
        if role == await owner.fetchval("SELECT current_user"):
            return None
        existing = {
            r["tablename"]
            for r in await owner.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
        who = _ident(role)
        async with owner.transaction():
            for table in APPEND_ONLY:
                await owner.execute(f"REVOKE ALL ON {table} FROM {who}")
                await owner.execute(f"GRANT SELECT, INSERT ON {table} TO {who}")
            for table, rights in OPERATIONAL.items():
                if table in existing:
                    await owner.execute(f"GRANT {rights} ON {table} TO {who}")
            for table in sorted(t for t in existing if t.startswith("dir_")):
                await owner.execute(f"GRANT {DIRECTORY_VIEW_RIGHTS} ON {table} TO {who}")
            await owner.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}")
    finally:
        await owner.close()
    log.info("role %s may INSERT and SELECT the audit tables, nothing more", role)
    return role
