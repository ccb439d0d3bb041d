"""What a catch-up costs the machine: CPU time per event of each process tree taking part (the
consumer, Postgres, the broker), and how many cores they kept busy together.

A rate says how fast; on two shared cores it also says how much the neighbours took. CPU per
event says how much work an event is, and so whether a loop is bound by the machine's cores
(busy cores near their count) or by waiting on something (fewer busy than there are)."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psutil


def own_cpu_s(process: psutil.Process) -> float:
    """CPU seconds of a process, with its children it waited for (Postgres's ended backends)."""
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def descendants(process: psutil.Process, exclude: Collection[int] = ()) -> Iterator[psutil.Process]:
    """A process's live descendants, leaving out those in `exclude` with their own: the bench
    process that runs a baseline loop is also the parent of the Postgres and broker it meters
    on their own."""
    try:
        children = process.children()
    except psutil.Error:
        return  # it ended meanwhile
    for child in children:
        if child.pid not in exclude:
            yield child
            yield from descendants(child, exclude)


def tree_cpu_s(process: psutil.Process, exclude: Collection[int] = ()) -> float:
    """CPU seconds of a process and its descendants (see `descendants`), the ended ones too."""
    total = own_cpu_s(process)
    for descendant in descendants(process, exclude):
        try:
            total += own_cpu_s(descendant)
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
    def spent(start: Reading, end: Reading) -> dict[str, float]:
        """CPU seconds of each tree read at both ends; trees named `part/instance` (a service at
        each of several principals) are summed per part."""
        spent: dict[str, float] = {}
        for name in start.cpu_s:
            if name in end.cpu_s:
                part = name.partition("/")[0]
                spent[part] = spent.get(part, 0.0) + end.cpu_s[name] - start.cpu_s[name]
        return spent

    @staticmethod
    def per_event(start: Reading, end: Reading, events: int) -> dict[str, Any]:
        """µs of CPU an event for each part (see `spent`), their sum, and the cores they kept
        busy on average over the interval."""
        spent = CpuMeter.spent(start, end)
        total = sum(spent.values())
        seconds = end.at - start.at
        return {
            "us_per_event": {n: 1e6 * s / events for n, s in spent.items()} if events else {},
            "total_us_per_event": 1e6 * total / events if events else float("nan"),
            "busy_cores": total / seconds if seconds > 0 else float("nan"),
        }
