"""One PNG a reader can look at: latency distributions, the step-up, catch-up curves, memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
from matplotlib.axes import Axes


def _latency(ax: Axes, results: dict[str, Any]) -> None:
    samples = results.get("e2e_samples_ms", {})
    for leg, label in (("inbox", "2xx → recipient's inbox"), ("accept", "accept → sender sees it")):
        values = sorted(samples.get(leg, []))
        if values:
            ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
    rtt = results.get("broker_rtt", {})
    for key, style in (("service_fetch", "--"), ("tight_fetch", ":")):
        if key in rtt:
            ms = rtt[key]["fetch_max_wait_ms"]
            ax.axvline(
                rtt[key]["p99_ms"],
                color="grey",
                linestyle=style,
                label=f"broker p99 (fetch {ms} ms)",
            )
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log)")
    ax.set_ylabel("fraction of referrals")
    ax.set_title("End-to-end latency (CDF)")
    _legend(ax, fontsize=7)


def _steps(ax: Axes, results: dict[str, Any]) -> None:
    ax.set_title("Step-up search (red: ran away)")
    steps = sorted(results.get("throughput", {}).get("steps", []), key=lambda s: s["rate"])
    if not steps:
        return
    rates = [s["rate"] for s in steps]
    for leg in ("inbox", "accept"):
        ax.plot(rates, [s[leg]["p95_ms"] for s in steps], marker="o", label=f"{leg} p95")
    for s in steps:
        if not s["sustained"]:
            ax.axvline(s["rate"], color="red", alpha=0.3)
    ax.set_xlabel("offered referrals/s")
    ax.set_ylabel("p95 latency, ms")
    ax.set_yscale("log")
    _legend(ax, fontsize=7)


def _catchup(ax: Axes, results: dict[str, Any]) -> None:
    for service, s in results.get("catchup", {}).get("services", {}).items():
        # Both from their first progress, as the rates are timed (start-up is not catch-up).
        started = next((t for t, done in s["curve"] if done), 0.0)
        service_curve = [(t - started, done) for t, done in s["curve"] if t >= started]
        for curve, style, label in (
            (service_curve, "-", service),
            (s["baseline"]["curve"], ":", f"{service} bare loop"),
        ):
            if curve:
                ax.plot(
                    [max(t, 1e-2) for t, _ in curve],
                    [done / s["events"] for _, done in curve],
                    style,
                    label=label,
                )
    ax.set_xscale("log")
    ax.set_xlabel("seconds from first progress (log)")
    ax.set_ylabel("fraction of backlog committed")
    ax.set_title("Catch-up")
    _legend(ax, fontsize=6, ncol=2)


def _memory(ax: Axes, results: dict[str, Any]) -> None:
    timeline = results.get("memory_timeline", [])
    names = sorted({name for _, row in timeline for name in row})
    for name in names:
        points = [(t, row[name]) for t, row in timeline if name in row]
        ax.plot([t for t, _ in points], [mb for _, mb in points], label=name)
    ax.axhline(150, color="red", linestyle="--", label="target 150 MB")
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("RSS, MB")
    ax.set_title("Memory per service process")
    _legend(ax, fontsize=5, ncol=2)


def _legend(ax: Axes, fontsize: int, ncol: int = 1) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=fontsize, ncol=ncol)


def draw(results: dict[str, Any], path: Path) -> Path:
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    _latency(axes[0][0], results)
    _steps(axes[0][1], results)
    _catchup(axes[1][0], results)
    _memory(axes[1][1], results)
    for ax in axes.flat:
        if not ax.has_data():  # the part was skipped (--skip) or failed
            ax.text(0.5, 0.5, "not measured in this run", ha="center", transform=ax.transAxes)
    fig.suptitle(f"Samverkan bench {results.get('started_at', '')}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
