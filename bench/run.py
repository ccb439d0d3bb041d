"""One bench run: the network part, then the component parts, then table, JSON and plot."""

from __future__ import annotations

import platform
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import audit_bench, catchup, network_bench, plot, report, targets
from bench.components import Components
from bench.options import Options
from bench.rss import RssSampler


def _part(results: dict[str, Any], name: str, measure: Callable[[], Any]) -> None:
    """Run one part; a part that fails is reported with its error and the others still run."""
    try:
        value = measure()
    except Exception as exc:
        lines = traceback.format_exception_only(exc)
        results.setdefault("errors", {})[name] = "".join(lines).strip()[-2000:]
        traceback.print_exc()
        return
    if value is not None:
        results[name] = value


def measure(options: Options) -> dict[str, Any]:
    started = datetime.now(UTC)
    clock = time.monotonic()
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "options": options.to_json(),
    }
    with RssSampler() as rss:
        if "network" not in options.skip:
            _part(results, "network", lambda: results.update(network_bench.run(options, rss)))
        if not {"catchup", "audit"} <= set(options.skip):
            profile_to = options.out if options.profile else None
            with Components(rss, profile_to=profile_to) as env:
                if "catchup" not in options.skip:
                    _part(
                        results,
                        "catchup",
                        lambda: catchup.run(env, options.backlog, options.services),
                    )
                if "audit" not in options.skip:
                    _part(
                        results,
                        "audit",
                        lambda: audit_bench.run(env, options.audit_entries, options.verify_entries),
                    )
    results["memory"] = rss.result()
    results["memory_timeline"] = [(round(t, 2), row) for t, row in rss.timeline]
    results["targets"] = targets.check(results)
    results["duration_s"] = round(time.monotonic() - clock, 1)
    return results


def main(options: Options) -> tuple[dict[str, Any], Path, Path]:
    """Measure, print the table, write JSON and PNG; returns the results and both paths."""
    results = measure(options)
    stamp = datetime.fromisoformat(results["started_at"]).strftime("%Y%m%dT%H%M%SZ")
    print(report.table(results))
    json_path = report.write(results, options.out, stamp)
    png_path = plot.draw(results, options.out / f"bench-{stamp}.png")
    (options.out / "latest.png").write_bytes(png_path.read_bytes())
    print(f"\n{results['duration_s']:g} s; results in {json_path} and {png_path}")
    return results, json_path, png_path
