"""Shared by the referral service's integration tests (this module holds no tests).

Two referral nodes on real Postgres. Kafka is either the real embedded broker, or left out: then
`Harness.deliver` carries each node's outbox rows to the other node's real consumer handlers, so
API tests run fast and deterministically while still applying every event through the inbox.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from support import SECRET, running, school_to_health_centre, seed_directory, settings

from samverkan.contracts import CloudEvent
from samverkan.contracts.directory import FunctionPublished, UnitKind
from samverkan.devnet.embedded import EmbeddedPostgres
from samverkan.devnet.network import external_database
from samverkan.referral import consumers
from samverkan.referral.app import build
from samverkan.referral.service.context import Context
from samverkan.referral.settings import ReferralSettings
from samverkan.runtime.auth import Role, issue_token
from samverkan.runtime.consumer import Handler
from samverkan.runtime.node import Node

CHILD = {"personnummer": "20120315-1236", "name": "Alva Exempel"}
NURSE, UPH, SOCIONOM, INTAKE = "skolskoterska", "uph", "socionom", "mottagning"
START = date(2025, 1, 1)


class Clock:
    """The nodes' clock: real time until a test moves it."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def make_database(postgres: EmbeddedPostgres | None) -> str:
    name = f"t_{secrets.token_hex(6)}"
    if postgres is None:
        return external_database(os.environ["SAMVERKAN_DEV_POSTGRES_URL"], name)
    return postgres.create_database(name)


def extra_functions(principal: str, *functions: tuple[str, UnitKind]) -> list[CloudEvent]:
    return [
        CloudEvent.wrap(
            FunctionPublished(
                principal=principal,
                function=function,
                name=function.title(),
                unit=f"unit-{function}",
                unit_name=function.title(),
                unit_kind=kind,
                mailbox=f"{function}@{principal}.example",
                valid_from=START,
            ),
            principal=principal,
            service="directory",
        )
        for function, kind in functions
    ]


def directory(school: str, region: str) -> list[CloudEvent]:
    """School nurse ↔ UPH (formalised), plus social services at the school's principal and a
    socionom at the region's, named directly (no formalised contact needed for those)."""
    return [
        *school_to_health_centre(school, region),
        *extra_functions(school, (INTAKE, UnitKind.SOCIAL_SERVICES_OFFICE)),
        *extra_functions(
            region, (SOCIONOM, UnitKind.HEALTH_CENTRE), (INTAKE, UnitKind.SOCIAL_SERVICES_OFFICE)
        ),
    ]


def auth(
    principal: str,
    function: str | None,
    *,
    roles: tuple[Role, ...] = (Role.STAFF,),
    ttl: timedelta = timedelta(minutes=10),
    person: str | None = None,
) -> dict[str, str]:
    token = issue_token(
        SECRET,
        person=person or f"SE2120001231-{function or 'x'}1",
        principal=principal,
        function=function,
        roles=list(roles),
        ttl=ttl,
    )
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Side:
    """One principal's referral service: its node, context, HTTP client and event handlers."""

    principal: str
    node: Node
    ctx: Context
    client: httpx.AsyncClient
    handlers: dict[str, Handler] = field(default_factory=dict)
    delivered: int = 0  # outbox rows already carried

    def as_(self, function: str | None, **kw: Any) -> dict[str, str]:
        return auth(self.principal, function, **kw)

    async def outbox(self, type_suffix: str = "") -> list[CloudEvent]:
        rows = await self.node.pool.fetch("SELECT value, headers FROM outbox ORDER BY id")
        events = [
            CloudEvent.from_kafka(r["value"], [(k, v.encode()) for k, v in r["headers"]])
            for r in rows
        ]
        return [e for e in events if e.type.endswith(type_suffix)]


@dataclass
class Harness:
    school: Side
    region: Side
    clock: Clock

    def side(self, principal: str | None) -> Side | None:
        return {s.principal: s for s in (self.school, self.region)}.get(principal or "")

    async def deliver(self) -> int:
        """Carry new outbox rows to the addressed node's handlers until nothing moves."""
        carried = 0
        while True:
            moved = 0
            for source in (self.school, self.region):
                rows = await source.node.pool.fetch(
                    "SELECT value, headers FROM outbox ORDER BY id OFFSET $1", source.delivered
                )
                source.delivered += len(rows)
                for row in rows:
                    headers = [(k, v.encode()) for k, v in row["headers"]]
                    event = CloudEvent.from_kafka(row["value"], headers)
                    target = self.side(event.recipientprincipal)
                    handler = target.handlers.get(event.type) if target else None
                    if target is None or handler is None:
                        continue
                    async with target.node.uow() as tx:
                        if await tx.claim(target.node.group, [event.id]):
                            await handler(tx, event)
                    moved += 1
            carried += moved
            if not moved:
                return carried


@contextlib.asynccontextmanager
async def harness(
    postgres: EmbeddedPostgres | None, kafka: str, school: str, region: str
) -> AsyncIterator[Harness]:
    """Two referral nodes with the directory seeded. With kafka='' no broker is reachable."""
    clock = Clock()
    bootstrap = kafka or "127.0.0.1:9"  # the discard port: nothing answers, the outbox waits
    sides: list[Side] = []
    async with contextlib.AsyncExitStack() as stack:
        for principal in (school, region):
            node, app = build(
                settings(
                    ReferralSettings,
                    principal=principal,
                    dsn=make_database(postgres),
                    kafka=bootstrap,
                ),
                clock=clock,
                expiry_interval_s=0.2,
            )
            client = await stack.enter_async_context(running(node, app))
            await seed_directory(node, directory(school, region))
            side = Side(principal, node, app.state.referral, client)
            consumers.register(_collect(side.handlers), side.ctx)
            sides.append(side)
        yield Harness(sides[0], sides[1], clock)


def _collect(into: dict[str, Handler]) -> Callable[..., None]:
    def on(event_class: type, handler: Handler, *, addressed_to_me: bool) -> None:
        into[event_class.TYPE] = handler

    return on
