"""Baselines for catch-up: a bare aiokafka getmany + asyncpg executemany loop, one commit a batch;
and the same loop verifying each record's signature as the services do (their ceiling: a service
cannot be faster than reading, verifying and writing its events)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from bench import sample
from bench.backlog import Offsets
from bench.cpu import CpuMeter
from samverkan.runtime import verifiers
from samverkan.runtime.settings import KafkaSettings

TABLE = """CREATE TABLE IF NOT EXISTS bare_inbox (
    consumer text NOT NULL, event_id text NOT NULL, topic text NOT NULL, kafka_partition int NOT NULL,
    kafka_offset bigint NOT NULL, value bytea NOT NULL, PRIMARY KEY (consumer, event_id))"""
INSERT = "INSERT INTO bare_inbox VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"


async def catch_up(
    bootstrap: str,
    dsn: str,
    ends: Offsets,
    timeout_s: float,
    meter: CpuMeter,
    *,
    verify: bool = False,
) -> dict[str, Any]:
    """Read the topics of `ends` from the start until every partition reaches its end offset;
    with `verify`, check every record's signature on the way."""
    if verify:
        # On threads: a loop with nothing else to do while they check verifies fastest so
        # (12k events/s here, against 9k in the services' worker process, whose pipe it would
        # wait on), and the baseline is the best such a loop can do.
        verifiers.use_processes(0)
    group = f"bench.bare.{secrets.token_hex(3)}"
    total = sum(ends.values())
    public_keys = {p: s.public_key_b64() for p, s in sample.SIGNERS.items()}
    conn = await asyncpg.connect(dsn)
    await conn.execute(TABLE)
    # Assigned, not subscribed: no group join, so the clock measures reading and writing only.
    # The services' default fetch wait, which the broker may hold a fetch for (the catch-up
    # starts them without KAFKA_FETCH_MAX_WAIT_MS, whatever this shell has); a
    # partition's fetch as large as aiokafka allows by default (1 MiB; the services take 256 KiB
    # for memory), which if anything favours the loop.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        fetch_max_wait_ms=KafkaSettings.model_fields["fetch_max_wait_ms"].default,
    )
    await consumer.start()
    reached = dict.fromkeys(ends, 0)
    curve: list[tuple[float, int]] = []
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        started, cpu_at_start = time.perf_counter(), meter.read()
        while sum(reached.values()) < total:
            if time.perf_counter() - started > timeout_s:
                raise TimeoutError(f"bare loop reached {sum(reached.values())} of {total}")
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            rows, checks = [], []
            for partition, records in batch.items():
                for r in records:
                    if r.offset < ends[partition]:
                        headers = dict(r.headers)
                        event_id = headers.get("ce_id", b"").decode()
                        rows.append((group, event_id, r.topic, r.partition, r.offset, r.value))
                        reached[partition] = max(reached[partition], r.offset + 1)
                        if verify:
                            key = public_keys[headers["ce_sourceprincipal"].decode()]
                            checks.append((key, (list(r.headers), r.value)))
            if checks and not all(await verifiers.verify_all(checks)):
                raise AssertionError("a backlog record's signature does not verify")
            if rows:
                async with conn.transaction():
                    await conn.executemany(INSERT, rows)
                await consumer.commit()
            curve.append((time.perf_counter() - started, sum(reached.values())))
        cpu_at_end = meter.read()
    finally:
        await consumer.stop()
        await conn.close()
    cpu = meter.per_event(cpu_at_start, cpu_at_end, total)
    return timed(total, (started, 0), cpu_at_end.at, curve) | {"cpu": cpu}


def timed(
    total: int, first: tuple[float, int], end: float, curve: list[tuple[float, int]]
) -> dict[str, Any]:
    """Events per second from the first progress seen to the end (joining a group is not catch-up)."""
    seconds = end - first[0]
    return {
        "events": total,
        "timed_events": total - first[1],
        "seconds": seconds,
        "events_per_s": (total - first[1]) / seconds if seconds > 0 else float("nan"),
        "curve": curve,
    }
