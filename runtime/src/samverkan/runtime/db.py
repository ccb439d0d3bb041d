"""Postgres access: the pool and the unit of work that owns one transaction."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import asyncpg
import orjson

from samverkan.contracts import CloudEvent
from samverkan.runtime import faults

if TYPE_CHECKING:
    from samverkan.runtime.outbox import OutboxRelay


# TCP keepalives find a silently dead peer in about a minute instead of hours (the relay's
# advisory lock would otherwise stay held by a ghost session); no statement runs forever.
_SERVER_SETTINGS = {
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}
_COMMAND_TIMEOUT_S = 60.0


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=_COMMAND_TIMEOUT_S,
        server_settings=_SERVER_SETTINGS,
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a pooled connection needs on its way back: nothing. asyncpg itself rolls back an open
    transaction first; its default reset would then add a round trip to every transaction, to end
    session state this code never leaves on a pooled connection (SET, LISTEN, held cursors,
    session advisory locks: those that need one take a dedicated `connect()`)."""


async def connect(dsn: str) -> asyncpg.Connection:
    """A dedicated connection outside the pool (advisory locks, migrations), with our codecs."""
    conn = await asyncpg.connect(
        dsn, command_timeout=_COMMAND_TIMEOUT_S, server_settings=_SERVER_SETTINGS
    )
    await _init_connection(conn)
    return conn


async def _init_connection(conn: asyncpg.Connection) -> None:
    # In binary form (a version byte, then the text), which COPY needs as well as queries.
    await conn.set_type_codec(
        "jsonb",
        encoder=_jsonb_encode,
        decoder=_jsonb_decode,
        schema="pg_catalog",
        format="binary",
    )


_JSONB_VERSION = b"\x01"


def _jsonb_encode(value: Any) -> bytes:
    # orjson: a tenth of json's time, for what every outbox row and audit entry writes. Postgres
    # parses the text, so its spelling (raw UTF-8, no spaces) does not matter. Unlike json it
    # refuses integers beyond 64 bits and nesting past 255 levels, and writes NaN as null; no
    # value stored here holds such things.
    return _JSONB_VERSION + orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _jsonb_decode(data: bytes) -> Any:
    if data[:1] != _JSONB_VERSION:
        raise ValueError(f"unknown jsonb format version {data[:1]!r}")
    return json.loads(data[1:])


T = TypeVar("T")

# Ordered by the rows' place in the arrays, so that the outbox's ids follow publication order.
_OUTBOX_INSERT = """INSERT INTO outbox (event_id, topic, key, value, headers)
    SELECT event_id, topic, key, value, headers::jsonb
    FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[], $5::text[])
         WITH ORDINALITY AS r(event_id, topic, key, value, headers, n)
    ORDER BY n"""


def columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """`rows` as one list a column: the arguments of a statement that takes each column as an
    array (`INSERT … SELECT * FROM unnest($1::uuid[], $2::text[])`), which Postgres runs once for
    all the rows, where an executemany runs its statement once a row. `rows` must not be empty."""
    return [list(column) for column in zip(*rows, strict=True)]


_HELD = "held:"  # in a transaction's memo, before a kind: its writes held back (write_held)


