"""Resident memory and CPU time of service processes, sampled from a thread while a load runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import psutil

from bench.cpu import children_index, descendants, own_cpu_s

MB = 1024 * 1024


@dataclass(frozen=True)
class Usage:
    """A service's memory and CPU seconds, with its child processes (the signature-verifying
    workers): their CPU, and their unique memory, not their RSS, so that the libraries they
    share with the service are not counted twice."""

    rss_mb: float  # the service's process alone, now
    high_water_mb: float  # its highest RSS since it started, as the kernel counts it (VmHWM)
    children_mb: float
    cpu_s: float

    @property
    def mb(self) -> float:
        return self.rss_mb + self.children_mb


def _usage(process: psutil.Process, index: Mapping[int, list[int]]) -> Usage:
    rss, high_water = _resident(process)
    cpu = own_cpu_s(process)
    children = 0
    for child in descendants(process, index=index):
        try:
            children += child.memory_full_info().uss
            cpu += own_cpu_s(child)
        except psutil.Error:
            continue  # it ended meanwhile
    return Usage(rss / MB, high_water / MB, children / MB, cpu)


def _resident(process: psutil.Process) -> tuple[int, int]:
    """The process's RSS now and its peak RSS (the kernel's high-water mark), in bytes, from one
    read of /proc/<pid>/status: between two samples a service's memory may rise and fall again,
    which sampling alone would miss."""
    with open(f"/proc/{process.pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if line.startswith(("VmRSS", "VmHWM")))
    if len(fields) < 2:  # a zombie: its memory is gone
        raise psutil.ZombieProcess(process.pid)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


class RssSampler:
    """Samples named processes every `interval_s`: each one's peak RSS, an RSS timeline, and the CPU
    seconds it used while watched (which service a load actually costs). A process counts with
    its children (see `Usage`). Its peak is the larger of the highest sample and the kernel's
    high-water mark of the service's process plus the most its children held at any sample: an
    upper bound, since the two need not have peaked at once."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self._interval_s = interval_s
        self._processes: dict[str, psutil.Process] = {}
        self._phase: dict[str, str] = {}
        self.sampled_peak_mb: dict[str, float] = {}
        self.high_water_mb: dict[str, float] = {}
        self.children_peak_mb: dict[str, float] = {}
        self.timeline: list[tuple[float, dict[str, float]]] = []
        self.cpu_s: dict[str, tuple[float, float]] = {}  # name: (at first sample, at last)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._started = time.monotonic()

    def watch(self, name: str, pid: int, phase: str) -> None:
        """Watch `pid` as `name`, in `phase`; each name stands for one process, watched once."""
        with self._lock:
            if name in self._phase:
                raise ValueError(f"{name} was watched before: its peak would mix two processes")
            self._processes[name] = psutil.Process(pid)
            self._phase[name] = phase

    def forget(self, name: str) -> None:
        self.sample()
        with self._lock:
            self._processes.pop(name, None)

    def sample(self) -> None:
        now = time.monotonic() - self._started
        row: dict[str, float] = {}
        index = children_index()
        with self._lock:
            for name, process in list(self._processes.items()):
                try:
                    usage = _usage(process, index)
                except (psutil.Error, OSError):
                    continue  # it ended meanwhile
                cpu = usage.cpu_s
                self.cpu_s[name] = (self.cpu_s.get(name, (cpu, cpu))[0], cpu)
                row[name] = usage.mb
                self.sampled_peak_mb[name] = max(usage.mb, self.sampled_peak_mb.get(name, 0.0))
                self.children_peak_mb[name] = max(
                    usage.children_mb, self.children_peak_mb.get(name, 0.0)
                )
                self.high_water_mb[name] = usage.high_water_mb
            if row:
                self.timeline.append((now, row))

    @property
    def peak_mb(self) -> dict[str, float]:
        """Each sampled process's peak (see the class)."""
        return {
            name: max(sampled, self.high_water_mb[name] + self.children_peak_mb[name])
            for name, sampled in self.sampled_peak_mb.items()
        }

    def result(self) -> dict[str, Any]:
        return {
            name: {
                "peak_mb": round(mb, 1),
                "sampled_peak_mb": round(self.sampled_peak_mb[name], 1),
                "high_water_mb": round(self.high_water_mb[name], 1),
                "children_peak_mb": round(self.children_peak_mb[name], 1),
                "phase": self._phase[name],
                "cpu_s": round(self.cpu_s[name][1] - self.cpu_s[name][0], 1),
            }
            for name, mb in sorted(self.peak_mb.items())
        }

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
