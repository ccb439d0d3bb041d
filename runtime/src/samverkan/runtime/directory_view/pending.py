"""Directory entries written in a batch of events applied together: sent in one round trip.

A batch of events applied together (`tx.applies_together`) holds its directory upserts back, in
order, and sends them together when anything in the transaction next reads the directory view
(`flush`: every read in this package does so first) or when it commits. Alone, an event's upsert
is sent at once, so a failing one fails inside its handler, as a savepoint around it expects.
Nothing held back may be flushed inside a savepoint: its rollback would not give the rows back.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from samverkan.runtime.db import UnitOfWork

_PENDING = "directory_view.pending"  # in a transaction's memo: (statement, args), in order


async def write(tx: UnitOfWork, statement: str, *args: Any) -> None:
    """Run `statement` with `args` in `tx`: now, or in a batch before the next read (`flush`)."""
    if not tx.applies_together:
        await tx.conn.execute(statement, *args)
        return
    tx.gathered(_PENDING, list, _send).append((statement, args))


async def flush(tx: UnitOfWork) -> None:
    """Send what `tx` holds back, before reading the directory view in it."""
    pending: list[tuple[str, tuple[Any, ...]]] | None = tx.memo.get(_PENDING)
    if pending:
        await _send(tx.conn, pending)


async def _send(conn: asyncpg.Connection, pending: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Each run of one statement as one executemany (its rows run in turn), in order; empties
    `pending`, so what is sent before a read is not sent again at the commit."""
    while pending:
        statement = pending[0][0]
        run = 1
        while run < len(pending) and pending[run][0] == statement:
            run += 1
        await conn.executemany(statement, [args for _, args in pending[:run]])
        del pending[:run]