async def _send_in_order(conn: asyncpg.Connection, held: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Each run of one statement in `held` as one executemany (its rows run in turn), in order;
    empties `held`, so what a flush sent is not sent again at the commit."""
    while held:
        statement = held[0][0]
        run = 1
        while run < len(held) and held[run][0] == statement:
            run += 1
        await conn.executemany(statement, [args for _, args in held[:run]])
        del held[:run]


class UnitOfWork:
    """One Postgres transaction. Events added with `publish` are stored in the outbox table in the
    same transaction, so a state change and its announcement commit or roll back together."""

    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay | None = None) -> None:
        self._pool = pool
        self._relay = relay
        self._published = False
        self._before_commit: list[Callable[[], Awaitable[None]]] = []
        self._after_commit: list[Callable[[], None]] = []
        self._at_end: dict[str, list[tuple[Any, ...]]] = {}  # see write_at_end
        self._written_at_end = False
        self.conn: asyncpg.Connection
        # What holds until this transaction ends, e.g. a lock it took and what it read under it.
        self.memo: dict[str, Any] = {}
        # Set by the consumer while it applies a batch of events here: should anything fail, the
        # whole transaction rolls back and its events are applied again in smaller parts, the
        # one that failed at last in a transaction of its own (without this flag). A step that
        # guards itself with a savepoint need not do so in this one.
        self.applies_together = False
        # Set by the consumer with `applies_together`: the verdict on the batch's signatures,
        # still being reached while the handlers run (it is awaited before the commit, and a
        # forgery rolls the transaction back). A handler's writes to the transaction need not
        # wait for it; anything it does beyond the transaction must either wait until after the
        # commit (`after_commit`) or await this first, such as a log line that raises an alarm.
        self.verified: Awaitable[None] | None = None

    async def __aenter__(self) -> UnitOfWork:
        self.conn = await self._pool.acquire()
        try:
            self._tx = self.conn.transaction()
            await self._tx.start()
        except BaseException:
            await self._pool.release(self.conn)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._end(committing=exc_type is None)
        finally:
            # A callback that holds this transaction (`gathered`'s all do) would keep it, and all
            # it gathered, in a reference cycle for the collector to find: none is of use now.
            # So would a failed verdict (`verified`), whose traceback holds this transaction.
            self._before_commit.clear()
            self._after_commit.clear()
            self.verified = None

    async def _end(self, *, committing: bool) -> None:
        try:
            if committing:
                try:
                    # By position, as the list may grow meanwhile: a callback held in a local
                    # would stay in a failure's traceback, which the failed verdict it awaited
                    # holds in turn, a reference cycle around the whole transaction.
                    done = 0
                    while done < len(self._before_commit):
                        await self._before_commit[done]()
                        done += 1
                    await self._write_at_end()  # last: a callback may leave rows for the end too
                except BaseException:
                    await self._tx.rollback()
                    raise
                faults.point("uow.before_commit")
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            await self._pool.release(self.conn)
        if committing:
            if self._published and self._relay is not None:
                self._relay.wake()
            for callback in self._after_commit:
                callback()

    def before_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` at the end of this transaction, before the rows left for the end
        (`write_at_end`); if it fails, nothing commits."""
        self._before_commit.append(callback)

    def gathered(
        self,
        key: str,
        new: Callable[[], T],
        write: Callable[[asyncpg.Connection, T], Awaitable[None]],
    ) -> T:
        """What this transaction gathers under `key` in its memo (made by `new` the first time),
        written by `write` just before it commits: one round of writes for a whole batch of
        events. Like the memo, it is not undone by a savepoint."""
        if key not in self.memo:
            gathering = self.memo[key] = new()
            self.before_commit(lambda: write(self.conn, gathering))
        found: T = self.memo[key]
        return found

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    async def publish(self, event: CloudEvent) -> None:
        """Store `event` in the outbox with this transaction (at its end, see `write_at_end`)."""
        self.write_at_end(
            _OUTBOX_INSERT,
            event.id,
            event.topic,
            event.key(),
            event.value(),
            orjson.dumps([[k, v.decode()] for k, v in event.headers()]).decode(),
        )
        self._published = True

    def write_at_end(self, statement: str, *args: Any) -> None:
        """Leave the row `args` for `statement`, run once as this transaction's last work for all
        the rows left for it, each column as an array (`columns`), in the order the rows were left
        (`INSERT INTO t (a, b) SELECT * FROM unnest($1::uuid[], $2::text[])`; where the order
        must hold, `WITH ORDINALITY … ORDER BY` it, as the outbox does): one statement for a
        batch of events (a mail 8 µs of Postgres's time instead of 13 by executemany). A value
        that is itself a list (JSON) goes as text, cast in the statement: as an array's element
        it would be read as one more dimension. Only for writes nothing in the transaction reads
        back, such as the outbox: the rows are not there until the end."""
        if self._written_at_end:
            raise RuntimeError("this transaction has written the rows left for its end")
        self._at_end.setdefault(statement, []).append(args)

    async def _write_at_end(self) -> None:
        self._written_at_end = True
        for statement, rows in self._at_end.items():
            if rows:
                await self.conn.execute(statement, *columns(rows))

    async def write_held(self, kind: str, statement: str, *args: Any) -> None:
        """Run `statement` with `args`: at once, or, while a batch of events is applied together
        (`applies_together`), held back with the other writes of `kind` until `flush(kind)` or
        the commit, and then sent in their order, each run of one statement as one executemany
        (one round trip). Whoever reads what writes of `kind` write flushes them first. Not
        within a savepoint: its rollback would not give back what a flush in it sent."""
        if not self.applies_together:
            await self.conn.execute(statement, *args)
            return
        self.gathered(_HELD + kind, list, _send_in_order).append((statement, args))

    async def flush(self, kind: str) -> None:
        """Send the writes of `kind` held back in this transaction (see `write_held`)."""
        held: list[tuple[str, tuple[Any, ...]]] | None = self.memo.get(_HELD + kind)
        if held:
            await _send_in_order(self.conn, held)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint: the database work done inside, and the events published and rows left
        for the end inside, are undone if it raises, and the transaction goes on. (`memo` and
        the commit callbacks are not: they are the caller's to mend.) A row left for the end is
        written with the transaction's end, so should writing it fail, the whole transaction
        fails, not only the savepoint."""
        marks = {statement: len(rows) for statement, rows in self._at_end.items()}
        try:
            async with self.conn.transaction():
                yield
        except BaseException:
            for statement, rows in self._at_end.items():
                del rows[marks.get(statement, 0) :]
            raise

    async def claim(self, consumer: str, event_ids: Collection[UUID]) -> set[UUID]:
        """Record that `consumer` applies `event_ids` in this transaction; return those it had not
        applied before (each once, however often it is given)."""
        inserted = await self.conn.fetch(
            "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            consumer,
            list(event_ids),
        )
        return {row["event_id"] for row in inserted}
