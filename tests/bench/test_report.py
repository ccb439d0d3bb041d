"""The terminal table says of each step of the search whether it held, why not, and whether it
started before the queues had drained; and what a referral cost the machine at each rate."""

from __future__ import annotations

import pytest

from bench.report import NETWORK_PARTS, table, verdict

pytestmark = pytest.mark.unit


def test_a_step_that_held_after_drained_queues_says_only_so() -> None:
    assert verdict({"sustained": True, "lag_at_start": 0}) == "sustained"


def test_a_step_from_a_run_before_the_lag_was_recorded_says_only_so() -> None:
    assert verdict({"sustained": True}) == "sustained"


def test_a_step_that_ran_away_says_why_and_what_was_left_unread() -> None:
    step = {"sustained": False, "why_not": ["p95 grew 2.5x", "3 failed"], "lag_at_start": 42}
    assert verdict(step) == "ran away: p95 grew 2.5x; 3 failed (started with 42 unread)"


def test_an_unknown_count_left_unread_is_named_as_such() -> None:
    step = {"sustained": True, "lag_at_start": None}
    assert verdict(step) == "sustained (started with an unknown number of unread)"


def _cost(ms: float, busy: float, unread_after: int | None = 0) -> dict[str, object]:
    return {
        "us_per_event": {part: 1000 * ms for part in NETWORK_PARTS},
        "total_us_per_event": 1000 * ms * len(NETWORK_PARTS),
        "busy_cores": busy,
        "machine_busy_cores": busy + 0.05,
        "unread_after": unread_after,
    }


def test_the_network_part_says_what_a_referral_cost_at_each_rate_and_at_rest() -> None:
    latency = {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0}
    rtt = dict(latency, fetch_max_wait_ms=50)
    e2e = {"rate": 10, "duration_s": 20, "created": 200, "offered": 200, "completed": 200}
    e2e |= {"failed": 0, "dropped": 0, "cpu": _cost(2.0, 1.1)}
    e2e |= {leg: latency for leg in ("http_send", "inbox", "accept")}
    step = {"rate": 40, "inbox": latency, "accept": latency, "trend": 1.0, "sustained": True}
    results = {
        "machine": {"cpus": 2},
        "broker_rtt": {"record_bytes": 1000, "service_fetch": rtt, "tight_fetch": rtt},
        "e2e": e2e,
        "throughput": {
            "step_s": 8,
            "max_sustained_rate": 40,
            "steps": [
                dict(step, cpu=_cost(1.5, 1.9)),
                dict(step, rate=80, cpu=_cost(1, 2, 7)),
                dict(step, rate=90, cpu=_cost(1, 2, None)),
            ],
        },
        "idle_cpu": {
            "seconds": 5.0,
            "busy_cores": 0.4,
            "cores": {"broker": 0.3, "bench": 0.1},
            "machine_busy_cores": 0.45,
            "machine_steal_cores": 0.0,
        },
    }
    lines = table(results).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("CPU per referral"))
    rows = [line.split() for line in lines[start + 2 : start + 6]]
    assert rows[0] == ["10/s", "latency", *["2.00"] * 7, "14.00", "1.10", "1.15", "143"]
    assert rows[1] == ["40/s", "step", *["1.50"] * 7, "10.50", "1.90", "1.95", "190"]
    # A run whose queues had not drained when the wait gave up says so: its cost is too low.
    assert rows[2][-4:] == ["286", "(7", "left", "unread)"]
    assert rows[3][-3:] == ["(unknown", "left", "unread)"]
    assert lines[start + 6] == (
        "  at rest, 5 s: 0.40 cores busy (broker 0.30, bench 0.10); the machine 0.45, steal 0.00"
    )
