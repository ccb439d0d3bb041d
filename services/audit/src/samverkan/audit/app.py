"""Composition root of the audit service, and its `verify` command."""

from __future__ import annotations

import sys

from aiokafka import ConsumerRecord
from fastapi import FastAPI

from samverkan.audit import api, service
from samverkan.audit.settings import AuditSettings
from samverkan.contracts import CloudEvent, topics
from samverkan.runtime import cli
from samverkan.runtime.db import UnitOfWork, connect
from samverkan.runtime.migrations import MigrationSource
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

MIGRATIONS = MigrationSource("audit", "samverkan.audit")


def build(settings: ServiceSettings) -> tuple[Node, FastAPI]:
    assert isinstance(settings, AuditSettings)
    key = settings.pseudonym_key.get_secret_value().encode()
    node = Node(settings, service="audit", migrations=[MIGRATIONS], subscribe_to=topics.ALL)

    async def record(tx: UnitOfWork, event: CloudEvent, kafka: ConsumerRecord) -> None:
        await service.record(tx, key, event, kafka)

    node.tap(record)
    app = node.http_app(api.router, title="Samverkan audit")
    app.state.pseudonym_key = key
    return node, app


async def _verify(settings: ServiceSettings) -> int:
    conn = await connect(settings.database_url)
    try:
        result = await service.verify(conn)
    finally:
        await conn.close()
    if result.ok:
        print(f"ok: {result.entries} entries, head {result.head.hex()}")
        return 0
    print(f"FAILED at entry {result.first_bad_seq}: {result.problem}", file=sys.stderr)
    return 1


def main() -> int:
    verify = (
        "recompute the chain from the stored entries; exit 1 naming the first bad one",
        _verify,
    )
    return cli.main("audit", AuditSettings, build, extra={"verify": verify})
