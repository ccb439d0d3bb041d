"""What a catch-up costs the machine: CPU time per event of each process tree taking part (the
consumer, Postgres, the broker), and how many cores they kept busy together.

A rate says how fast; on two shared cores it also says how much the neighbours took. CPU per
event says how much work an event is, and so whether a loop is bound by the machine's cores
(busy cores near their count) or by waiting on something (fewer busy than there are)."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import psutil


def tree_cpu_s(process: psutil.Process, exclude: Collection[int] = ()) -> float:
    """CPU seconds of a process and its descendants, the ended ones too: those a process waited
    for count in its own `children_*` times (Postgres's backends, a verifying worker). A
    descendant in `exclude` is left out with its own descendants: the bench process that runs a
    baseline loop is also the parent of the Postgres and broker it meters on their own."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children():
        if child.pid in exclude:
            continue
        try:
            total += tree_cpu_s(child, exclude)
        except psutil.Error:
            continue  # it ended meanwhile: missed, unless its parent had reaped it before
    return total


@dataclass(frozen=True)
class Reading:
    at: float
    cpu_s: dict[str, float]


class CpuMeter:
    """Reads the named process trees' CPU time; `per_event` turns two readings into a cost."""

    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items() if pid}

    def read(self) -> Reading:
        cpu = {}
        roots = {process.pid for process in self._processes.values()}
        for name, process in self._processes.items():
            try:
                cpu[name] = tree_cpu_s(process, exclude=roots - {process.pid})
            except psutil.Error:
                continue  # gone: per_event leaves it out rather than count it as free
        return Reading(time.perf_counter(), cpu)

    @staticmethod
    def per_event(start: Reading, end: Reading, events: int) -> dict[str, Any]:
        """µs of CPU an event for each tree read at both ends, their sum, and the cores they kept
        busy on average over the interval."""
        spent = {n: end.cpu_s[n] - start.cpu_s[n] for n in start.cpu_s if n in end.cpu_s}
        total = sum(spent.values())
        seconds = end.at - start.at
        return {
            "us_per_event": {n: 1e6 * s / events for n, s in spent.items()} if events else {},
            "total_us_per_event": 1e6 * total / events if events else float("nan"),
            "busy_cores": total / seconds if seconds > 0 else float("nan"),
        }
