"""Composition root of the audit service, and its `verify`, `grant` and `verify-export` commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

from aiokafka import ConsumerRecord
from fastapi import FastAPI

from samverkan.audit import api, checkpoints, exports, service
from samverkan.audit.context import AuditContext, KeyLookup
from samverkan.audit.note import NoteSigner
from samverkan.audit.privileges import grant_service_role
from samverkan.audit.settings import AuditSettings
from samverkan.contracts import CloudEvent, topics
from samverkan.runtime import cli, directory_view
from samverkan.runtime.db import UnitOfWork, connect
from samverkan.runtime.migrations import DIRECTORY_VIEW, MigrationSource, migrate
from samverkan.runtime.node import Node
from samverkan.runtime.services import ServiceSpec
from samverkan.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

MIGRATIONS = MigrationSource("audit", "samverkan.audit")
SERVICE = ServiceSpec("audit", AuditSettings, (DIRECTORY_VIEW, MIGRATIONS))


def build(settings: ServiceSettings, *, keys: KeyLookup | None = None) -> tuple[Node, FastAPI]:
    """The audit node. `keys` finds other principals' public keys; by default the directory view's."""
    assert isinstance(settings, AuditSettings)
    node = Node(
        settings, service="audit", migrations=list(SERVICE.own_migrations), subscribe_to=topics.ALL
    )
    signing_key = settings.node.signing_key
    ctx = AuditContext(
        principal=settings.principal,
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        wrap=node.event,
        signer=NoteSigner(signing_key.get_secret_value()) if signing_key else None,
        key_id=settings.node.signing_key_id,
        keys=keys or getattr(directory_view, "key", None),
    )
    if ctx.signer is None:
        log.warning("no SAMVERKAN_SIGNING_KEY: this audit log is not checkpointed or witnessed")
    elif ctx.keys is None:
        log.warning("no public-key directory yet: other principals' checkpoints are not witnessed")

    async def record(tx: UnitOfWork, event: CloudEvent, kafka: ConsumerRecord) -> None:
        await service.record(tx, ctx, event, kafka)

    async def checkpointer() -> None:
        while True:
            await asyncio.sleep(settings.checkpoint_interval_s)
            try:
                async with node.uow() as tx:
                    await checkpoints.make(tx, ctx)
            except Exception:
                log.exception("checkpoint failed; will try again")

    node.tap(record)
    if ctx.signer is not None:
        node.background(checkpointer)
    app = node.http_app(api.router, title="Samverkan audit")
    app.state.audit = ctx
    serve = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare_database(settings, node)
        async with serve(app):
            yield

    app.router.lifespan_context = lifespan
    return node, app


async def prepare_database(settings: ServiceSettings, node: Node) -> None:
    """With a separate owner role: migrate as the owner, then grant the service role its rights."""
    if settings.database_owner_url is not None and settings.migrate_on_start:
        await migrate(settings.migration_url, node.migrations)
        await grant_service_role(settings.migration_url, settings.dsn)


async def _verify(settings: ServiceSettings, args: argparse.Namespace) -> int:
    conn = await connect(settings.dsn)
    try:
        result = await service.verify(conn, full=args.full)
    finally:
        await conn.close()
    if not result.ok:
        print(f"FAILED at entry {result.first_bad_seq}: {result.problem}", file=sys.stderr)
        return 1
    against = f", witnessed checkpoint {result.checkpoint}" if result.checkpoint else ""
    print(f"ok: {result.entries} entries, head {result.head.hex()}{against}")
    print(f"  {service.columns_checked(result)}")
    if not result.leaf_check and not args.full:
        print(f"warning: {service.LEAF_CHECK_MISSING}", file=sys.stderr)
    return 0


async def _grant(settings: ServiceSettings, args: argparse.Namespace) -> int:
    node, _ = build(settings)
    await migrate(settings.migration_url, node.migrations)
    role = await grant_service_role(settings.migration_url, settings.dsn)
    print(f"granted INSERT and SELECT to {role}" if role else "service and owner are one role")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["verify-export"]:
        return exports.main(args[1:])  # offline: needs no settings, database or broker
    return cli.main(
        "audit",
        AuditSettings,
        build,
        argv=args,
        extra={
            "verify": cli.Command(
                "rehash every entry, link and witnessed Merkle root; exit 1 naming the first bad"
                " entry",
                _verify,
                lambda p: p.add_argument(
                    "--full",
                    action="store_true",
                    help="rebuild every entry from its columns, not trusting the database's leaf"
                    " check (slower)",
                ),
            ),
            "grant": cli.Command(
                "migrate as the owner and grant the service role INSERT and SELECT", _grant
            ),
        },
    )
