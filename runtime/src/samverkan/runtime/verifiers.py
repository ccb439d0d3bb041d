"""Where a consumer checks a batch's signatures: in worker processes of its service.

libsodium releases the GIL inside each check, but a thread needs the GIL back between two
records, and an event loop busy applying the batch meanwhile holds it for whole switch
intervals: verifying threads stall exactly while there is other work to overlap with, and what
they do hold of the GIL the loop waits for. A worker process has a GIL of its own.

Each worker is a child of the service running `verify_worker`, fed over a pipe: a part of a
batch at a time (pickled, from the service, the only party to the pipe), one byte back per
record. It loads that module and `signing` alone (5–10 MB of its own memory), and ends when
the service does, even one killed outright, since its input then ends. A worker that dies, or
answers nothing for ANSWER_TIMEOUT_S, is replaced; the part of a batch it held is checked on a
thread of the service meanwhile. Where no process may be started, the service says so and
checks on its threads from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from samverkan.runtime.settings import MAX_VERIFY_PROCESSES
from samverkan.runtime.verify_worker import COMMAND, Check, read_message, verify_each

log = logging.getLogger(__name__)

INLINE_BELOW = 16  # fewer records than this are verified inline: a hand-off costs more
# A part of a batch takes a worker ~30 ms here; one that takes this long is stuck (stopped, or
# starved of a CPU), and the batch must not wait on it for ever.
ANSWER_TIMEOUT_S = 30.0
FAILURES_BEFORE_THREADS = 3  # workers failing this many times in a row: threads from then on


def usable_cpus() -> int:
    """The CPUs this process may use: those it may run on (not the host's), and no more than
    its cgroup's CPU quota, rounded up (a container limited to 500m has 1)."""
    cpus = len(os.sched_getaffinity(0))
    quota = _cgroup_cpu_quota()
    return cpus if quota is None else min(cpus, max(1, math.ceil(quota)))


def _cgroup_cpu_quota() -> float | None:
    """CPUs' worth of time this process's cgroup may use (v2, else v1), or None: no limit."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as file:
            quota, period = file.read().split()
    except (OSError, ValueError):
        try:
            with (
                open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as quota_file,
                open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as period_file,
            ):
                quota, period = quota_file.read().strip(), period_file.read().strip()
        except OSError:
            return None
    try:
        return None if quota in ("max", "-1") else int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return None


_CPUS = usable_cpus()
_THREADS = min(_CPUS, 4)

# Feed the workers (one thread each while it holds a part of a batch), or verify on them.
_threads = ThreadPoolExecutor(
    max_workers=max(_THREADS, MAX_VERIFY_PROCESSES), thread_name_prefix="verify"
)


def default_processes() -> int:
    """One fewer than the CPUs this process may use (`usable_cpus`; its event loop keeps one),
    1 to 4: a batch is only 500 records."""
    return max(1, min(_CPUS - 1, 4))


class WorkerFailed(Exception):
    """A verifying process ended, its pipe broke, or it took too long to answer."""


class Worker:
    """One verifying process. `verify` blocks: call it from a thread."""

    def __init__(self) -> None:
        # -P: nothing from the working directory shadows what the worker imports.
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-c", COMMAND], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self._process.pid

    def verify(self, checks: Sequence[Check]) -> list[bool]:
        """Whether each record's signature verifies under its key, in order."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        expired = threading.Event()

        def expire() -> None:  # a stuck worker: the blocked write or read then fails at once
            expired.set()
            self._process.kill()

        with self._lock:
            watchdog = threading.Timer(ANSWER_TIMEOUT_S, expire)
            watchdog.start()
            try:
                # Written as it is pickled, a frame at a time: no copy of the whole part.
                pickle.dump(list(checks), stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
                verdicts = read_message(stdout)
            except (OSError, ValueError) as exc:  # a broken pipe, or closed by `stop`
                verdicts, broken = None, exc
            else:
                broken = None
            finally:
                watchdog.cancel()
        if expired.is_set():
            raise WorkerFailed(f"no answer within {ANSWER_TIMEOUT_S:g} s")
        if verdicts is None or len(verdicts) != len(checks):
            raise WorkerFailed(str(broken) if broken else f"exit status {self._process.poll()}")
        return [verdict == 1 for verdict in verdicts]

    def stop(self) -> None:
        self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # what was left to write cannot go
                    pipe.close()


class Verifiers:
    """This process's verifying workers, started at the first batch that needs them."""

    def __init__(self, processes: int) -> None:
        self.requested = self.processes = processes
        self._workers: dict[int, Worker] = {}
        self._failures = 0  # in a row
        self._lock = threading.Lock()

    def verify_part(self, index: int, checks: Sequence[Check]) -> list[bool]:
        """`checks` verified by worker `index` (on the calling thread should it fail)."""
        try:
            worker = self._worker(index)
        except OSError as exc:  # a container that allows no more processes, say
            self._use_threads(f"cannot start a signature-verifying process ({exc})")
            worker = None
        if worker is None:
            return verify_each(checks)
        try:
            verdicts = worker.verify(checks)
        except WorkerFailed as exc:
            log.warning("signature-verifying process %d failed (%s); replacing it", worker.pid, exc)
            self._forget(index, worker)
            with self._lock:
                self._failures += 1
                failures = self._failures
            if failures >= FAILURES_BEFORE_THREADS:
                self._use_threads(f"signature-verifying processes failed {failures} times in a row")
            return verify_each(checks)
        with self._lock:
            self._failures = 0
        return verdicts

    def stop(self) -> None:
        """Stop the workers; a batch still being checked finishes on threads."""
        with self._lock:
            self.processes = 0
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.stop()

    def _use_threads(self, reason: str) -> None:
        if self.processes:
            log.error("%s: checking signatures on threads from now on", reason)
        self.stop()

    def _worker(self, index: int) -> Worker | None:
        with self._lock:
            if not self.processes:  # stopped meanwhile
                return None
            if index not in self._workers:
                self._workers[index] = Worker()
            return self._workers[index]

    def _forget(self, index: int, worker: Worker) -> None:
        with self._lock:
            if self._workers.get(index) is worker:
                del self._workers[index]
        worker.stop()


_verifiers = Verifiers(default_processes())


def use_processes(count: int | None) -> None:
    """Check large batches in `count` worker processes (None: `default_processes`), or with 0 on
    threads of this process."""
    global _verifiers
    count = default_processes() if count is None else count
    if count != _verifiers.requested:
        _verifiers.stop()
        _verifiers = Verifiers(count)


async def verify_all(checks: Sequence[Check]) -> list[bool]:
    """`signing.verify` for each (public key, record), in order: a large batch in the worker
    processes, or on threads, while the event loop is free for other work."""
    if len(checks) < INLINE_BELOW:
        return verify_each(checks)
    verifiers = _verifiers
    size = -(-len(checks) // (verifiers.processes or _THREADS))
    parts = [checks[start : start + size] for start in range(0, len(checks), size)]
    if verifiers.processes:
        calls = [functools.partial(verifiers.verify_part, i, part) for i, part in enumerate(parts)]
    else:
        calls = [functools.partial(verify_each, part) for part in parts]
    loop = asyncio.get_running_loop()
    done = await asyncio.gather(*(loop.run_in_executor(_threads, call) for call in calls))
    return [ok for part in done for ok in part]
