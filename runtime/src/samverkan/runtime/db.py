"""Postgres access: the pool and the unit of work that owns one transaction."""

from __future__ import annotations

import json
from types import TracebackType
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg

from samverkan.contracts import CloudEvent

if TYPE_CHECKING:
    from samverkan.runtime.outbox import OutboxRelay


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection
    )


async def connect(dsn: str) -> asyncpg.Connection:
    """A dedicated connection outside the pool (advisory locks, migrations), with our codecs."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class UnitOfWork:
    """One Postgres transaction. Events added with `publish` are stored in the outbox table in the
    same transaction, so a state change and its announcement commit or roll back together."""

    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay | None = None) -> None:
        self._pool = pool
        self._relay = relay
        self._published = False
        self.conn: asyncpg.Connection

    async def __aenter__(self) -> UnitOfWork:
        self.conn = await self._pool.acquire()
        self._tx = self.conn.transaction()
        await self._tx.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            await self._pool.release(self.conn)
        if exc_type is None and self._published and self._relay is not None:
            self._relay.wake()

    async def publish(self, event: CloudEvent) -> None:
        await self.conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, $4, $5)",
            event.id,
            event.topic,
            event.key(),
            event.value(),
            [[k, v.decode()] for k, v in event.headers()],
        )
        self._published = True

    async def claim(self, consumer: str, event_id: UUID) -> bool:
        """Record that `consumer` applies `event_id` in this transaction; False if it already has."""
        inserted = await self.conn.fetchval(
            "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING true",
            consumer,
            event_id,
        )
        return bool(inserted)
