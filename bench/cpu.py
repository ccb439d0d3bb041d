"""What a load costs the machine: CPU time per event (or referral) of each process tree taking
part (a consumer, Postgres, the broker, each service of a network), and how many cores they
kept busy together.

A rate says how fast; on two shared cores it also says how much the neighbours took. CPU per
event says how much work an event is, and so whether a loop is bound by the machine's cores
(busy cores near their count) or by waiting on something (fewer busy than there are)."""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psutil


def own_cpu_s(process: psutil.Process) -> float:
    """CPU seconds of a process, with its children it waited for (Postgres's ended backends)."""
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def children_index() -> dict[int, list[int]]:
    """Every process's children, from one scan of /proc: asking each process of a tree for its
    children scans it once a process (~1.4 ms here each time)."""
    index: dict[int, list[int]] = {}
    for p in psutil.process_iter(["ppid"]):
        index.setdefault(p.info["ppid"], []).append(p.pid)
    return index


def descendants(
    process: psutil.Process,
    exclude: Collection[int] = (),
    index: Mapping[int, list[int]] | None = None,
) -> Iterator[psutil.Process]:
    """A process's live descendants, leaving out those in `exclude` with their own: the bench
    process that runs a baseline loop is also the parent of the Postgres and broker it meters
    on their own. `index`: `children_index()`, when read once for several trees."""
    index = children_index() if index is None else index
    seen = {process.pid}
    stack = [process.pid]
    while stack:
        parent = stack.pop()
        for pid in index.get(parent, ()):
            if pid in exclude or pid in seen:
                continue  # in seen: a pid reused since the scan, under a parent seen before
            seen.add(pid)
            try:
                child = psutil.Process(pid)
                if child.ppid() != parent:
                    continue  # ended since the scan, and its pid taken by another process
            except psutil.Error:
                continue  # it ended meanwhile
            yield child
            stack.append(pid)


def tree_cpu_s(
    process: psutil.Process,
    exclude: Collection[int] = (),
    index: Mapping[int, list[int]] | None = None,
) -> float:
    """CPU seconds of a process and its descendants (see `descendants`), the ended ones too."""
    total = own_cpu_s(process)
    for descendant in descendants(process, exclude, index):
        try:
            total += own_cpu_s(descendant)
        except psutil.Error:
            continue  # it ended meanwhile: missed, unless its parent had reaped it before
    return total


def machine_s() -> tuple[float, float]:
    """CPU seconds the whole machine has spent busy, all cores together (the kernel and
    processes outside the metered trees too: its time neither idle nor waiting for I/O), and
    those the hypervisor gave to other machines instead (steal)."""
    times = psutil.cpu_times()
    steal = getattr(times, "steal", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0) + steal
    # user and nice include the guests' time already
    guests = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return sum(times) - idle - guests, steal


@dataclass(frozen=True)
class Reading:
    at: float
    cpu_s: dict[str, float]  # NaN: a tree that could not be read (gone, or never started)
    machine_s: float = math.nan  # machine_s()
    steal_s: float = math.nan


class CpuMeter:
    """Reads the named process trees' CPU time; `per_event` turns two readings into a cost."""

    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self._processes = {name: psutil.Process(pid) if pid else None for name, pid in pids.items()}

    def read(self) -> Reading:
        cpu = {}
        roots = {process.pid for process in self._processes.values() if process is not None}
        index = children_index()
        for name, process in self._processes.items():
            cpu[name] = math.nan
            if process is None:
                continue
            try:
                if process.status() != psutil.STATUS_ZOMBIE:  # a zombie's times stand still
                    cpu[name] = tree_cpu_s(process, roots - {process.pid}, index)
            except psutil.Error:
                continue  # gone
        return Reading(time.perf_counter(), cpu, *machine_s())

    @staticmethod
    def spent(start: Reading, end: Reading) -> dict[str, float]:
        """CPU seconds of each tree read at both ends; trees named `part/instance` (a service at
        each of several principals) are summed per part, and a part with an instance not read
        at either end is left out rather than shown cheaper."""
        spent: dict[str, float] = {}
        for name in dict.fromkeys([*start.cpu_s, *end.cpu_s]):
            part = name.partition("/")[0]
            used = end.cpu_s.get(name, math.nan) - start.cpu_s.get(name, math.nan)
            spent[part] = spent.get(part, 0.0) + used  # NaN, and so left out, if unread once
        return {part: seconds for part, seconds in spent.items() if not math.isnan(seconds)}

    @staticmethod
    def cores(start: Reading, end: Reading) -> dict[str, float]:
        """The cores each part (see `spent`) kept busy on average between the readings."""
        return {p: _cores(s, start, end) for p, s in CpuMeter.spent(start, end).items()}

    @staticmethod
    def machine_cores(start: Reading, end: Reading) -> dict[str, float]:
        """The cores the whole machine kept busy between the readings, and those the hypervisor
        gave to other machines meanwhile."""
        return {
            "machine_busy_cores": _cores(end.machine_s - start.machine_s, start, end),
            "machine_steal_cores": _cores(end.steal_s - start.steal_s, start, end),
        }

    @staticmethod
    def per_event(start: Reading, end: Reading, events: int) -> dict[str, Any]:
        """µs of CPU an event for each part (see `spent`), their sum, the cores they kept busy
        on average over the interval, and the whole machine's (`machine_cores`)."""
        spent = CpuMeter.spent(start, end)
        total = sum(spent.values())
        return {
            "us_per_event": {n: 1e6 * s / events for n, s in spent.items()} if events else {},
            "total_us_per_event": 1e6 * total / events if events else math.nan,
            "busy_cores": _cores(total, start, end),
            **CpuMeter.machine_cores(start, end),
        }


def _cores(cpu_s: float, start: Reading, end: Reading) -> float:
    """CPU seconds spent between two readings as cores kept busy on average."""
    seconds = end.at - start.at
    return cpu_s / seconds if seconds > 0 else math.nan
