"""Where a consumer checks a batch's signatures: in worker processes of its service.

libsodium releases the GIL inside each check, but a thread needs the GIL back between two
records, and an event loop busy applying the batch meanwhile holds it for whole switch
intervals: verifying threads stall exactly while there is other work to overlap with, and what
they do hold of the GIL the loop waits for. A worker process has a GIL of its own.

Each worker is a child of the service running `verify_worker`, fed over a pipe by the event
loop itself: a part of a batch at a time (pickled, from the service, the only party to the
pipe), one byte back per record. It loads that module and `signing` alone (5–10 MB of its own
memory), and ends when the service does, even one killed outright, since its input then ends.
A worker that dies, or answers nothing for ANSWER_TIMEOUT_S, is replaced; the part of a batch
it held is checked on a thread of the service meanwhile. Where no process may be started, the
service says so and checks on its threads from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from samverkan.runtime.verify_worker import COMMAND, LENGTH, Check, verify_each

log = logging.getLogger(__name__)

INLINE_BELOW = 16  # fewer records than this are verified inline: a hand-off costs more
# A part of a batch takes a worker ~30 ms here; one that takes this long is stuck (stopped, or
# starved of a CPU), and the batch must not wait on it for ever.
ANSWER_TIMEOUT_S = 30.0
PIPE_BYTES = 1 << 20  # the most a worker's pipe grows to: 500 records of ~1.2 KB pickle to ~650 KB
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

# Where no worker process checks a part (none may start, or one failed or is busy).
_threads = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="verify")


def default_processes() -> int:
    """One fewer than the CPUs this process may use (`usable_cpus`; its event loop keeps one),
    1 to 4: a batch is only 500 records."""
    return max(1, min(_CPUS - 1, 4))


class WorkerFailed(Exception):
    """A verifying process ended, its pipe broke, or it took too long to answer."""


class Worker:
    """One verifying process, fed by the event loop itself: it writes a part of a batch as the
    pipe takes it and reads the answer as it comes, between its other work. A thread feeding
    the pipe waited for the GIL the busy loop holds, at each wake-up and each write (a thread
    started beside a busy loop, for one, takes ~10 ms here)."""

    def __init__(self) -> None:
        # -P: nothing from the working directory shadows what the worker imports.
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-c", COMMAND], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._requests, self._answers = self._process.stdin.fileno(), self._process.stdout.fileno()
        for fd in (self._requests, self._answers):
            os.set_blocking(fd, False)
        self._pipe_bytes = fcntl.fcntl(self._requests, fcntl.F_GETPIPE_SZ)
        # One exchange at a time, from any thread's loop (`begin`, `finish`); a part that finds
        # the worker busy is checked on a thread instead.
        self._state = threading.Lock()
        self._busy = self._stopping = False
        self.closed = False  # killed, reaped and its pipes closed: their numbers may be reused

    @property
    def pid(self) -> int:
        return self._process.pid

    def begin(self) -> bool:
        """Take the worker for one exchange: False while another has it, or once stopped."""
        with self._state:
            if self._busy or self._stopping or self.closed:
                return False
            self._busy = True
            return True

    def finish(self) -> None:
        """The exchange taken by `begin` is over; a stop asked meanwhile is done now."""
        with self._state:
            self._busy = False
            stopped_meanwhile = self._stopping
        if stopped_meanwhile:
            self._end()

    async def verify(self, checks: Sequence[Check]) -> list[bool]:
        """Whether each record's signature verifies under its key, in order, between `begin`
        and `finish`. An exchange that ends early (failed, or cancelled) ends the worker: its
        pipe is then mid-message."""
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                # The whole part pickled at once (~650 KB for 500 records), to go in one write.
                request = pickle.dumps(checks, protocol=pickle.HIGHEST_PROTOCOL)
                self._fit_pipe(len(request))
                await self._write(request)
                answer = await self._read(LENGTH + len(checks))
            if int.from_bytes(answer[:LENGTH], "big") != len(checks):
                raise WorkerFailed(f"an answer of {answer[:LENGTH]!r} for {len(checks)} records")
        except BaseException as exc:
            self._end()
            if isinstance(exc, TimeoutError):
                raise WorkerFailed(f"no answer within {ANSWER_TIMEOUT_S:g} s") from None
            if isinstance(exc, Exception) and not isinstance(exc, WorkerFailed):
                raise WorkerFailed(f"{type(exc).__name__}: {exc}") from exc  # a broken pipe, say
            raise
        return [verdict == 1 for verdict in answer[LENGTH:]]

    def _fit_pipe(self, size: int) -> None:
        """Grow the pipe to take `size` bytes at once, up to PIPE_BYTES: then the part waits on
        nothing the loop does next. Only as a part needs it, since a user's pipes share a
        budget (pipe-user-pages-soft) beyond which the system gives every new pipe 8 KB."""
        wanted = min(size, PIPE_BYTES)
        if wanted > self._pipe_bytes:
            with contextlib.suppress(OSError):  # not allowed: it goes a piece at a time
                self._pipe_bytes = fcntl.fcntl(self._requests, fcntl.F_SETPIPE_SZ, wanted)

    async def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._requests, view) :]
            except BlockingIOError:  # the pipe is full until the worker reads
                await _ready(self._requests, writing=True)

    async def _read(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            try:
                chunk = os.read(self._answers, size - len(data))
            except BlockingIOError:
                await _ready(self._answers, writing=False)
                continue
            if not chunk:
                raise WorkerFailed(f"exit status {self._process.poll()}")
            data += chunk
        return bytes(data)

    def stop(self) -> None:
        """End the worker, or, should an exchange have it, kill it and leave the rest to
        `finish`: closed under the exchange, its pipes would never wake it."""
        with self._state:
            self._stopping = True
            busy = self._busy
        if busy:
            self._process.kill()
        else:
            self._end()

    def _end(self) -> None:
        if self.closed:
            return
        self._process.kill()
        # Killed outright, a process is gone within a millisecond or so. One the kernel cannot
        # wake holds up the loop no longer than this; `subprocess` reaps it at a later start.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=0.1)
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # what was left to write cannot go
                    pipe.close()
        self.closed = True


async def _ready(fd: int, *, writing: bool) -> None:
    """Until `fd` can be written to (or read from) without blocking."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if writing:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if writing:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


