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
import os
import pickle
import select
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from samverkan.runtime.verify_worker import COMMAND, Check, read_message, verify_each

log = logging.getLogger(__name__)

INLINE_BELOW = 16  # fewer records than this are verified inline: a hand-off costs more
MAX_PROCESSES = 8
# A part of a batch takes a worker ~30 ms here; one that takes this long is stuck (stopped, or
# starved of a CPU), and the batch must not wait on it for ever.
ANSWER_TIMEOUT_S = 30.0
_CPUS = len(os.sched_getaffinity(0))  # the cores this process may run on, not the host's
_THREADS = min(_CPUS, 4)

# Feed the workers (one thread each while it holds a part of a batch), or verify on them.
_threads = ThreadPoolExecutor(max_workers=max(_THREADS, MAX_PROCESSES), thread_name_prefix="verify")


def default_processes() -> int:
    """One fewer than the CPUs this process may use (its event loop keeps one), 1 to 4: a batch
    is only 500 records."""
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
        with self._lock:
            try:
                # Written as it is pickled, a frame at a time: no copy of the whole part.
                pickle.dump(list(checks), stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
                if not select.select([stdout], [], [], ANSWER_TIMEOUT_S)[0]:
                    raise WorkerFailed(f"no answer within {ANSWER_TIMEOUT_S:g} s")
                verdicts = read_message(stdout)
            except (OSError, ValueError) as exc:  # a broken pipe, or closed by `stop`
                raise WorkerFailed(str(exc)) from exc
        if verdicts is None or len(verdicts) != len(checks):
            raise WorkerFailed(f"exit status {self._process.poll()}")
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
        self.processes = processes
        self._workers: dict[int, Worker] = {}
        self._lock = threading.Lock()

    def verify_part(self, index: int, checks: Sequence[Check]) -> list[bool]:
        """`checks` verified by worker `index` (on the calling thread should it fail)."""
        try:
            worker = self._worker(index)
        except OSError as exc:
            log.error("cannot start a signature-verifying process (%s): using threads", exc)
            self.processes = 0
            return verify_each(checks)
        try:
            return worker.verify(checks)
        except WorkerFailed as exc:
            log.warning("signature-verifying process %d failed (%s); replacing it", worker.pid, exc)
            self._forget(index, worker)
            return verify_each(checks)

    def stop(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.stop()

    def _worker(self, index: int) -> Worker:
        with self._lock:
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
    if count != _verifiers.processes:
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
