"""Checking a batch's signatures in worker processes: the verdicts, and the workers' lives."""

import asyncio
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from samverkan.runtime import verifiers
from samverkan.runtime.signing import Signer, generate_key
from samverkan.runtime.verifiers import Check, verify_all

pytestmark = pytest.mark.unit

HEADERS = [("ce_id", b"7"), ("ce_sourceprincipal", b"sjostad-kommun")]


@pytest.fixture(autouse=True)
def own_workers() -> Iterator[None]:
    """Each test starts from no workers, and leaves none behind."""
    verifiers.use_processes(0)
    yield
    verifiers.use_processes(0)
    verifiers.use_processes(None)


def fifty_checks() -> tuple[list[Check], list[bool]]:
    """Fifty distinct records of 4 KB: a part of them is larger than a pipe's default buffer."""
    signer, other = Signer(generate_key(), "key-1"), Signer(generate_key(), "key-2")
    values = [os.urandom(2048).hex().encode() for _ in range(50)]
    records = [(signer.sign(HEADERS, value), value) for value in values]
    records[7] = (other.sign(HEADERS, values[7]), values[7])  # forged
    records[31] = (records[31][0], values[31] + b" ")  # tampered
    records[49] = (HEADERS, values[49])  # unsigned
    checks = [(signer.public_key_b64(), record) for record in records]
    return checks, [i not in (7, 31, 49) for i in range(50)]


async def one_worker() -> tuple[verifiers.Worker, list[Check], list[bool]]:
    """One worker process, started by verifying a batch; the worker, that batch and its verdicts."""
    verifiers.use_processes(1)
    checks, expected = fifty_checks()
    assert await verify_all(checks) == expected
    (worker,) = verifiers._verifiers._workers.values()
    assert worker_pids() == {worker.pid}
    return worker, checks, expected


def worker_pids() -> set[int]:
    """This process's verifying workers (not the broker or database a test session may run)."""
    found = set()
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):  # one that ended meanwhile
            if "verify_worker.serve()" in " ".join(child.cmdline()):
                found.add(child.pid)
    return found


def count_writes(monkeypatch: pytest.MonkeyPatch, worker: verifiers.Worker) -> list[int]:
    """Each try to write to `worker`'s pipe from now on (its file descriptor, once a try)."""
    writes: list[int] = []
    write = os.write

    def counting_write(fd: int, data: bytes | memoryview, /) -> int:
        if fd == worker._requests:
            writes.append(fd)
        return write(fd, data)

    monkeypatch.setattr(verifiers.os, "write", counting_write)
    return writes


@pytest.mark.parametrize("processes", [0, 1, 3])  # 3: uneven parts of 17, 17 and 16 records
async def test_a_batch_is_verified_record_by_record_in_order(processes: int) -> None:
    verifiers.use_processes(processes)
    checks, expected = fifty_checks()
    assert await verify_all(checks) == expected
    assert len(worker_pids()) == processes
    assert await verify_all(checks[5:9]) == [True, True, False, True]  # inline, below threshold
    assert await verify_all([]) == []


async def test_a_dead_worker_costs_no_verdict_and_is_replaced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker, checks, expected = await one_worker()
    first = worker.pid
    psutil.Process(first).kill()  # as by the OOM killer
    psutil.Process(first).wait(5)
    with caplog.at_level(logging.WARNING, logger=verifiers.__name__):
        assert await verify_all(checks) == expected  # its part verified on a thread instead
    assert f"signature-verifying process {first} failed" in caplog.text
    assert await verify_all(checks) == expected  # by a new worker
    (second,) = worker_pids()
    assert second != first


