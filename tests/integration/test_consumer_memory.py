"""A consumed batch is freed once it is applied, whatever the handler started on the way (asyncpg
starts five-minute timers, per prepared statement and per connection back in the pool, and a
timer keeps the context it was made in). Batches kept alive so cost a catching-up service up to
~15 MB."""

from __future__ import annotations

import gc

import pytest
from aiokafka import ConsumerRecord
from support import (
    eventually,
    referral_sent,
    running,
    school_to_health_centre,
    seed_directory,
    send_in_order,
    settings,
    unique,
)

from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings

pytestmark = pytest.mark.integration


def records_holding(value: bytes, *, collect: bool = True) -> int:
    if collect:
        gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is ConsumerRecord and o.value == value)


def test_records_holding_finds_a_live_record() -> None:
    """The probe below sees a record while something holds it."""
    value = f"probe-{unique('record')}".encode()
    held = ConsumerRecord("t", 0, 0, 0, 0, None, value, None, 0, len(value), ())
    assert records_holding(value) == 1
    del held
    assert records_holding(value) == 0


@pytest.mark.parametrize("collector", [True, False], ids=["collected", "reference-counted"])
async def test_an_applied_batch_is_not_kept_alive(
    database: str, kafka_bootstrap: str, collector: bool
) -> None:
    """Freed once applied; without the collector too, by reference counts alone: nothing that
    holds the batch is in a reference cycle (the collector would free it only later, batches of
    500 records piling up meanwhile)."""
    school, region = unique("school"), unique("region")
    node, app = build(
        settings(ReferralSettings, principal=region, dsn=database, kafka=kafka_bootstrap)
    )
    event = referral_sent(school, region)
    async with running(node, app):
        await seed_directory(node, school_to_health_centre(school, region))
        gc.collect()
        # Not gc.disable(): a batch the consumer is applying meanwhile (it pauses the collector
        # for one) would switch it back on when done. A threshold of 0 no batch touches.
        threshold = gc.get_threshold()
        if not collector:
            gc.set_threshold(0)
        try:
            await send_in_order(kafka_bootstrap, [event])

            async def applied() -> bool:
                return node.consumer.applied_total >= 1

            async def freed() -> bool:
                return records_holding(event.value(), collect=collector) == 0

            await eventually("the referral applied", applied)
            # Applying it prepared statements and returned connections to the pool: each
            # started a five-minute timer in the handler's context.
            await eventually("no record of the applied batch left", freed, within=10)
        finally:
            gc.set_threshold(*threshold)
