"""Bearer-token authentication of staff, admins and auditors (OIDC-shaped JWT claims).

Claims: `sub` (HSA-style person id), `org` (principal), `function` (the function the person acts
in), `roles` (staff, admin, auditor). A development issuer (`issue_token`) signs with the shared
HS256 secret; production verifies the identity provider's key instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from samverkan.runtime.problems import Problem
from samverkan.runtime.settings import NodeSettings


class Role(StrEnum):
    STAFF = "staff"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Caller(BaseModel):
    """The authenticated person and the function and principal they act for."""

    person: str
    principal: str
    function: str | None
    roles: frozenset[Role]


_bearer = HTTPBearer(auto_error=False)
_ROLE_NAMES = frozenset(r.value for r in Role)  # unknown roles from the issuer are ignored


def issue_token(
    secret: str,
    *,
    person: str,
    principal: str,
    function: str | None,
    roles: list[Role],
    issuer: str = "samverkan-dev",
    audience: str = "samverkan",
    ttl: timedelta = timedelta(hours=8),
) -> str:
    """The development issuer: an HS256 token the node accepts when it shares `secret`."""
    now = datetime.now(UTC)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": person,
        "org": principal,
        "function": function,
        "roles": [r.value for r in roles],
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def require(role: Role) -> Callable[..., Awaitable[Caller]]:
    """A FastAPI dependency: the caller, who must hold `role` at this node's principal. (Async,
    as every dependency here: FastAPI runs a synchronous one on a worker thread, a hop there
    and back on every request for a few microseconds of work.)"""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        settings: NodeSettings = request.app.state.node_settings
        if credentials is None:
            raise Problem(401, "Unauthenticated", "A bearer token is required.")
        try:
            claims = jwt.decode(
                credentials.credentials,
                settings.auth_jwt_key.get_secret_value(),
                algorithms=[settings.auth_jwt_algorithm],
                audience=settings.auth_jwt_audience,
                issuer=settings.auth_jwt_issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Problem(
                401, "Unauthenticated", f"The bearer token is not valid: {exc}."
            ) from None
        try:
            caller = Caller(
                person=claims["sub"],
                principal=claims["org"],
                function=claims.get("function"),
                roles=frozenset(Role(r) for r in claims.get("roles", []) if r in _ROLE_NAMES),
            )
        except (KeyError, ValueError):
            raise Problem(401, "Unauthenticated", "The token lacks the org claim.") from None
        if caller.principal != settings.principal:
            raise Problem(403, "Forbidden", "The token belongs to another principal.")
        if role not in caller.roles:
            raise Problem(403, "Forbidden", f"This requires the role {role.value!r}.")
        if role is Role.STAFF and not caller.function:
            raise Problem(403, "Forbidden", "Staff tokens must name the function acted in.")
        return caller

    return dependency
