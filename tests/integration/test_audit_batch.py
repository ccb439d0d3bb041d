"""A batch the audit service records together loses no entry when acting on one of its events
fails: the batch is recorded again in parts, the failing event alone, and the failure costs
that action only."""

from __future__ import annotations

import gc
import logging
from datetime import date

import pytest
from support import (
    eventually,
    referral_sent,
    running,
    seed_before_start,
    send_in_order,
    settings,
    signed,
    unique,
)

from samverkan.audit import service
from samverkan.audit.app import build
from samverkan.audit.settings import AuditSettings
from samverkan.contracts import CloudEvent
from samverkan.contracts.directory import FunctionPublished, UnitKind
from samverkan.runtime.db import UnitOfWork

pytestmark = pytest.mark.integration


def _function(source: str, about: str, name: str) -> CloudEvent:
    data = FunctionPublished(
        principal=about,
        function=name,
        name=name,
        unit="enheten",
        unit_name="Enheten",
        unit_kind=UnitKind.SCHOOL,
        mailbox=f"{name}@{about}.example",
        valid_from=date(2025, 1, 1),
    )
    return CloudEvent.wrap(data, principal=source, service="directory")


async def test_a_batch_records_every_event_even_when_an_action_fails(
    database: str,
    kafka_bootstrap: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    school, region = unique("school"), unique("region")
    node, app = build(
        settings(
            AuditSettings,
            principal=region,
            dsn=database,
            kafka=kafka_bootstrap,
            pseudonym_key="pseudonym-key",
        )
    )
    # Directory events are acted on: applied to this node's copy of the directory.
    backlog = [
        referral_sent(school, region),
        _function(school, school, "skolskoterska"),
        referral_sent(school, region),
    ]
    # A principal may describe only itself: the school's entry about the region is refused
    # there, so it is recorded but not applied.
    forged = [_function(school, region, "kurator"), referral_sent(school, region)]
    # Python's cyclic collector is paused while a batch is recorded together, and only then.
    seen: list[tuple[bool, bool]] = []  # (recorded together, collector enabled), per event
    record = service.record

    async def watched(tx: UnitOfWork, ctx: object, event: CloudEvent, kafka: object) -> None:
        seen.append((tx.applies_together, gc.isenabled()))
        await record(tx, ctx, event, kafka)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "record", watched)
    await seed_before_start(node, (e.sourceprincipal for e in backlog), backlog=signed(backlog))
    caplog.set_level(logging.DEBUG, logger="samverkan.runtime.consumer")

    async def recorded(events: list[CloudEvent]) -> set[str]:
        async def probe() -> set[str] | None:
            rows = await node.pool.fetch("SELECT event_id FROM audit_log")
            ids = [str(r["event_id"]) for r in rows]
            return set(ids) if len(ids) >= len(events) else None

        return await eventually("every event to be recorded", probe)

    def logged(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records)

    async with running(node, app):
        assert await recorded(backlog) == {str(e.id) for e in backlog}
        assert not logged("could not be applied together")  # the backlog was recorded together

        await send_in_order(kafka_bootstrap, forged)
        assert await recorded(backlog + forged) == {str(e.id) for e in backlog + forged}
        functions = await node.pool.fetch("SELECT principal, function FROM dir_functions")
    assert [(r["principal"], r["function"]) for r in functions] == [(school, "skolskoterska")]
    assert logged("could not be applied together") and logged("could not act") == 1
    assert node.consumer.applied_total == len(backlog + forged)
    assert node.consumer.dead_lettered_total == 0
    assert set(seen) == {(True, False), (False, True)}  # both happened, each as it should
    assert gc.isenabled()
