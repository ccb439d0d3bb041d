"""The bench runs end to end with tiny counts, so its code cannot rot (no time limits asserted)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import catchup as catchup_bench
from bench import run
from bench.options import Options
from samverkan.devnet import network

pytestmark = pytest.mark.integration

SERVICES = {"directory", "referral", "notification", "audit"}


def _positive(value: float) -> bool:
    return isinstance(value, int | float) and not math.isnan(value) and value > 0


def test_tiny_bench_writes_table_json_and_plot(tmp_path: Path) -> None:
    options = Options(
        rate=5,
        duration_s=2,
        rtt_messages=10,
        steps=[5],
        step_s=2,
        drain_s=60,  # a busy shared machine may need long to settle; only a hang should fail
        backlog=50,
        audit_entries=20,
        verify_entries=200,
        out=tmp_path,
    )
    results, json_path, png_path = run.main(options)

    assert not results.get("errors"), results.get("errors")
    assert json.loads((tmp_path / "latest.json").read_text())["started_at"] == results["started_at"]
    assert json_path.exists() and png_path.stat().st_size > 0
    assert (tmp_path / "latest.png").exists()

    for fetch in ("service_fetch", "tight_fetch"):
        assert _positive(results["broker_rtt"][fetch]["p99_ms"])
    # The baseline waits on fetches as long as the network's services do (as devnet starts them).
    assert (
        results["broker_rtt"]["service_fetch"]["fetch_max_wait_ms"] == network.fetch_max_wait_ms()
    )
    e2e = results["e2e"]
    assert e2e["completed"] == e2e["offered"] == 10
    for leg in ("http_send", "inbox", "accept"):
        assert all(_positive(e2e[leg][p]) for p in ("p50_ms", "p95_ms", "p99_ms"))
    assert results["throughput"]["steps"][0]["rate"] == 5
    # What each run cost the machine, every process of the network read at both ends. (Not > 0:
    # a part may use less than the kernel's 10 ms tick over a few referrals.)
    parts = {"referral", "notification", "audit", "directory", "postgres", "broker", "bench"}
    for cpu in (e2e["cpu"], results["throughput"]["steps"][0]["cpu"]):
        assert set(cpu["us_per_event"]) == parts
        assert all(_positive(us) or us == 0 for us in cpu["us_per_event"].values()), cpu
        assert _positive(cpu["total_us_per_event"]) and _positive(cpu["busy_cores"])
        assert cpu["machine_busy_cores"] >= 0.8 * cpu["busy_cores"]  # the machine holds them
        assert cpu["unread_after"] == 0  # each run drained before the next began
    assert set(results["idle_cpu"]["cores"]) == parts
    assert _positive(results["idle_cpu"]["busy_cores"])
    assert _positive(results["idle_cpu"]["machine_busy_cores"])

    catchup = results["catchup"]["services"]
    assert set(catchup) == SERVICES
    for service in catchup.values():
        assert _positive(service["events"]) and _positive(service["baseline"]["events_per_s"])
        assert _positive(service["verifying_baseline"]["events_per_s"])
        for baseline in ("baseline", "verifying_baseline"):  # each the median of its runs
            assert len(service[baseline]["runs_per_s"]) == catchup_bench.BARE_RUNS
        assert service["curve"] and service["baseline"]["curve"]
        # What each loop cost the machine. The service's figures are over the events it had left
        # after its first progress, which in so small a backlog may be none.
        assert "cpu" in service
        for loop in (service["baseline"], service["verifying_baseline"]):
            # Every part was read at both ends. (Not > 0: over a few hundred events a part may
            # use less than the kernel's 10 ms tick.)
            cpu = loop["cpu"]
            assert set(cpu["us_per_event"]) == {"consumer", "postgres", "broker"}
            figures = [*cpu["us_per_event"].values(), cpu["total_us_per_event"], cpu["busy_cores"]]
            assert all(_positive(f) or f == 0 for f in figures), cpu
        # The service's own account, exported to the bench's metrics sink: every batch is
        # parsed and settled, whatever became of it.
        assert _positive(service["stages_s"]["parse"]) and _positive(service["stages_s"]["offsets"])

    audit = results["audit"]
    assert audit["verify"]["entries"] == 200
    for part in ("ingest", "insert_baseline", "verify", "read_only", "hashlib_baseline"):
        assert _positive(audit[part]["per_s"])

    principals = {name.split("/")[0] for name in results["memory"]}
    assert {"sjostad-kommun", "vastra-regionen", "bench-region"} <= principals
    assert all(_positive(m["peak_mb"]) for m in results["memory"].values())
    assert {t["target"] for t in results["targets"]} >= {
        "e2e inbox p99 / broker p99",
        "audit verify entries/s",
    }
