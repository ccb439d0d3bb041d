"""Checking a batch's signatures in worker processes: the verdicts, and the workers' lives."""

import contextlib
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
    """Fifty distinct records of 4 KB: a part of them is larger than a pipe's buffer."""
    signer, other = Signer(generate_key(), "key-1"), Signer(generate_key(), "key-2")
    values = [os.urandom(2048).hex().encode() for _ in range(50)]
    records = [(signer.sign(HEADERS, value), value) for value in values]
    records[7] = (other.sign(HEADERS, values[7]), values[7])  # forged
    records[31] = (records[31][0], values[31] + b" ")  # tampered
    records[49] = (HEADERS, values[49])  # unsigned
    checks = [(signer.public_key_b64(), record) for record in records]
    return checks, [i not in (7, 31, 49) for i in range(50)]


def worker_pids() -> set[int]:
    """This process's verifying workers (not the broker or database a test session may run)."""
    found = set()
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):  # one that ended meanwhile
            if "verify_worker.serve()" in " ".join(child.cmdline()):
                found.add(child.pid)
    return found


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
    verifiers.use_processes(1)
    checks, expected = fifty_checks()
    assert await verify_all(checks) == expected
    (first,) = worker_pids()
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
    verifiers.use_processes(1)
    checks, expected = fifty_checks()
    assert await verify_all(checks) == expected
    (first,) = worker_pids()
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
