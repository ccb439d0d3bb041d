"""Two full principals as processes: broker round-trip baseline, latency run, step-up search."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import backlog, broker_rtt
from bench.lag import GroupLag
from bench.load import Driver, LoadResult
from bench.options import Options
from bench.rss import RssSampler
from bench.stats import percentile, summary_ms
from samverkan.devnet.network import Network

RUNAWAY_FACTOR = 3.0  # a step whose inbox p95 exceeds this × the latency run's p95 ran away
TREND_FACTOR = 2.0  # … or whose last third is this much slower than its first third
QUIET_LIMIT_S = 60.0  # after a step that ran away: how long its queues may take to drain


def latency_result(load: LoadResult) -> dict[str, Any]:
    sent = round(load.rate * load.duration_s)
    return {
        "rate": load.rate,
        "duration_s": load.duration_s,
        "offered": sent,
        "created": sum(1 for t in load.trips.values() if t.created),
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
    async with Driver(net, options.poll_ms / 1000) as driver:
        await driver.publish_directories()
        await driver.run(rate=5, duration_s=1, drain_s=options.drain_s)  # warm-up, not counted
        load = await driver.run(options.rate, options.duration_s, options.drain_s)
        out["e2e"] = latency_result(load)
        out["e2e_samples_ms"] = {
            "inbox": [s * 1000 for s in load.inbox_latencies()],
            "accept": [s * 1000 for s in load.accept_latencies()],
        }
        reference = out["e2e"]["inbox"]["p95_ms"]

        async def step(rate: float, *, quiet_first: bool = False) -> dict[str, Any]:
            waited = await _quiet(net) if quiet_first else None
            rss.sample()
            result = step_result(await driver.run(rate, options.step_s, options.drain_s), reference)
            if waited is not None:
                result["quiet_after_s"], result["lag_at_start"] = waited
            return result

        steps: list[dict[str, Any]] = []
        for step_rate in options.steps:
            steps.append(await step(step_rate))
            if not steps[-1]["sustained"]:
                break
            await asyncio.sleep(1.0)  # let audit and notification settle between steps
        steps += await _narrow(steps, step, options.refine)
        sustained = [s["rate"] for s in steps if s["sustained"]]
        out["throughput"] = {
            "steps": steps,
            "max_sustained_rate": max(sustained) if sustained else 0.0,
            "step_s": options.step_s,
        }
    return out


async def _quiet(net: Network) -> tuple[float, int | None]:
    """Wait until every service's consumer group has committed all it has to read (at most
    QUIET_LIMIT_S): a step after one that ran away must not start on its leftovers. Returns the
    seconds waited and the last count of records unread (0 unless it gave up, None if the broker
    did not answer in time)."""
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
                while True:
                    unread = await lag.unread()
                    if not unread:
                        break
                    await asyncio.sleep(0.5)
        except TimeoutError:
            if not limit.expired():
                raise  # not the limit: the broker's own
    return time.monotonic() - clock, unread


async def _narrow(
    steps: list[dict[str, Any]],
    step: Callable[..., Awaitable[dict[str, Any]]],
    halvings: int,
) -> list[dict[str, Any]]:
    """Halve the gap between the highest sustained rate and the step that ran away, `halvings`
    times (in whole referrals/s): the doubling steps alone leave the highest sustained rate
    within a factor of two. Each such step starts once the queues are drained."""
    if not steps or steps[-1]["sustained"] or len(steps) < 2:
        return []
    low, high = steps[-2]["rate"], steps[-1]["rate"]
    narrowed: list[dict[str, Any]] = []
    for _ in range(halvings):
        rate = float(math.floor((low + high) / 2))
        if not low < rate < high:
            break
        narrowed.append(await step(rate, quiet_first=True))
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
