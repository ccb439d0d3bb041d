"""The directory as every service sees it: a read model built from directory events, and routing.

A principal may only describe itself: an event about principal X must come from principal X.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from samverkan.contracts import CloudEvent
from samverkan.contracts.directory import (
    FormalisedContactPublished,
    FunctionPublished,
    PrincipalPublished,
)
from samverkan.contracts.referral import FunctionRef, Need
from samverkan.runtime.consumer import Refused
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.node import Node

DIRECTORY_EVENTS = (PrincipalPublished, FunctionPublished, FormalisedContactPublished)


class NoRoute(LookupError):
    """No valid formalised contact exists; the message names what is missing."""


@dataclass(frozen=True)
class Function:
    principal: str
    function: str
    name: str
    unit_name: str
    mailbox: str

    @property
    def ref(self) -> FunctionRef:
        return FunctionRef(principal=self.principal, function=self.function)


async def apply(tx: UnitOfWork, event: CloudEvent) -> None:
    """Upsert one directory entry into the read model (a consumer handler)."""
    data = event.data
    if getattr(data, "principal", None) != event.sourceprincipal:
        raise Refused("a principal may only publish its own directory entries")
    if isinstance(data, PrincipalPublished):
        await tx.conn.execute(
            """INSERT INTO dir_principals VALUES ($1, $2, $3, $4)
               ON CONFLICT (principal) DO UPDATE SET name = $2, kind = $3, organisation_number = $4""",
            data.principal,
            data.name,
            data.kind.value,
            data.organisation_number,
        )
    elif isinstance(data, FunctionPublished):
        await tx.conn.execute(
            """INSERT INTO dir_functions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (principal, function) DO UPDATE SET name = $3, unit = $4,
                 unit_name = $5, unit_kind = $6, mailbox = $7, valid_from = $8, valid_to = $9""",
            data.principal,
            data.function,
            data.name,
            data.unit,
            data.unit_name,
            data.unit_kind.value,
            data.mailbox,
            data.valid_from,
            data.valid_to,
        )
    elif isinstance(data, FormalisedContactPublished):
        await tx.conn.execute(
            """INSERT INTO dir_contacts VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (principal, contact) DO UPDATE SET function = $3,
                 counterpart_principal = $4, counterpart_function = $5, need = $6,
                 valid_from = $7, valid_to = $8""",
            data.principal,
            data.contact,
            data.function,
            data.counterpart_principal,
            data.counterpart_function,
            data.need.value,
            data.valid_from,
            data.valid_to,
        )


_VALID = "valid_from <= $3 AND (valid_to IS NULL OR valid_to >= $3)"


async def exists(conn: asyncpg.Connection, ref: FunctionRef) -> bool:
    """Whether the function is in this copy of the directory at all (valid or not)."""
    return bool(
        await conn.fetchval(
            "SELECT true FROM dir_functions WHERE principal = $1 AND function = $2",
            ref.principal,
            ref.function,
        )
    )


async def function(conn: asyncpg.Connection, ref: FunctionRef, today: date) -> Function:
    row = await conn.fetchrow(
        f"SELECT * FROM dir_functions WHERE principal = $1 AND function = $2 AND {_VALID}",
        ref.principal,
        ref.function,
        today,
    )
    if row is None:
        raise NoRoute(
            f"function {ref.principal}/{ref.function} is not in the directory or not valid today"
        )
    return Function(
        row["principal"], row["function"], row["name"], row["unit_name"], row["mailbox"]
    )


async def counterpart(
    conn: asyncpg.Connection, of: FunctionRef, need: Need, today: date
) -> Function:
    """Who is the counterpart of function `of` for `need`, today?"""
    await function(conn, of, today)
    rows = await conn.fetch(
        f"SELECT * FROM dir_contacts WHERE principal = $1 AND function = $2 AND need = $4 AND {_VALID}"
        " ORDER BY contact",
        of.principal,
        of.function,
        today,
        need.value,
    )
    if not rows:
        raise NoRoute(
            f"function {of.principal}/{of.function} has no formalised contact for need"
            f" '{need.value}' valid on {today.isoformat()}"
        )
    target = FunctionRef(
        principal=rows[0]["counterpart_principal"], function=rows[0]["counterpart_function"]
    )
    return await function(conn, target, today)


def register(node: Node) -> None:
    """Keep this service's copy of the directory current from directory events."""
    for event_class in DIRECTORY_EVENTS:
        node.on(event_class, apply, addressed_to_me=False)
