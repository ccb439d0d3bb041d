"""SQL for the two-sided records kept as a JSON body: reports of concern and consultations.

Each has one row per side (the sender's and the receiver's copy), so both fit in one database
when the two functions share a principal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from samverkan.contracts.parties import FunctionRef


@dataclass(frozen=True)
class Table:
    name: str
    from_side: str  # e.g. "reporter": the side that sends
    to_side: str  # e.g. "recipient": the side that receives
    flag: str  # a column filtered on in lists (state or answered)
    time: str  # the column lists are ordered by


CONCERNS = Table("concern_reports", "reporter", "recipient", "state", "submitted_at")
CONSULTATIONS = Table("consultations", "requester", "counterpart", "answered", "requested_at")


async def get(
    conn: asyncpg.Connection, table: Table, id: UUID, side: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT body FROM {table.name} WHERE id = $1 AND side = $2{lock}", id, side
    )
    return row["body"] if row else None


async def get_for(
    conn: asyncpg.Connection,
    table: Table,
    id: UUID,
    function: FunctionRef,
    *,
    for_update: bool = False,
) -> dict[str, Any] | None:
    """The copy of `id` on the side where `function` stands, if any."""
    lock = " FOR UPDATE" if for_update else ""
    f, t = table.from_side, table.to_side
    row = await conn.fetchrow(
        f"""SELECT body FROM {table.name} WHERE id = $1
            AND ((side = '{f}' AND {f}_principal = $2 AND {f}_function = $3)
              OR (side = '{t}' AND {t}_principal = $2 AND {t}_function = $3)){lock}""",
        id,
        function.principal,
        function.function,
    )
    return row["body"] if row else None


async def save(
    conn: asyncpg.Connection,
    table: Table,
    *,
    id: UUID,
    side: str,
    sender: FunctionRef,
    receiver: FunctionRef,
    flag: Any,
    time: Any,
    body: dict[str, Any],
) -> None:
    f, t = table.from_side, table.to_side
    await conn.execute(
        f"""INSERT INTO {table.name} (id, side, {f}_principal, {f}_function, {t}_principal,
                                       {t}_function, {table.flag}, {table.time}, body)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (id, side) DO UPDATE SET {table.flag} = $7, body = $9""",
        id,
        side,
        sender.principal,
        sender.function,
        receiver.principal,
        receiver.function,
        flag,
        time,
        body,
    )


async def list_for(
    conn: asyncpg.Connection,
    table: Table,
    function: FunctionRef,
    side: str,
    flag: Any | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    where = f"side = $1 AND {side}_principal = $2 AND {side}_function = $3"
    args: list[Any] = [side, function.principal, function.function]
    if flag is not None:
        where += f" AND {table.flag} = $4"
        args.append(flag)
    total = await conn.fetchval(f"SELECT count(*) FROM {table.name} WHERE {where}", *args)
    n = len(args)
    rows = await conn.fetch(
        f"SELECT body FROM {table.name} WHERE {where}"
        f" ORDER BY {table.time} DESC, id LIMIT ${n + 1} OFFSET ${n + 2}",
        *args,
        limit,
        offset,
    )
    return [r["body"] for r in rows], total
