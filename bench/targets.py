"""The issue's targets, checked against one run's results (reported, never asserted)."""

from __future__ import annotations

import math
from typing import Any

CATCHUP_RATIO = 0.5
E2E_RTT_FACTOR = 10.0
AUDIT_INGEST_PER_S = 5000.0
VERIFY_PER_S = 100_000.0
RSS_MB = 150.0


def _target(name: str, value: float, goal: str, met: bool) -> dict[str, Any]:
    return {
        "target": name,
        "value": value,
        "goal": goal,
        "met": bool(met) and not math.isnan(value),
    }


def check(results: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for service, r in results.get("catchup", {}).get("services", {}).items():
        found.append(
            _target(
                f"catch-up {service} / bare loop",
                r["ratio"],
                f">= {CATCHUP_RATIO:g}",
                r["ratio"] >= CATCHUP_RATIO,
            )
        )
    if "e2e" in results:
        rtt = results["broker_rtt"]["service_fetch"]["p99_ms"]
        for leg in ("inbox", "accept"):
            x = results["e2e"][leg]["p99_ms"] / rtt
            found.append(
                _target(
                    f"e2e {leg} p99 / broker p99", x, f"<= {E2E_RTT_FACTOR:g}", x <= E2E_RTT_FACTOR
                )
            )
    audit_service = results.get("catchup", {}).get("services", {}).get("audit")
    if audit_service:
        x = audit_service["events_per_s"]
        found.append(
            _target(
                "audit ingest (service) ev/s",
                x,
                f">= {AUDIT_INGEST_PER_S:g}",
                x >= AUDIT_INGEST_PER_S,
            )
        )
    if "audit" in results:
        x = results["audit"]["ingest"]["per_s"]
        found.append(
            _target(
                "audit ingest (store) ev/s",
                x,
                f">= {AUDIT_INGEST_PER_S:g}",
                x >= AUDIT_INGEST_PER_S,
            )
        )
        x = results["audit"]["verify"]["per_s"]
        found.append(
            _target("audit verify entries/s", x, f">= {VERIFY_PER_S:g}", x >= VERIFY_PER_S)
        )
    for name, m in results.get("memory", {}).items():
        found.append(
            _target(f"RSS {name} MB", m["peak_mb"], f"< {RSS_MB:g}", m["peak_mb"] < RSS_MB)
        )
    return found