async def test_a_stuck_worker_is_replaced(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    worker, checks, expected = await one_worker()
    first = worker.pid
    psutil.Process(first).suspend()  # SIGSTOP: alive, and answering nothing
    monkeypatch.setattr(verifiers, "ANSWER_TIMEOUT_S", 0.5)
    with caplog.at_level(logging.WARNING, logger=verifiers.__name__):
        assert await verify_all(checks) == expected
    assert f"signature-verifying process {first} failed (no answer within 0.5 s)" in caplog.text
    assert not psutil.pid_exists(first)  # killed, and reaped
    assert await verify_all(checks) == expected
    assert len(worker_pids() - {first}) == 1


async def test_where_no_process_may_start_threads_verify(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    verifiers.use_processes(2)
    monkeypatch.setattr(verifiers.subprocess, "Popen", refuse)
    checks, expected = fifty_checks()
    with caplog.at_level(logging.ERROR, logger=verifiers.__name__):
        assert await verify_all(checks) == expected
        said = caplog.text.count("cannot start a signature-verifying process")
        assert said >= 1
        assert await verify_all(checks) == expected
    assert caplog.text.count("cannot start a signature-verifying process") == said  # not again
    assert worker_pids() == set()


async def test_workers_that_keep_failing_give_way_to_threads(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(verifiers, "COMMAND", "raise SystemExit(3)")  # as a broken install would
    verifiers.use_processes(1)
    checks, expected = fifty_checks()
    with caplog.at_level(logging.WARNING, logger=verifiers.__name__):
        for _ in range(verifiers.FAILURES_BEFORE_THREADS + 2):
            assert await verify_all(checks) == expected
    # This module's records only: a client of another test may still be logging its own failures.
    failures = [
        r for r in caplog.records if r.name == verifiers.__name__ and "failed (" in r.getMessage()
    ]
    assert len(failures) == verifiers.FAILURES_BEFORE_THREADS
    assert "failed 3 times in a row: checking signatures on threads from now on" in caplog.text
    assert worker_pids() == set()


async def test_a_worker_is_fed_by_the_event_loop_not_by_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread feeding the pipe waits for the GIL a busy event loop holds: none is used."""
    submitted: list[object] = []
    real_submit = verifiers._threads.submit

    def counting_submit(fn: object, /, *args: object, **kwargs: object) -> object:
        submitted.append(fn)
        return real_submit(fn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(verifiers._threads, "submit", counting_submit)
    verifiers.use_processes(2)
    checks, expected = fifty_checks()
    assert await verify_all(checks) == expected
    assert len(worker_pids()) == 2
    assert submitted == []
    verifiers.use_processes(0)  # and the same batch on threads, to show the count can move
    assert await verify_all(checks) == expected
    assert len(submitted) == verifiers._THREADS


def pipes_may_grow_to(size: int) -> bool:
    """Whether this system lets a pipe hold `size` bytes (pipe-max-size, the user's budget)."""
    read, write = os.pipe()
    try:
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, size)
    except OSError:
        return False
    finally:
        os.close(read)
        os.close(write)
    return True


@pytest.mark.skipif(
    not pipes_may_grow_to(256 * 1024),
    reason="this system lets no pipe grow to 256 KB (pipe-max-size, or the user's pipe budget "
    "used up), so a part goes a piece at a time, which the next test checks",
)
async def test_a_part_goes_to_its_worker_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe of 64 KB takes a part of a full batch (~650 KB) a piece at a time, each piece
    waiting for the event loop to come back to it: the worker's pipe grows to hold a part."""
    verifiers.use_processes(1)
    checks, expected = fifty_checks()  # ~214 KB pickled
    assert await verify_all(checks) == expected
    (worker,) = verifiers._verifiers._workers.values()
    writes = count_writes(monkeypatch, worker)
    assert await verify_all(checks) == expected
    assert writes == [worker._requests]
    assert not worker.closed and worker_pids() == {worker.pid}  # not verified on a thread


async def test_a_part_larger_than_the_pipe_goes_a_piece_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the system allows no larger pipe, the loop writes what the pipe takes, and waits."""
    monkeypatch.setattr(verifiers, "PIPE_BYTES", 4096)  # under the 64 KB a pipe starts with
    worker, checks, expected = await one_worker()
    writes = count_writes(monkeypatch, worker)
    assert await verify_all(checks) == expected
    assert len(writes) > 1
    assert not worker.closed and worker_pids() == {worker.pid}  # not verified on a thread


async def test_an_answer_of_the_wrong_length_costs_no_verdict(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker out of step with its service (say, a different version) is not believed."""
    monkeypatch.setattr(
        verifiers,
        "COMMAND",
        "import pickle, sys\n"
        "while True:\n"
        "    checks = pickle.load(sys.stdin.buffer)\n"
        "    count = len(checks) + 1\n"
        "    sys.stdout.buffer.write(count.to_bytes(8, 'big') + bytes([1]) * count)\n"
        "    sys.stdout.buffer.flush()\n",
    )
    verifiers.use_processes(1)
    checks, expected = fifty_checks()
    with caplog.at_level(logging.WARNING, logger=verifiers.__name__):
        assert await verify_all(checks) == expected  # on a thread instead
    assert "an answer of b'\\x00\\x00\\x00\\x00\\x00\\x00\\x003' for 50 records" in caplog.text


async def test_a_worker_busy_with_another_batch_leaves_the_next_to_a_thread() -> None:
    """Two consumers of one process verifying at once: the second does not queue behind the
    first's worker, and each batch comes back whole and in order."""
    worker, checks, expected = await one_worker()
    first = worker.pid
    psutil.Process(first).suspend()  # the first batch's exchange cannot finish meanwhile
    try:
        first_batch = asyncio.create_task(verify_all(checks))
        await asyncio.sleep(0.2)
        assert await asyncio.wait_for(verify_all(checks[::-1]), timeout=10) == expected[::-1]
        assert not first_batch.done()
    finally:
        psutil.Process(first).resume()
    assert await first_batch == expected
    assert worker_pids() == {first}


async def test_a_batch_cancelled_mid_exchange_ends_its_worker() -> None:
    """Its pipe is left mid-message: the next batch must go to a new worker, not read the
    answer meant for the one before."""
    worker, checks, expected = await one_worker()
    first = worker.pid
    psutil.Process(first).suspend()  # the exchange cannot finish while it is cancelled
    task = asyncio.create_task(verify_all(checks))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not psutil.pid_exists(first)  # killed, and reaped
    assert await verify_all(checks) == expected
    assert len(worker_pids() - {first}) == 1


async def test_a_batch_cancelled_mid_write_ends_its_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verifiers, "PIPE_BYTES", 4096)  # so that the write waits on the pipe
    worker, checks, expected = await one_worker()
    psutil.Process(worker.pid).suspend()
    writes = count_writes(monkeypatch, worker)
    task = asyncio.create_task(verify_all(checks))
    await asyncio.sleep(0.2)
    assert writes  # it began to write
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not psutil.pid_exists(worker.pid)
    assert await verify_all(checks) == expected


async def test_workers_stopped_under_a_batch_leave_it_to_threads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`use_processes` stops the workers while one holds a part: the part is checked on a
    thread at once, not after the worker's answer timeout, and the stop is no failure."""
    worker, checks, expected = await one_worker()
    first = worker.pid
    psutil.Process(first).suspend()
    task = asyncio.create_task(verify_all(checks))
    await asyncio.sleep(0.2)
    assert not task.done()
    with caplog.at_level(logging.WARNING, logger=verifiers.__name__):
        verifiers.use_processes(0)
        # ANSWER_TIMEOUT_S is 30 s: a part left waiting on its closed pipe would take that long.
        assert await asyncio.wait_for(task, timeout=10) == expected
    assert not psutil.pid_exists(first)
    assert [r for r in caplog.records if r.name == verifiers.__name__] == []


async def test_a_worker_stopped_once_it_has_answered_is_still_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped between its answer coming in and the exchange reading it: the exchange
    succeeds, and then ends the worker (reaped, its pipes closed), as nothing else will."""
    worker, checks, expected = await one_worker()
    ready = verifiers._ready

    async def ready_then_stopped(fd: int, *, writing: bool) -> None:
        await ready(fd, writing=writing)
        if not writing:  # the answer is in the pipe
            verifiers.use_processes(0)

    monkeypatch.setattr(verifiers, "_ready", ready_then_stopped)
    assert await verify_all(checks) == expected
    assert worker.closed
    assert not psutil.pid_exists(worker.pid)


@pytest.mark.parametrize(("quota", "usable"), [(None, 2), (0.5, 1), (1.0, 1), (1.5, 2), (8.0, 2)])
def test_a_cpu_quota_bounds_the_usable_cpus(
    monkeypatch: pytest.MonkeyPatch, quota: float | None, usable: int
) -> None:
    monkeypatch.setattr(verifiers.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(verifiers, "_cgroup_cpu_quota", lambda: quota)
    assert verifiers.usable_cpus() == usable


def test_workers_end_with_their_service() -> None:
    """Even a service killed outright (SIGKILL, no time to stop its workers) leaves none."""
    service = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import asyncio, time; from samverkan.runtime import signing, verifiers;"
            " signer = signing.Signer(signing.generate_key(), 'key-1');"
            " checks = [(signer.public_key_b64(), (signer.sign([], b'x'), b'x'))] * 50;"
            " verifiers.use_processes(2);"
            " assert all(asyncio.run(verifiers.verify_all(checks)));"
            " print('up', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout is not None and service.stdout.readline() == "up\n"
        workers = psutil.Process(service.pid).children()
        assert len(workers) == 2
    finally:
        service.kill()
        service.wait()
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, f"left running: {alive}"
