"""SQL for the entries this principal is authoritative for: the last event published per key."""

from __future__ import annotations

import asyncpg

from samverkan.contracts import Event
from samverkan.contracts.catalogue import EVENT_TYPES
from samverkan.contracts.directory import PublicKeyPublished, PublicKeyRevoked

# Every use case that publishes takes this lock first: two writers interleaving could otherwise
# commit an older state of an entry after a newer one, and the log would end on the older.
_WRITE_LOCK = 0x5A4D_D1E5


class OwnEntries:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock(self) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock($1)", _WRITE_LOCK)

    async def all(self) -> dict[str, Event]:
        rows = await self.conn.fetch("SELECT key, type, payload FROM own_entries ORDER BY key")
        return {r["key"]: EVENT_TYPES[r["type"]].model_validate(r["payload"]) for r in rows}

    async def save(self, event: Event) -> None:
        payload = event.model_dump(mode="json")
        publication = payload if isinstance(event, PublicKeyPublished) else None
        await self.conn.execute(
            """INSERT INTO own_entries (key, type, payload, published) VALUES ($1, $2, $3, $4)
               ON CONFLICT (key) DO UPDATE SET type = $2, payload = $3, published_at = now(),
                 published = COALESCE($4, own_entries.published)""",
            event.key(),
            event.TYPE,
            payload,
            publication,
        )

    async def history(self) -> list[Event]:
        """Every entry's current event; a revoked key's publication follows its revocation (a
        reader then knows the key and that it is revoked, never the key alone in between)."""
        rows = await self.conn.fetch(
            "SELECT type, payload, published FROM own_entries ORDER BY key"
        )
        events: list[Event] = []
        for r in rows:
            events.append(EVENT_TYPES[r["type"]].model_validate(r["payload"]))
            if r["type"] == PublicKeyRevoked.TYPE and r["published"] is not None:
                events.append(PublicKeyPublished.model_validate(r["published"]))
        return events
