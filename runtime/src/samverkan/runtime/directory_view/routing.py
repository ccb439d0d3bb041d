"""Routing: who is the counterpart of a function for a need on a day, or exactly why there is none.

A formalised contact routes only when it is confirmed: the counterpart principal has published
the mirrored side (its function → ours, same need); within one principal no mirror is needed.
Both sides, both functions and both principals must be current on the day. When one function has
confirmed, valid contacts to two different counterparts for one need, routing refuses
(`AmbiguousRoute`) instead of choosing: a principal fixes that by retiring or ending one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from samverkan.contracts.referral import FunctionRef, Need
from samverkan.runtime.db import UnitOfWork


class NoRoute(LookupError):
    """No valid formalised contact exists; the message names what is missing."""


class AmbiguousRoute(NoRoute):
    """More than one confirmed, valid contact leads to different counterparts; none is chosen."""


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


_FUNCTION = """SELECT f.*, p.retired_at AS principal_retired_at
               FROM dir_functions f LEFT JOIN dir_principals p ON p.principal = f.principal
               WHERE f.principal = $1 AND f.function = $2"""
# Upserts of entries a batch applied together holds back (UnitOfWork.write_held); every read
# of the directory view in a transaction sends them first.
HELD = "directory_view"
_REMEMBERED = "directory_view.functions"  # in a transaction's memo: function rows it has read


async def exists(tx: UnitOfWork, ref: FunctionRef) -> bool:
    """Whether the function is in this copy of the directory at all (valid, expired or retired)."""
    return await _remembered(tx, ref) is not None


async def function(tx: UnitOfWork, ref: FunctionRef, today: date) -> Function:
    """The function if it is current on `today`; NoRoute naming why not otherwise."""
    return _current(await _remembered(tx, ref), ref, today)


async def _remembered(tx: UnitOfWork, ref: FunctionRef) -> asyncpg.Record | None:
    """The function's row as the transaction first read it: a batch of events to one function
    looks it up once. Applying a directory event in the transaction forgets what it read (see
    `forget`), as must rolling back a savepoint in which one was applied; what others commit
    meanwhile counts from the next transaction on."""
    rows: dict[FunctionRef, asyncpg.Record | None] = tx.memo.setdefault(_REMEMBERED, {})
    if ref not in rows:
        await tx.flush(HELD)
        rows[ref] = await _read(tx.conn, ref)
    return rows[ref]


async def _read(conn: asyncpg.Connection, ref: FunctionRef) -> asyncpg.Record | None:
    return await conn.fetchrow(_FUNCTION, ref.principal, ref.function)


def forget(tx: UnitOfWork) -> None:
    """The directory changes in this transaction: read it afresh."""
    tx.memo.pop(_REMEMBERED, None)


def _current(row: asyncpg.Record | None, ref: FunctionRef, today: date) -> Function:
    problem = _function_problem(row, ref, today)
    if problem is not None:
        raise NoRoute(problem)
    assert row is not None
    return Function(
        row["principal"], row["function"], row["name"], row["unit_name"], row["mailbox"]
    )


def _function_problem(row: asyncpg.Record | None, ref: FunctionRef, today: date) -> str | None:
    name = f"function {ref.principal}/{ref.function}"
    if row is None:
        return f"{name} is not in the directory"
    if row["principal_retired_at"] is not None:
        return (
            f"principal {ref.principal} left the network on {row['principal_retired_at']:%Y-%m-%d}"
        )
    if row["retired_at"] is not None:
        return f"{name} was retired on {row['retired_at']:%Y-%m-%d}"
    return _validity_problem(name, row["valid_from"], row["valid_to"], today)


def _validity_problem(
    name: str, valid_from: date, valid_to: date | None, today: date
) -> str | None:
    if valid_from > today:
        return f"{name} is valid only from {valid_from.isoformat()}"
    if valid_to is not None and valid_to < today:
        return f"{name} expired on {valid_to.isoformat()}"
    return None


async def counterpart(
    conn: asyncpg.Connection, of: FunctionRef, need: Need, today: date
) -> Function:
    """Who is the counterpart of function `of` for `need`, today? (On a bare connection, as the
    directory's API asks it: nothing is remembered.)"""
    _current(await _read(conn, of), of, today)
    contacts = await conn.fetch(
        "SELECT * FROM dir_contacts WHERE principal = $1 AND function = $2 AND need = $3"
        " ORDER BY contact",
        of.principal,
        of.function,
        need.value,
    )
    if not contacts:
        raise NoRoute(
            f"function {of.principal}/{of.function} has no formalised contact for need"
            f" '{need.value}'"
        )
    found: dict[FunctionRef, Function] = {}
    problems: list[str] = []
    for contact in contacts:
        target, problem = await _follow(conn, of, contact, today)
        if target is None:
            problems.append(str(problem))
        else:
            found.setdefault(target.ref, target)
    if not found:
        raise NoRoute(
            f"no route from {of.principal}/{of.function} for need '{need.value}' on"
            f" {today.isoformat()}: " + "; ".join(problems)
        )
    if len(found) > 1:
        names = ", ".join(f"{ref.principal}/{ref.function}" for ref in found)
        raise AmbiguousRoute(
            f"{of.principal}/{of.function} has confirmed, valid contacts for need '{need.value}'"
            f" to more than one counterpart ({names}); {of.principal} must retire or end one"
        )
    return next(iter(found.values()))


async def _follow(
    conn: asyncpg.Connection, of: FunctionRef, contact: asyncpg.Record, today: date
) -> tuple[Function | None, str | None]:
    """The counterpart this contact routes to today, or why it does not."""
    name = f"contact {of.principal}/{contact['contact']}"
    target = FunctionRef(
        principal=contact["counterpart_principal"], function=contact["counterpart_function"]
    )
    if contact["retired_at"] is not None:
        return None, f"{name} was retired on {contact['retired_at']:%Y-%m-%d}"
    problem = _validity_problem(name, contact["valid_from"], contact["valid_to"], today)
    if problem is None and target.principal != of.principal:
        problem = await _confirmation_problem(conn, of, target, contact, today)
    if problem is None:
        try:
            return _current(await _read(conn, target), target, today), None
        except NoRoute as exc:
            problem = f"counterpart of {name}: {exc}"
    return None, problem


async def _confirmation_problem(
    conn: asyncpg.Connection,
    of: FunctionRef,
    target: FunctionRef,
    contact: asyncpg.Record,
    today: date,
) -> str | None:
    mirrors = await conn.fetch(
        """SELECT * FROM dir_contacts WHERE principal = $1 AND function = $2
             AND counterpart_principal = $3 AND counterpart_function = $4 AND need = $5
           ORDER BY contact""",
        target.principal,
        target.function,
        of.principal,
        of.function,
        contact["need"],
    )
    unconfirmed = (
        f"contact {of.principal}/{contact['contact']} to {target.principal}/{target.function}"
        f" is proposed but not confirmed by {target.principal}"
    )
    if not mirrors:
        return unconfirmed
    problems = []
    for mirror in mirrors:
        mirror_name = f"{target.principal}'s confirmation {target.principal}/{mirror['contact']}"
        if mirror["retired_at"] is not None:
            problems.append(f"{mirror_name} was retired on {mirror['retired_at']:%Y-%m-%d}")
            continue
        problem = _validity_problem(mirror_name, mirror["valid_from"], mirror["valid_to"], today)
        if problem is None:
            return None
        problems.append(problem)
    return f"{unconfirmed} on {today.isoformat()}: " + "; ".join(problems)
