"""SQL for the referrals table: each copy (outgoing, incoming) of each referral."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from samverkan.contracts.referral import Child, ConsentStatement, FunctionRef, Need
from samverkan.referral.domain.lifecycle import Status, SubStatus
from samverkan.referral.domain.referral import Direction, Referral

_COLUMNS = (
    "id, direction, sender_principal, sender_function, recipient_principal, recipient_function,"
    " need, child, reason, consent, status, sent_at, updated_at, decided_by, rejection, history,"
    " sub_status, consent_id, created_at, outcome, cancellation, contacts, forwarded_from,"
    " superseded_by, purged_at"
)
_MUTABLE = (
    "child, reason, consent, status, sent_at, updated_at, decided_by, rejection, history,"
    " sub_status, consent_id, outcome, cancellation, contacts, superseded_by, purged_at"
)
_VISIBLE = (
    "((direction = 'outgoing' AND sender_principal = $2 AND sender_function = $3)"
    " OR (direction = 'incoming' AND recipient_principal = $2 AND recipient_function = $3))"
)


def _to_row(r: Referral) -> tuple[Any, ...]:
    return (
        r.id,
        r.direction.value,
        r.sender.principal,
        r.sender.function,
        r.recipient.principal,
        r.recipient.function,
        r.need.value,
        r.child.model_dump(mode="json") if r.child else None,
        r.reason,
        r.consent.model_dump(mode="json") if r.consent else None,
        r.status.value,
        r.sent_at,
        r.updated_at,
        r.decided_by,
        list(r.rejection) if r.rejection else None,
        [
            [at.isoformat(), s.value, sub.value if sub else None, what]
            for at, s, sub, what in r.history
        ],
        r.sub_status.value if r.sub_status else None,
        r.consent.consent_id if r.consent else None,
        r.created_at,
        list(r.outcome) if r.outcome else None,
        r.cancellation,
        r.contacts,
        r.forwarded_from,
        r.superseded_by,
        r.purged_at,
    )


def _history(entry: list[Any]) -> tuple[datetime, Status, SubStatus | None, str]:
    at, status, *rest = entry  # rows from before sub-statuses hold [at, status]
    sub = rest[0] if rest else None
    return (datetime.fromisoformat(at), Status(status), SubStatus(sub) if sub else None,
            rest[1] if len(rest) > 1 else status)  # fmt: skip


def _from_row(row: asyncpg.Record) -> Referral:
    return Referral(
        id=row["id"],
        direction=Direction(row["direction"]),
        sender=FunctionRef(principal=row["sender_principal"], function=row["sender_function"]),
        recipient=FunctionRef(
            principal=row["recipient_principal"], function=row["recipient_function"]
        ),
        need=Need(row["need"]),
        child=Child.model_validate(row["child"]) if row["child"] else None,
        reason=row["reason"],
        consent=ConsentStatement.model_validate(row["consent"]) if row["consent"] else None,
        status=Status(row["status"]),
        sub_status=SubStatus(row["sub_status"]) if row["sub_status"] else None,
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        updated_at=row["updated_at"],
        decided_by=row["decided_by"],
        rejection=tuple(row["rejection"]) if row["rejection"] else None,  # type: ignore[arg-type]
        outcome=tuple(row["outcome"]) if row["outcome"] else None,  # type: ignore[arg-type]
        cancellation=row["cancellation"],
        contacts=row["contacts"],
        forwarded_from=row["forwarded_from"],
        superseded_by=row["superseded_by"],
        purged_at=row["purged_at"],
        history=[_history(e) for e in row["history"]],
    )


async def get(
    conn: asyncpg.Connection, referral_id: UUID, direction: Direction, *, for_update: bool = False
) -> Referral | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT * FROM referrals WHERE id = $1 AND direction = $2{lock}",
        referral_id,
        direction.value,
    )
    return _from_row(row) if row else None


async def get_for(
    conn: asyncpg.Connection, referral_id: UUID, function: FunctionRef, *, for_update: bool = False
) -> Referral | None:
    """The copy of the referral that `function` sent or received, if any."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT * FROM referrals WHERE id = $1 AND {_VISIBLE}{lock}",
        referral_id,
        function.principal,
        function.function,
    )
    return _from_row(row) if row else None


_INSERT = f"INSERT INTO referrals ({_COLUMNS}) VALUES ({', '.join(f'${i}' for i in range(1, 26))})"
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in _MUTABLE.replace(" ", "").split(","))


async def save(conn: asyncpg.Connection, referral: Referral) -> None:
    await conn.execute(
        f"{_INSERT} ON CONFLICT (id, direction) DO UPDATE SET {_UPDATES}", *_to_row(referral)
    )


async def add(conn: asyncpg.Connection, referral: Referral) -> bool:
    """Store a new copy; False, changing nothing, when this copy of the referral exists."""
    added = await conn.fetchval(
        f"{_INSERT} ON CONFLICT (id, direction) DO NOTHING RETURNING true", *_to_row(referral)
    )
    return bool(added)


HELD = "referrals"  # new copies a batch applied together holds back (UnitOfWork.write_held)


def insertion(referral: Referral) -> tuple[Any, ...]:
    """The statement and arguments storing a new copy; one that exists already fails it."""
    return (_INSERT, *_to_row(referral))


async def under_consent(conn: asyncpg.Connection, consent_id: UUID) -> list[Referral]:
    rows = await conn.fetch(
        "SELECT * FROM referrals WHERE consent_id = $1 ORDER BY created_at FOR UPDATE", consent_id
    )
    return [_from_row(r) for r in rows]


async def list_for(
    conn: asyncpg.Connection,
    function: FunctionRef,
    direction: Direction,
    statuses: list[Status],
    limit: int,
    offset: int,
) -> tuple[list[Referral], int]:
    side = "recipient" if direction is Direction.INCOMING else "sender"
    where = f"direction = $1 AND {side}_principal = $2 AND {side}_function = $3"
    args: list[Any] = [direction.value, function.principal, function.function]
    if statuses:
        where += " AND status = ANY($4::text[])"
        args.append([s.value for s in statuses])
    total = await conn.fetchval(f"SELECT count(*) FROM referrals WHERE {where}", *args)
    n = len(args)
    rows = await conn.fetch(
        f"SELECT * FROM referrals WHERE {where}"
        f" ORDER BY created_at DESC, id LIMIT ${n + 1} OFFSET ${n + 2}",
        *args,
        limit,
        offset,
    )
    return [_from_row(r) for r in rows], total
