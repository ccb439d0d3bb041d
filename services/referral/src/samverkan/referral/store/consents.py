"""SQL for the consents table: consents held here and copies of other holders' consents."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from samverkan.contracts.consent import ConsentScope, MaturityAssessment
from samverkan.contracts.parties import Child, Decider, FunctionRef
from samverkan.referral.domain.consent import Consent, ConsentState


def _to_row(c: Consent) -> tuple[Any, ...]:
    return (
        c.id,
        c.held_here,
        c.holder.principal,
        c.holder.function,
        c.state.value,
        c.child.model_dump(mode="json") if c.child else None,
        c.scope.model_dump(mode="json") if c.scope else None,
        c.decided_by.value if c.decided_by else None,
        c.guardians_consenting,
        c.maturity.model_dump(mode="json") if c.maturity else None,
        c.recorded_by,
        c.given_at,
        c.scope.valid_until if c.scope else None,
        c.ended_at,
        c.ended_by.value if c.ended_by else None,
    )


def _from_row(row: asyncpg.Record) -> Consent:
    return Consent(
        id=row["id"],
        held_here=row["held_here"],
        holder=FunctionRef(principal=row["holder_principal"], function=row["holder_function"]),
        state=ConsentState(row["state"]),
        child=Child.model_validate(row["child"]) if row["child"] else None,
        scope=ConsentScope.model_validate(row["scope"]) if row["scope"] else None,
        decided_by=Decider(row["decided_by"]) if row["decided_by"] else None,
        guardians_consenting=row["guardians"],
        maturity=MaturityAssessment.model_validate(row["maturity"]) if row["maturity"] else None,
        recorded_by=row["recorded_by"],
        given_at=row["given_at"],
        ended_at=row["ended_at"],
        ended_by=Decider(row["ended_by"]) if row["ended_by"] else None,
    )


async def get(
    conn: asyncpg.Connection, consent_id: UUID, *, for_update: bool = False
) -> Consent | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM consents WHERE id = $1{lock}", consent_id)
    return _from_row(row) if row else None


async def save(conn: asyncpg.Connection, consent: Consent) -> None:
    await conn.execute(
        """INSERT INTO consents (id, held_here, holder_principal, holder_function, state, child,
                                 scope, decided_by, guardians, maturity, recorded_by, given_at,
                                 valid_until, ended_at, ended_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (id) DO UPDATE SET state = $5, child = $6, scope = $7, decided_by = $8,
             guardians = $9, maturity = $10, recorded_by = $11, given_at = $12, valid_until = $13,
             ended_at = $14, ended_by = $15""",
        *_to_row(consent),
    )


async def due_to_expire(conn: asyncpg.Connection, today: date, limit: int = 100) -> list[Consent]:
    """Active consents held here whose last valid day has passed; locked, skipping busy ones."""
    rows = await conn.fetch(
        "SELECT * FROM consents WHERE held_here AND state = 'active' AND valid_until < $1"
        " ORDER BY valid_until LIMIT $2 FOR UPDATE SKIP LOCKED",
        today,
        limit,
    )
    return [_from_row(r) for r in rows]


async def held_by(
    conn: asyncpg.Connection, holder: FunctionRef, limit: int, offset: int
) -> tuple[list[Consent], int]:
    where = "held_here AND holder_principal = $1 AND holder_function = $2"
    total = await conn.fetchval(
        f"SELECT count(*) FROM consents WHERE {where}", holder.principal, holder.function
    )
    rows = await conn.fetch(
        f"SELECT * FROM consents WHERE {where} ORDER BY given_at DESC, id LIMIT $3 OFFSET $4",
        holder.principal,
        holder.function,
        limit,
        offset,
    )
    return [_from_row(r) for r in rows], total
