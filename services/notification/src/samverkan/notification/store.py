"""SQL for the notification service's tables (asyncpg), and the rows a transaction leaves for
its end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from samverkan.contracts.parties import FunctionRef
from samverkan.notification.routing import Parties
from samverkan.runtime.db import UnitOfWork, columns

_PENDING = "notification.pending"  # in a transaction's memo: parties and deadlines to write


@dataclass
class _Deadline:
    """A row of referral_deadlines to be written."""

    referral_id: UUID
    stage: str
    working_days: int
    due_at: datetime
    met_at: datetime | None = None


@dataclass
class _Pending:
    """Parties and deadlines a transaction saved, written together just before it commits: one
    statement each for a whole batch of events, its rows given as arrays (Postgres runs one
    insert, not one a row: 8 µs a deadline against 14 by executemany). `parties` falls back
    to them when the table has none; `meet_deadlines` marks them met as well as stored ones. A
    savepoint would not undo them: nothing in notification takes one, and what did would have
    to mend this memo itself."""

    parties: dict[UUID, Parties] = field(default_factory=dict)
    deadlines: dict[tuple[UUID, str], _Deadline] = field(default_factory=dict)

    async def write(self, conn: asyncpg.Connection) -> None:
        # Parties first: a deadline refers to its referral's parties.
        if self.parties:
            await conn.execute(
                "INSERT INTO referral_parties SELECT * FROM"
                " unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])"
                " ON CONFLICT DO NOTHING",
                *columns([
                    (rid, p.sender.principal, p.sender.function, p.recipient.principal,
                     p.recipient.function)
                    for rid, p in self.parties.items()
                ]),
            )  # fmt: skip
        if self.deadlines:
            await conn.execute(
                "INSERT INTO referral_deadlines (referral_id, stage, working_days, due_at, met_at)"
                " SELECT * FROM"
                " unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[])"
                " ON CONFLICT DO NOTHING",
                *columns([
                    (d.referral_id, d.stage, d.working_days, d.due_at, d.met_at)
                    for d in self.deadlines.values()
                ]),
            )  # fmt: skip


def _pending(tx: UnitOfWork) -> _Pending:
    return tx.gathered(_PENDING, _Pending, lambda conn, pending: pending.write(conn))


def save_parties(tx: UnitOfWork, referral_id: UUID, parties: Parties) -> None:
    """Remember a referral's parties (the first saved stay, as in the table)."""
    _pending(tx).parties.setdefault(referral_id, parties)


async def parties(tx: UnitOfWork, referral_id: UUID) -> Parties | None:
    row = await tx.conn.fetchrow(
        "SELECT * FROM referral_parties WHERE referral_id = $1", referral_id
    )
    if row is None:
        pending: _Pending | None = tx.memo.get(_PENDING)
        return pending.parties.get(referral_id) if pending else None
    return Parties(
        sender=FunctionRef(principal=row["sender_principal"], function=row["sender_function"]),
        recipient=FunctionRef(
            principal=row["recipient_principal"], function=row["recipient_function"]
        ),
    )


def watch_deadline(
    tx: UnitOfWork, referral_id: UUID, stage: str, working_days: int, due: datetime
) -> None:
    """Watch a stage's deadline (the first watch of a stage stays, as in the table)."""
    _pending(tx).deadlines.setdefault(
        (referral_id, stage), _Deadline(referral_id, stage, working_days, due)
    )


async def meet_deadlines(
    tx: UnitOfWork, referral_id: UUID, stages: Sequence[str], at: datetime
) -> None:
    pending: _Pending | None = tx.memo.get(_PENDING)
    if pending is not None:
        for stage in stages:
            deadline = pending.deadlines.get((referral_id, stage))
            if deadline is not None and deadline.met_at is None:
                deadline.met_at = at  # met before it is written
    await tx.conn.execute(
        "UPDATE referral_deadlines SET met_at = $3"
        " WHERE referral_id = $1 AND stage = ANY($2::text[]) AND met_at IS NULL",
        referral_id,
        list(stages),
        at,
    )


async def overdue(conn: asyncpg.Connection, now: datetime, limit: int = 100) -> list[Any]:
    return await conn.fetch(
        """SELECT * FROM referral_deadlines d JOIN referral_parties p USING (referral_id)
           WHERE d.met_at IS NULL AND d.overdue_event IS NULL AND d.due_at <= $1
           ORDER BY d.due_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED""",
        now,
        limit,
    )


