"""Idempotency-Key on POST: a retried request gets the first response, never a second effect.

The key, the caller, a hash of the request and the response are stored in the same transaction
as the effect. A concurrent retry waits on the key's row until the first attempt commits (then
it replays) or rolls back (then it runs). A key reused with another request is refused.
Keys are per caller: two people cannot collide, or see each other's responses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from samverkan.runtime.auth import Caller
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.problems import Problem

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
_PENDING = 0  # status of a row whose transaction has not committed yet


@dataclass(frozen=True)
class Idempotency:
    """One request's key (None when the client sent none) and the fingerprint of its content."""

    key: str | None
    fingerprint: str

    async def respond(
        self,
        uow: UnitOfWork,
        caller: Caller,
        effect: Callable[[UnitOfWork], Awaitable[Any]],
        status_code: int = 200,
    ) -> Response:
        """Run `effect` in `uow` and answer with its result, or replay the stored answer."""
        async with uow as tx:
            replayed = await self.replay(tx, caller)
            if replayed is not None:
                return replayed
            content = jsonable_encoder(await effect(tx))
            await self.remember(tx, caller, status_code, content)
        return JSONResponse(content, status_code=status_code)

    async def replay(self, tx: UnitOfWork, caller: Caller) -> Response | None:
        """Claim the key in `tx`; the stored response if an earlier request already used it."""
        if self.key is None:
            return None
        claimed = await tx.conn.fetchval(
            "INSERT INTO idempotency_keys (caller, key, request_hash, status_code, response)"
            " VALUES ($1, $2, $3, $4, 'null') ON CONFLICT DO NOTHING RETURNING true",
            _caller(caller),
            self.key,
            self.fingerprint,
            _PENDING,
        )
        if claimed:
            return None
        row = await tx.conn.fetchrow(
            "SELECT request_hash, status_code, response FROM idempotency_keys"
            " WHERE caller = $1 AND key = $2",
            _caller(caller),
            self.key,
        )
        if row["request_hash"] != self.fingerprint:
            raise Problem(
                422,
                "Idempotency key reused",
                f"The {HEADER} was already used for a different request; use a new key.",
            )
        if row["status_code"] == _PENDING:  # only visible if a lock timeout let us through
            raise Problem(409, "Request in progress", f"A request with this {HEADER} is running.")
        return JSONResponse(
            row["response"], status_code=row["status_code"], headers={REPLAYED_HEADER: "true"}
        )

    async def remember(
        self, tx: UnitOfWork, caller: Caller, status_code: int, content: Any
    ) -> None:
        if self.key is None:
            return
        await tx.conn.execute(
            "UPDATE idempotency_keys SET status_code = $3, response = $4"
            " WHERE caller = $1 AND key = $2",
            _caller(caller),
            self.key,
            status_code,
            content,
        )


async def idempotency(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="A client-chosen unique key: a retry with the same key and body gets "
            "the first response instead of doing the effect again.",
        ),
    ] = None,
) -> Idempotency:
    """A FastAPI dependency: the request's Idempotency-Key and content fingerprint."""
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_KEY_LENGTH:
        raise Problem(
            422, "Invalid idempotency key", f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters."
        )
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\0")
    digest.update(await request.body())
    return Idempotency(idempotency_key, digest.hexdigest())


def _caller(caller: Caller) -> str:
    return f"{caller.principal}/{caller.person}/{caller.function or '-'}"
