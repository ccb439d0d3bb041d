"""Two full principals as processes: broker round-trip baseline, latency run, step-up search."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import backlog, broker_rtt
from bench.cpu import CpuMeter
from bench.lag import GroupLag
from bench.load import Driver, LoadResult
from bench.options import Options
from bench.rss import RssSampler
from bench.stats import percentile, summary_ms
from samverkan.devnet.network import Network

RUNAWAY_FACTOR = 3.0  # a step whose inbox p95 exceeds this × the latency run's p95 ran away
TREND_FACTOR = 2.0  # … or whose last third is this much slower than its first third
QUIET_LIMIT_S = 60.0  # after each run: how long its queues may take to drain
QUIET_POLL_S = 0.5  # between two readings of the consumer groups' lag
IDLE_S = 5.0  # how long the network at rest is metered


def latency_result(load: LoadResult) -> dict[str, Any]:
    sent = round(load.rate * load.duration_s)
    return {
        "rate": load.rate,
        "duration_s": load.duration_s,
        "offered": sent,
        "created": _created(load),
        "completed": sum(1 for t in load.trips.values() if t.done),
        "failed": load.failed,
        "dropped": load.dropped,
        "http_send": summary_ms(load.send_latencies()),
        "inbox": summary_ms(load.inbox_latencies()),
        "accept": summary_ms(load.accept_latencies()),
    }


def _trend(load: LoadResult) -> float:
    """Median inbox latency of the last third of the sends over that of the first third."""
    ordered = sorted(
        (t.created - load.started, t.in_inbox - t.created)
        for t in load.trips.values()
        if t.created and t.in_inbox
    )
    third = len(ordered) // 3
    if third < 2:
        return 1.0
    first = percentile([lat for _, lat in ordered[:third]], 50)
    last = percentile([lat for _, lat in ordered[-third:]], 50)
    return last / first if first > 0 else 1.0


def step_result(load: LoadResult, reference_p95_ms: float) -> dict[str, Any]:
    step = latency_result(load)
    offered = step["offered"]
    trend = _trend(load)
    reasons = []
    if step["completed"] < offered:
        reasons.append(f"{offered - step['completed']} of {offered} not accepted within the drain")
    if step["inbox"]["p95_ms"] > RUNAWAY_FACTOR * reference_p95_ms:
        reasons.append(f"inbox p95 over {RUNAWAY_FACTOR:g}× the latency run's")
    if trend > TREND_FACTOR:
        reasons.append(f"latency grew {trend:.1f}× within the step")
    step.update(trend=trend, sustained=not reasons, why_not=reasons)
    return step


async def _measure(net: Network, options: Options, rss: RssSampler) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["broker_rtt"] = await broker_rtt.baseline(
        net.bootstrap_servers,
        messages=options.rtt_messages,
        rate=max(options.rate, 50.0),
        service_fetch_max_wait_ms=net.fetch_max_wait_ms,
    )
    meter = _meter(net)
    async with Driver(net, options.poll_ms / 1000) as driver:
        await driver.publish_directories()
        await driver.run(rate=5, duration_s=1, drain_s=options.drain_s)  # warm-up, not counted
        out["idle_cpu"] = await _idle(meter, lag_at_start=(await _quiet(net))[1])

        async def metered(rate: float, duration_s: float) -> tuple[LoadResult, dict[str, Any]]:
            return await _metered(driver, net, meter, rate, duration_s, options.drain_s)

        load, last = await metered(options.rate, options.duration_s)
        out["e2e"] = latency_result(load) | {"cpu": last}
        out["e2e_samples_ms"] = {
            "inbox": [s * 1000 for s in load.inbox_latencies()],
            "accept": [s * 1000 for s in load.accept_latencies()],
        }
        reference = out["e2e"]["inbox"]["p95_ms"]

        async def step(rate: float) -> dict[str, Any]:
            nonlocal last
            rss.sample()
            lag_at_start = last["unread_after"]  # what the run before left, had it not drained
            load, last = await metered(rate, options.step_s)
            return step_result(load, reference) | {"cpu": last, "lag_at_start": lag_at_start}

        steps: list[dict[str, Any]] = []
        for step_rate in options.steps:
            steps.append(await step(step_rate))
            if not steps[-1]["sustained"]:
                break
        steps += await _narrow(steps, step, options.refine)
        sustained = [s["rate"] for s in steps if s["sustained"]]
        out["throughput"] = {
            "steps": steps,
            "max_sustained_rate": max(sustained) if sustained else 0.0,
            "step_s": options.step_s,
        }
    return out


async def _metered(
    driver: Driver, net: Network, meter: CpuMeter, rate: float, duration_s: float, drain_s: float
) -> tuple[LoadResult, dict[str, Any]]:
    """A load and what it cost the machine: from its start until every consumer group has read
    all there is (`_quiet`), so that the next run does not start on its leftovers and what it
    set off later (audit, notification, mail) counts too."""
    start = meter.read()
    load = await driver.run(rate, duration_s, drain_s)
    drained_s, unread = await _quiet(net)
    cost = CpuMeter.per_event(start, meter.read(), _created(load))
    return load, cost | {"drained_s": drained_s, "unread_after": unread}


def _meter(net: Network) -> CpuMeter:
    """Every process tree of the network: each service at each principal (summed per service),
    each principal's Postgres, the broker, and the bench's own process (its HTTP clients, the
    watcher's polls, the mail sink, the memory sampler, the lag readers and this meter; the
    others are left out of its tree)."""
    pids: dict[str, int | None] = {
        f"{p.service}/{p.principal}": p.process.pid if p.process else None for p in net.processes()
    }
    for principal in net.principals.values():
        if principal.postgres is not None:
            pids[f"postgres/{principal.id}"] = principal.postgres.pid
    if net.kafka is not None:
        pids["broker"] = net.kafka.pid
    pids["bench"] = os.getpid()
    return CpuMeter(pids)


async def _idle(meter: CpuMeter, lag_at_start: int | None) -> dict[str, Any]:
    """The cores each part keeps busy with nothing to do: consumers fetching from the broker,
    relays polling their outbox, the bench's memory sampler. Every run's CPU includes this."""
    start = meter.read()
    await asyncio.sleep(IDLE_S)
    end = meter.read()
    cores = CpuMeter.cores(start, end)
    return {
        "seconds": end.at - start.at,
        "busy_cores": sum(cores.values()),
        "cores": cores,
        **CpuMeter.machine_cores(start, end),
        "lag_at_start": lag_at_start,
    }


def _created(load: LoadResult) -> int:
    return sum(1 for t in load.trips.values() if t.created)


async def _quiet(net: Network) -> tuple[float, int | None]:
    """Wait until every service's consumer group has committed all it has to read, at two
    readings in a row (at most QUIET_LIMIT_S): a consumer may have committed an event whose
    outcome its outbox relay has yet to publish. Returns the seconds waited and the last count
    of records unread (0 unless it gave up, None if the broker did not answer in time)."""
    clock = time.monotonic()
    groups = {
        f"{process.principal}.{process.service}": backlog.subscribed(process.service)
        for process in net.processes()
    }
    unread: int | None = None  # not known, should the limit pass before the first answer
    async with contextlib.AsyncExitStack() as clients:  # stopped outside the time limit
        try:
            async with asyncio.timeout(QUIET_LIMIT_S) as limit:
                lag = await clients.enter_async_context(GroupLag(net.bootstrap_servers, groups))
                quiet_readings = 0
                while quiet_readings < 2:
                    unread = await lag.unread()
                    quiet_readings = 0 if unread else quiet_readings + 1
                    if quiet_readings < 2:
                        await asyncio.sleep(QUIET_POLL_S)
        except TimeoutError:
            if not limit.expired():
                raise  # not the limit: the broker's own
            if unread == 0:
                unread = None  # one reading of zero, not confirmed: not known to have drained
    return time.monotonic() - clock, unread


async def _narrow(
    steps: list[dict[str, Any]],
    step: Callable[[float], Awaitable[dict[str, Any]]],
    halvings: int,
) -> list[dict[str, Any]]:
    """Halve the gap between the highest sustained rate and the step that ran away, `halvings`
    times (in whole referrals/s): the doubling steps alone leave the highest sustained rate
    within a factor of two."""
    if not steps or steps[-1]["sustained"] or len(steps) < 2:
        return []
    low, high = steps[-2]["rate"], steps[-1]["rate"]
    narrowed: list[dict[str, Any]] = []
    for _ in range(halvings):
        rate = float(math.floor((low + high) / 2))
        if not low < rate < high:
            break
        narrowed.append(await step(rate))
        low, high = (rate, high) if narrowed[-1]["sustained"] else (low, rate)
    return narrowed


def run(options: Options, rss: RssSampler) -> dict[str, Any]:
    with Network() as net:
        for process in net.processes():
            assert process.process is not None
            rss.watch(f"{process.principal}/{process.service}", process.process.pid, "network")
        try:
            return asyncio.run(_measure(net, options, rss))
        finally:
            for process in net.processes():
                rss.forget(f"{process.principal}/{process.service}")
