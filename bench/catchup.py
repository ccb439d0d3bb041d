"""Catch-up: each consuming service, as its own process, works through a backlog on the real topics."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from bench import backlog, bare_loop, heap, sample
from bench.components import Components
from bench.cpu import CpuMeter
from bench.lag import GroupLag
from bench.options import CATCHUP_SERVICES
from bench.profiler import PySpy
from bench.stats import ratio
from samverkan.devnet.network import ServiceProcess
from samverkan.runtime import directory_view
from samverkan.runtime.db import UnitOfWork, create_pool
from samverkan.runtime.migrations import DIRECTORY_VIEW, RUNTIME, MigrationSource, migrate

MIGRATIONS = {s: MigrationSource(s, f"samverkan.{s}") for s in CATCHUP_SERVICES}
TIMEOUT_S = 900.0
STAGES_WAIT_S = 5.0  # for the service's next two metrics exports (one a second)
BARE_RUNS = 3


async def _prepare(service: str, dsn: str) -> None:
    """Migrate, and give the service a directory copy that knows the principals' keys (so it can
    verify the backlog's signatures) and, where it routes, the backlog's functions."""
    await migrate(dsn, [RUNTIME, DIRECTORY_VIEW, MIGRATIONS[service]])
    seed = sample.public_keys()
    if service in ("referral", "notification"):
        seed += sample.directory_seed()
    pool = await create_pool(dsn, max_size=1)
    try:
        async with UnitOfWork(pool) as tx:
            for event in seed:
                await directory_view.apply(tx, event)
    finally:
        await pool.close()


async def _watch(
    process: ServiceProcess, lag: GroupLag, total: int, meter: CpuMeter
) -> dict[str, Any]:
    started = time.perf_counter()
    curve: list[tuple[float, int]] = []
    first: tuple[float, int] | None = None
    cpu_at_first = None
    while True:
        if process.process is None or process.process.poll() is not None:
            raise RuntimeError(f"{process.service} exited:\n{process.log_tail()}")
        done = total - await lag.unread()
        now = time.perf_counter()
        curve.append((now - started, done))
        if first is None and done:
            first, cpu_at_first = (now, done), meter.read()
        if done >= total:
            assert first is not None and cpu_at_first is not None
            result = bare_loop.timed(total, first, now, curve)
            result["cpu"] = meter.per_event(cpu_at_first, meter.read(), result["timed_events"])
            return result
        if now - started > TIMEOUT_S:
            raise TimeoutError(f"{process.service} caught up {done} of {total}")
        await asyncio.sleep(0.25)


async def _service(service: str, env: Components, ends: backlog.Offsets) -> dict[str, Any]:
    dsn = env.database(f"bench_{service}")
    await _prepare(service, dsn)
    process = env.service(service, sample.REGION, dsn)
    process.start()
    assert process.process is not None
    name = f"{sample.REGION}/{service}"
    env.rss.watch(name, process.process.pid, "catch-up")
    spy = None
    if env.profile_to is not None:
        spy = PySpy(process.process.pid, env.profile_to / f"profile-{service}.txt")
    try:
        group = f"{sample.REGION}.{service}"
        topics = tuple({partition.topic for partition in ends})
        async with GroupLag(env.bootstrap, {group: topics}, ends) as lag:
            meter = env.cpu_meter(process.process.pid)
            result = await _watch(process, lag, sum(ends.values()), meter)
        result["stages_s"] = await _stages(env, service)
    finally:
        profile = spy.stop() if spy is not None else None
        env.rss.forget(name)
        await asyncio.to_thread(process.stop)
    if profile is not None:
        result["profile"] = profile
    result["topics"] = sorted({p.topic for p in ends})
    return result


async def _stages(env: Components, service: str) -> dict[str, float]:
    """What the service says it spent in each stage of consuming, over the whole catch-up: its
    second export after the last batch was committed (the first may have been collected just
    before that batch was recorded)."""
    name = f"samverkan-{service}"
    if not await asyncio.to_thread(env.metrics.exports_after, name, 2, STAGES_WAIT_S):
        print(
            f"  ({service}: no metrics export for {STAGES_WAIT_S:.0f} s; its stages may be short)"
        )
    return env.metrics.stages(name)


async def _run(env: Components, referrals: int, services: list[str]) -> dict[str, Any]:
    events = backlog.events(referrals)
    clock = time.perf_counter()
    produced = await backlog.produce(env.bootstrap, events)
    out: dict[str, Any] = {
        "referrals": referrals,
        "directory_entries": referrals // 5 + len(sample.directory_seed()),
        "produce_s": time.perf_counter() - clock,
        "services": {},
    }
    del events
    with heap.frozen():  # the baselines' loops run in this process
        await _services(env, services, produced, out["services"])
    return out


async def _services(
    env: Components, services: list[str], produced: backlog.Offsets, out: dict[str, Any]
) -> None:
    bare_dsn = env.database("bench_bare")
    for service in services:
        ends = backlog.ends_for(produced, backlog.subscribed(service))
        measured = await _service(service, env, ends)
        bare = await _bare(env, bare_dsn, ends)
        verifying = await _bare(env, bare_dsn, ends, verify=True)
        measured["baseline"] = bare
        measured["ratio"] = ratio(measured["events_per_s"], bare["events_per_s"])
        measured["verifying_baseline"] = verifying
        measured["verifying_ratio"] = ratio(measured["events_per_s"], verifying["events_per_s"])
        out[service] = measured


async def _bare(
    env: Components,
    dsn: str,
    ends: backlog.Offsets,
    *,
    verify: bool = False,
) -> dict[str, Any]:
    """The median of BARE_RUNS loops, run by this process: a bare one over a small backlog takes
    well under a second, so one broker fetch wait more or less would swing a single run by a
    factor of three; and a verifying one of a few seconds was seen to stall once for 1.5 s, a
    third of the rate."""
    meter = env.cpu_meter(os.getpid())
    measured = [
        await bare_loop.catch_up(env.bootstrap, dsn, ends, TIMEOUT_S, meter, verify=verify)
        for _ in range(BARE_RUNS)
    ]
    measured.sort(key=lambda r: r["events_per_s"])
    median = measured[len(measured) // 2]
    median["runs_per_s"] = [r["events_per_s"] for r in measured]
    return median


def run(env: Components, referrals: int, services: list[str]) -> dict[str, Any]:
    return asyncio.run(_run(env, referrals, services))
