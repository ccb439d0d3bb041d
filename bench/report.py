"""The terminal table and the JSON file of one run."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from samverkan.runtime.consumer import STAGES


def _n(value: float, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _x(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}×"


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    if "e2e" in results:
        rtt = results["broker_rtt"]
        base, tight = rtt["service_fetch"], rtt["tight_fetch"]
        e2e = results["e2e"]
        add(f"End-to-end latency, {e2e['rate']:g} referrals/s for {e2e['duration_s']:g} s")
        add(f"  {'':<38}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'p99 / broker':>14}")
        for label, s in (
            ("sender POST /referrals (HTTP)", e2e["http_send"]),
            ("2xx → in recipient's inbox", e2e["inbox"]),
            ("accept 2xx → sender sees 'accepted'", e2e["accept"]),
            (f"broker round trip, fetch {base['fetch_max_wait_ms']} ms", base),
            (f"broker round trip, fetch {tight['fetch_max_wait_ms']} ms", tight),
        ):
            add(
                f"  {label:<38}{_n(s['p50_ms'], 1):>10}{_n(s['p95_ms'], 1):>10}"
                f"{_n(s['p99_ms'], 1):>10}{_x(s['p99_ms'] / base['p99_ms']):>14}"
            )
        add(
            f"  {e2e['created']} of {e2e['offered']} sent, {e2e['completed']} accepted end to end,"
            f" {e2e['failed']} failed, {e2e['dropped']} dropped; record {rtt['record_bytes']} B"
        )
        tp = results["throughput"]
        add(f"\nStep-up search ({tp['step_s']:g} s a step)")
        add(f"  {'rate/s':>8}{'inbox p95 ms':>14}{'accept p95 ms':>15}{'trend':>8}  verdict")
        for s in tp["steps"]:
            add(
                f"  {s['rate']:>8g}{_n(s['inbox']['p95_ms']):>14}{_n(s['accept']['p95_ms']):>15}"
                f"{s['trend']:>8.2f}  {verdict(s)}"
            )
        add(f"  highest sustained rate: {tp['max_sustained_rate']:g} referrals/s")
        add(_network_cpu_table(results, results.get("machine", {}).get("cpus")))
    if "catchup" in results:
        c = results["catchup"]
        add(
            f"\nCatch-up on a backlog of {c['referrals']:,} referrals"
            f" + {c['directory_entries']:,} directory entries"
        )
        add(
            f"  {'service':<14}{'events':>8}{'events/s':>10}{'bare loop/s':>13}{'ratio':>8}"
            f"{'verifying loop/s':>18}{'ratio':>8}"
        )
        for service, s in c["services"].items():
            verifying = s.get("verifying_baseline", {}).get("events_per_s", float("nan"))
            add(
                f"  {service:<14}{s['events']:>8,}{_n(s['events_per_s']):>10}"
                f"{_n(s['baseline']['events_per_s']):>13}{_x(s['ratio']):>8}"
                f"{_n(verifying):>18}{_x(s.get('verifying_ratio', float('nan'))):>8}"
            )
        add(_stages_table(c["services"]))
        add(_cpu_table(c["services"], results.get("machine", {}).get("cpus")))
    if "audit" in results:
        a = results["audit"]
        add("\nAudit trail")
        add(f"  {'':<40}{'entries':>9}{'per s':>11}{'ratio':>8}")
        rows = (
            ("append (service.record, batched)", a["ingest"], a["ingest_ratio"]),
            ("  same inserts, no lock/head/hash", a["insert_baseline"], None),
            ("verify (service.verify)", a["verify"], a["verify_ratio"]),
            ("  read the rows only", a["read_only"], None),
            ("  hashlib alone, same bytes", a["hashlib_baseline"], None),
        )
        for label, s, r in rows:
            add(f"  {label:<40}{s['entries']:>9,}{_n(s['per_s']):>11}{_x(r) if r else '':>8}")
    if results.get("memory"):
        add(
            "\nPer service process: peak RSS (the kernel's high-water mark; the highest sample"
            " in brackets), and CPU seconds used while watched"
        )
        for name, m in results["memory"].items():
            sampled = f"[{m['sampled_peak_mb']:.1f}]"
            add(
                f"  {name:<34}{m['peak_mb']:>8.1f} MB {sampled:>8}"
                f"{m['cpu_s']:>8.1f} s CPU  ({m['phase']})"
            )
    for part, error in results.get("errors", {}).items():
        add(f"\nPart '{part}' FAILED: {error.splitlines()[0]}")
    if results.get("targets"):
        add("\nTargets")
        for t in results["targets"]:
            mark = "met   " if t["met"] else "MISSED"
            add(f"  {mark} {t['target']:<40}{_n(t['value'], 2):>12}  (goal {t['goal']})")
    return "\n".join(lines)


def verdict(step: dict[str, Any]) -> str:
    """Whether a step of the step-up search held its rate (if not, why), and whether it started
    before the queues had drained."""
    said = "sustained" if step["sustained"] else "ran away: " + "; ".join(step["why_not"])
    if step.get("lag_at_start", 0) != 0:  # None: the count was not known in time
        said += f" (started with {step['lag_at_start'] or 'an unknown number of'} unread)"
    return said


def _stages_table(services: dict[str, Any]) -> str:
    """Each service's own account (its stage_duration metric), in µs per event of the backlog."""
    lines = [
        "\nWhere the catch-up's time went, µs per event (the services' stage_duration metric)",
        f"  {'service':<14}" + "".join(f"{stage:>11}" for stage in STAGES) + f"{'all':>8}"
        f"{'catch-up':>10}",
    ]
    for service, s in services.items():
        spent = s.get("stages_s") or {}
        per_event = [1e6 * spent.get(stage, 0.0) / s["events"] for stage in STAGES]
        lines.append(
            f"  {service:<14}"
            + "".join(f"{_n(us):>11}" for us in per_event)
            + f"{_n(sum(per_event)):>8}{_n(1e6 / s['events_per_s'] if s['events_per_s'] else math.nan):>10}"
        )
    lines.append(
        "  (catch-up: the whole time per event; what the stages do not cover is waiting for"
        " records, and the services' other work on the same loop)"
    )
    return "\n".join(lines)