async def mark_overdue(
    conn: asyncpg.Connection, referral_id: UUID, stage: str, event_id: UUID
) -> None:
    await conn.execute(
        "UPDATE referral_deadlines SET overdue_event = $3 WHERE referral_id = $1 AND stage = $2",
        referral_id,
        stage,
        event_id,
    )


def add_mail(tx: UnitOfWork, **row: Any) -> None:
    """Record a mail to send; it is written with the transaction's end (nothing reads it back)."""
    tx.write_at_end(
        """INSERT INTO deliveries (id, about_event, about_type, kind, principal, function,
                                   mailbox, subject, body, next_attempt_at, created_at)
           SELECT *, now FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                                     $6::text[], $7::text[], $8::text[], $9::text[],
                                     $10::timestamptz[])
                         AS r(id, about_event, about_type, kind, principal, function,
                                mailbox, subject, body, now)
           ON CONFLICT (about_event, principal, function) DO NOTHING""",
        row["id"],
        row["about_event"],
        row["about_type"],
        row["kind"],
        row["principal"],
        row["function"],
        row["mailbox"],
        row["subject"],
        row["body"],
        row["now"],
    )


async def subscriptions_for(conn: asyncpg.Connection, event_type: str) -> list[Any]:
    return await conn.fetch(
        "SELECT * FROM webhook_subscriptions WHERE deleted_at IS NULL AND $1 = ANY(event_types)",
        event_type,
    )


def add_webhook_delivery(
    tx: UnitOfWork,
    *,
    id: UUID,
    subscription_id: UUID,
    about_event: UUID,
    about_type: str,
    payload: bytes,
    now: datetime,
) -> None:
    """Record a webhook call to make; written with the transaction's end, like `add_mail`."""
    tx.write_at_end(
        """INSERT INTO webhook_deliveries (id, subscription_id, about_event, about_type, payload,
                                           next_attempt_at, created_at)
           SELECT *, now FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::bytea[],
                                     $6::timestamptz[])
                         AS r(id, subscription_id, about_event, about_type, payload, now)
           ON CONFLICT (subscription_id, about_event) DO NOTHING""",
        id,
        subscription_id,
        about_event,
        about_type,
        payload,
        now,
    )


async def add_subscription(conn: asyncpg.Connection, **row: Any) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO webhook_subscriptions (id, principal, url, event_types,
                                              include_personal_data, secret, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        row["id"],
        row["principal"],
        row["url"],
        row["event_types"],
        row["include_personal_data"],
        row["secret"],
        row["created_by"],
        row["created_at"],
    )


async def subscriptions(conn: asyncpg.Connection, principal: str) -> list[Any]:
    return await conn.fetch(
        "SELECT * FROM webhook_subscriptions WHERE principal = $1 AND deleted_at IS NULL"
        " ORDER BY created_at",
        principal,
    )


async def subscription(conn: asyncpg.Connection, principal: str, id: UUID) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM webhook_subscriptions WHERE principal = $1 AND id = $2"
        " AND deleted_at IS NULL",
        principal,
        id,
    )


async def delete_subscription(
    conn: asyncpg.Connection, principal: str, id: UUID, at: datetime
) -> bool:
    done = await conn.fetchval(
        "UPDATE webhook_subscriptions SET deleted_at = $3"
        " WHERE principal = $1 AND id = $2 AND deleted_at IS NULL RETURNING true",
        principal,
        id,
        at,
    )
    return bool(done)


async def webhook_log(
    conn: asyncpg.Connection, subscription_id: UUID, status: str | None, limit: int
) -> list[Any]:
    return await conn.fetch(
        """SELECT id, about_event, about_type, status, attempts, last_error, last_status_code,
                  next_attempt_at, created_at, sent_at
           FROM webhook_deliveries WHERE subscription_id = $1 AND ($2::text IS NULL OR status = $2)
           ORDER BY created_at DESC LIMIT $3""",
        subscription_id,
        status,
        limit,
    )


async def mail_log(conn: asyncpg.Connection, status: str | None, limit: int) -> list[Any]:
    return await conn.fetch(
        """SELECT id, about_event, about_type, kind, principal, function, status, attempts,
                  last_error, next_attempt_at, created_at, sent_at
           FROM deliveries WHERE ($1::text IS NULL OR status = $1)
           ORDER BY created_at DESC LIMIT $2""",
        status,
        limit,
    )