class Verifiers:
    """This process's verifying workers, started at the first batch that needs them."""

    def __init__(self, processes: int) -> None:
        self.requested = self.processes = processes
        self._workers: dict[int, Worker] = {}
        self._failures = 0  # in a row
        self._lock = threading.Lock()

    async def verify_part(self, index: int, checks: Sequence[Check]) -> list[bool]:
        """`checks` verified by worker `index` (on a thread should it fail, or be busy with
        another consumer's batch)."""
        try:
            worker = self._worker(index)
        except OSError as exc:  # a container that allows no more processes, say
            self._use_threads(f"cannot start a signature-verifying process ({exc})")
            worker = None
        if worker is None or not worker.begin():
            return await _on_thread(checks)
        try:
            verdicts = await worker.verify(checks)
        except WorkerFailed as exc:
            failure = exc
        else:
            with self._lock:
                self._failures = 0
            return verdicts
        finally:
            worker.finish()
        if not self.processes:  # stopped meanwhile: the kill was `stop`'s
            return await _on_thread(checks)
        log.warning("signature-verifying process %d failed (%s); replacing it", worker.pid, failure)
        self._forget(index, worker)
        with self._lock:
            self._failures += 1
            failures = self._failures
        if failures >= FAILURES_BEFORE_THREADS:
            self._use_threads(f"signature-verifying processes failed {failures} times in a row")
        return await _on_thread(checks)

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
            if index not in self._workers or self._workers[index].closed:
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
        done = await asyncio.gather(*(verifiers.verify_part(i, p) for i, p in enumerate(parts)))
    else:
        done = await asyncio.gather(*(_on_thread(part) for part in parts))
    return [ok for part in done for ok in part]


async def _on_thread(checks: Sequence[Check]) -> list[bool]:
    return await asyncio.get_running_loop().run_in_executor(_threads, verify_each, checks)
