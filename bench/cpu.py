"""What a load costs the machine: CPU time per event (or referral) of each process tree taking
part (a consumer, Postgres, the broker, each service of a network), and how many cores they
kept busy together.

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


def parents() -> dict[int, int]:
    """Every process's parent, from one scan of /proc: asking each process of a tree for its
    children scans it once a process (~1.4 ms here each time)."""
    return {p.pid: p.info["ppid"] for p in psutil.process_iter(["ppid"])}


def descendants(
    process: psutil.Process,
    exclude: Collection[int] = (),
    parent_of: Mapping[int, int] | None = None,
) -> Iterator[psutil.Process]:
    """A process's live descendants, leaving out those in `exclude` with their own: the bench
    process that runs a baseline loop is also the parent of the Postgres and broker it meters
    on their own. `parent_of`: `parents()`, when read once for several trees."""
    children: dict[int, list[int]] = {}
    for pid, ppid in (parents() if parent_of is None else parent_of).items():
        children.setdefault(ppid, []).append(pid)
    stack = [process.pid]
    while stack:
        for pid in children.get(stack.pop(), ()):
            if pid in exclude:
                continue
            try:
                yield psutil.Process(pid)
            except psutil.Error:
                continue  # it ended meanwhile
            stack.append(pid)


def tree_cpu_s(
    process: psutil.Process,
    exclude: Collection[int] = (),
    parent_of: Mapping[int, int] | None = None,
) -> float:
    """CPU seconds of a process and its descendants (see `descendants`), the ended ones too."""
    total = own_cpu_s(process)
    for descendant in descendants(process, exclude, parent_of):
        try:
            total += own_cpu_s(descendant)
        except psutil.Error:
            continue  # it ended meanwhile: missed, unless its parent had reaped it before
    return total


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent on anything (the kernel and processes outside
    the metered trees too), all cores together: its time neither idle, waiting for I/O, nor
    taken by the hypervisor."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0) + getattr(times, "steal", 0.0)
    guests = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)  # in user already
    return sum(times) - idle - guests


@dataclass(frozen=True)
class Reading:
    at: float
    cpu_s: dict[str, float]
    machine_s: float = float("nan")  # machine_busy_s()


class CpuMeter:
    """Reads the named process trees' CPU time; `per_event` turns two readings into a cost."""

    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items() if pid}

    def read(self) -> Reading:
        cpu = {}
        roots = {process.pid for process in self._processes.values()}
        parent_of = parents()
        for name, process in self._processes.items():
            try:
                cpu[name] = tree_cpu_s(process, roots - {process.pid}, parent_of)
            except psutil.Error:
                continue  # gone: per_event leaves it out rather than count it as free
        return Reading(time.perf_counter(), cpu, machine_busy_s())

    @staticmethod
    def spent(start: Reading, end: Reading) -> dict[str, float]:
        """CPU seconds of each tree read at both ends; trees named `part/instance` (a service at
        each of several principals) are summed per part, and a part with an instance missing
        from either reading is left out rather than shown cheaper."""
        spent: dict[str, float] = {}
        incomplete = set()
        for name in [*start.cpu_s, *(n for n in end.cpu_s if n not in start.cpu_s)]:
            part = name.partition("/")[0]
            if name in start.cpu_s and name in end.cpu_s:
                spent[part] = spent.get(part, 0.0) + end.cpu_s[name] - start.cpu_s[name]
            else:
                incomplete.add(part)
        return {part: seconds for part, seconds in spent.items() if part not in incomplete}

    @staticmethod
    def cores(start: Reading, end: Reading) -> dict[str, float]:
        """The cores each part (see `spent`) kept busy on average between the readings."""
        seconds = end.at - start.at
        return {part: s / seconds for part, s in CpuMeter.spent(start, end).items()}

    @staticmethod
    def per_event(start: Reading, end: Reading, events: int) -> dict[str, Any]:
        """µs of CPU an event for each part (see `spent`), their sum, the cores they kept busy
        on average over the interval, and the cores the whole machine kept busy meanwhile."""
        spent = CpuMeter.spent(start, end)
        total = sum(spent.values())
        seconds = end.at - start.at
        nan = float("nan")
        return {
            "us_per_event": {n: 1e6 * s / events for n, s in spent.items()} if events else {},
            "total_us_per_event": 1e6 * total / events if events else nan,
            "busy_cores": total / seconds if seconds > 0 else nan,
            "machine_busy_cores": (end.machine_s - start.machine_s) / seconds
            if seconds > 0
            else nan,
        }
