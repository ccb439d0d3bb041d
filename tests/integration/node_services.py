"""One principal's four services in-process on real Postgres, for the tests that probe every
service alike (authorisation, hostile HTTP and events, OpenAPI fuzzing). This module holds no tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from support import running, settings

from samverkan.audit.app import build as build_audit
from samverkan.audit.settings import AuditSettings
from samverkan.directory.app import build as build_directory
from samverkan.directory.settings import DirectorySettings
from samverkan.notification.app import build as build_notification
from samverkan.notification.settings import NotificationSettings
from samverkan.referral.app import build as build_referral
from samverkan.referral.settings import ReferralSettings
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

SERVICES = ("directory", "referral", "notification", "audit")
# Nobody answers on the discard port: the HTTP side runs, the outbox waits for a broker.
NO_BROKER = "127.0.0.1:9"
# Answer anyone: liveness, readiness and the API's own description.
PUBLIC = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
    }
)

_BUILDS: dict[str, tuple[type[ServiceSettings], Callable[..., tuple[Node, FastAPI]], dict]] = {
    "directory": (DirectorySettings, build_directory, {}),
    "referral": (ReferralSettings, build_referral, {}),
    "notification": (NotificationSettings, build_notification, {}),
    "audit": (AuditSettings, build_audit, {"pseudonym_key": "pseudonym-key-for-tests"}),
}


@dataclass
class Service:
    name: str
    node: Node
    app: FastAPI
    client: httpx.AsyncClient


def build(
    service: str, *, principal: str, dsn: str, kafka: str, **extra: Any
) -> tuple[Node, FastAPI]:
    cls, build_, defaults = _BUILDS[service]
    config = settings(cls, principal=principal, dsn=dsn, kafka=kafka, **{**defaults, **extra})
    return build_(config)


@contextlib.asynccontextmanager
async def services(
    principal: str,
    databases: Callable[[], str],
    kafka: str = NO_BROKER,
    names: tuple[str, ...] = SERVICES,
    **extra: Any,
) -> AsyncIterator[dict[str, Service]]:
    """These services of `principal`, each on a new database, running until the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        found = {}
        for name in names:
            node, app = build(name, principal=principal, dsn=databases(), kafka=kafka, **extra)
            client = await stack.enter_async_context(running(node, app))
            found[name] = Service(name, node, app, client)
        yield found


def endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app answers, HEAD aside (it mirrors GET)."""
    return {
        (method, route.path or "")
        for route in iter_route_contexts(app.routes)
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD"
    }
