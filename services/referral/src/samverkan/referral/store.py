"""SQL for the referrals table, and nothing else."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from samverkan.contracts.referral import Child, ConsentStatement, FunctionRef, Need
from samverkan.referral.domain import Direction, Referral, Status


def _to_row(r: Referral) -> tuple[Any, ...]:
    return (
        r.id,
        r.direction.value,
        r.sender.principal,
        r.sender.function,
        r.recipient.principal,
        r.recipient.function,
        r.need.value,
        r.child.model_dump(mode="json"),
        r.reason,
        r.consent.model_dump(mode="json"),
        r.status.value,
        r.sent_at,
        r.updated_at,
        r.decided_by,
        list(r.rejection) if r.rejection else None,
        [[at.isoformat(), status.value] for at, status in r.history],
    )


def _from_row(row: asyncpg.Record) -> Referral:
    return Referral(
        id=row["id"],
        direction=Direction(row["direction"]),
        sender=FunctionRef(principal=row["sender_principal"], function=row["sender_function"]),
        recipient=FunctionRef(
            principal=row["recipient_principal"], function=row["recipient_function"]
        ),
        need=Need(row["need"]),
        child=Child.model_validate(row["child"]),
        reason=row["reason"],
        consent=ConsentStatement.model_validate(row["consent"]),
        status=Status(row["status"]),
        sent_at=row["sent_at"],
        updated_at=row["updated_at"],
        decided_by=row["decided_by"],
        rejection=tuple(row["rejection"]) if row["rejection"] else None,  # type: ignore[arg-type]
        history=[(datetime.fromisoformat(at), Status(s)) for at, s in row["history"]],
    )


async def get(
    conn: asyncpg.Connection, referral_id: UUID, *, for_update: bool = False
) -> Referral | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM referrals WHERE id = $1{lock}", referral_id)
    return _from_row(row) if row else None


async def save(conn: asyncpg.Connection, referral: Referral) -> None:
    await conn.execute(
        """INSERT INTO referrals VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                                        $14, $15, $16)
           ON CONFLICT (id) DO UPDATE SET status = $11, updated_at = $13, decided_by = $14,
                                          rejection = $15, history = $16""",
        *_to_row(referral),
    )


async def list_for(
    conn: asyncpg.Connection, function: FunctionRef, direction: Direction, limit: int
) -> list[Referral]:
    side = "recipient" if direction is Direction.INCOMING else "sender"
    rows = await conn.fetch(
        f"""SELECT * FROM referrals
            WHERE direction = $1 AND {side}_principal = $2 AND {side}_function = $3
            ORDER BY sent_at DESC LIMIT $4""",
        direction.value,
        function.principal,
        function.function,
        limit,
    )
    return [_from_row(r) for r in rows]