CPU_PARTS = ("consumer", "postgres", "broker")
NETWORK_PARTS = ("referral", "notification", "audit", "directory", "postgres", "broker", "bench")


def _network_cpu_table(results: dict[str, Any], cpus: int | None) -> str:
    """What a referral cost the machine at each rate, by process (bench/cpu.py): each run from
    its start until every consumer group had read all it made."""
    lines = [
        "\nCPU per referral, ms, from a run's start until its queues drained (a service: its"
        " processes at both principals; postgres: both servers; bench: its own process)",
        f"  {'run':<14}" + _cost_header(NETWORK_PARTS, 13, cpus),
    ]
    runs = [(f"{results['e2e']['rate']:g}/s latency", results["e2e"])]
    runs += [(f"{s['rate']:g}/s step", s) for s in results["throughput"]["steps"]]
    for label, run in runs:
        cells = _cost_cells(run["cpu"], NETWORK_PARTS, 13, cpus, unit=1000, digits=2)
        undrained = run["cpu"]["unread_after"]
        if undrained != 0:  # None: not known
            cells += f"  ({'unknown' if undrained is None else undrained} left unread)"
        lines.append(f"  {label:<14}{cells}")
    idle = results["idle_cpu"]
    cores = ", ".join(
        f"{part} {idle['cores'][part]:.2f}" for part in NETWORK_PARTS if part in idle["cores"]
    )
    lines.append(
        f"  at rest, {idle['seconds']:.0f} s: {idle['busy_cores']:.2f} cores busy ({cores});"
        f" the machine {idle['machine_busy_cores']:.2f}, steal {idle['machine_steal_cores']:.2f}"
    )
    lines.append(
        "  (every run includes the network's work at rest, spread over its referrals: most so at"
        " low rates)"
    )
    lines.append(
        f"  (machine busy: all its processes and the kernel; all {cpus or '?'} busy: the rate this"
        " cost would allow with every core busy, an estimate on the low side, as the cost spreads"
        " the work at rest over the run's whole window: steps may hold above it)"
    )
    return "\n".join(lines)


def _cost_header(parts: Sequence[str], width: int, cpus: int | None) -> str:
    all_busy = f"all {cpus or '?'} busy/s"
    return (
        "".join(f"{part:>{width}}" for part in parts)
        + f"{'total':>9}{'busy cores':>12}{'machine busy':>14}{all_busy:>15}"
    )


def _cost_cells(
    cpu: dict[str, Any],
    parts: Sequence[str],
    width: int,
    cpus: int | None,
    *,
    unit: float = 1,
    digits: int = 0,
) -> str:
    """A cost's cells under `_cost_header`: CPU an event (µs / `unit`) for each part and in all,
    the cores the parts kept busy and the whole machine did, and the rate that cost would allow
    were every core busy."""
    total = cpu["total_us_per_event"]
    return (
        "".join(
            f"{_n(cpu['us_per_event'].get(p, math.nan) / unit, digits):>{width}}" for p in parts
        )
        + f"{_n(total / unit, digits):>9}{_n(cpu['busy_cores'], 2):>12}"
        + f"{_n(cpu.get('machine_busy_cores', math.nan), 2):>14}"
        + f"{_n(_per_s(cpus, total)):>15}"
    )


def _per_s(cores: int | None, us_per_event: float | None) -> float:
    """Events a second that `cores` busy cores allow at this cost (either unknown: unknown)."""
    return cores * 1e6 / us_per_event if cores and us_per_event else math.nan


def _cpu_table(services: dict[str, Any], cpus: int | None) -> str:
    """What an event cost the machine in each loop over the same backlog (bench/cpu.py), and the
    rate that cost would allow if the loop kept every core busy."""
    lines = [
        "\nCPU per event, µs, over each loop's timed catch-up (consumer: the service's processes,"
        " or the bench's own loop)",
        f"  {'service':<14}{'loop':<11}" + _cost_header(CPU_PARTS, 10, cpus),
    ]
    for service, s in services.items():
        loops = (
            ("service", s),
            ("bare", s["baseline"]),
            ("verifying", s.get("verifying_baseline", {})),
        )
        for i, (loop, measured) in enumerate(loops):
            if "cpu" in measured:
                lines.append(
                    f"  {service if i == 0 else '':<14}{loop:<11}"
                    + _cost_cells(measured["cpu"], CPU_PARTS, 10, cpus)
                )
    lines.append(
        f"  (machine busy: all its processes and the kernel; all {cpus or '?'} busy: the most a"
        " loop's work per event allows on this machine, were its waits overlapped until no core"
        " idled)"
    )
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write(results: dict[str, Any], out: Path, stamp: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{stamp}.json"
    text = json.dumps(_plain(results), indent=1, default=str)
    path.write_text(text)
    (out / "latest.json").write_text(text)
    return path
