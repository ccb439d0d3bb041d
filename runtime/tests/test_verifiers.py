"""Checking a batch's signatures in worker processes: the verdicts, and the workers' lives."""

import contextlib
import logging
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
VALUE = b'{"any": "payload"}'


@pytest.fixture(autouse=True)
def own_workers() -> Iterator[None]:
    """Each test starts from no workers, and leaves none behind."""
    verifiers.use_processes(0)
    yield
    verifiers.use_processes(0)
    verifiers.use_processes(None)


def fifty_checks() -> tuple[list[Check], list[bool]]:
    signer, other = Signer(generate_key(), "key-1"), Signer(generate_key(), "key-2")
    good = (signer.sign(HEADERS, VALUE), VALUE)
    bad = {
        7: (other.sign(HEADERS, VALUE), VALUE),  # forged
        31: (good[0], VALUE + b" "),  # tampered
        49: (HEADERS, VALUE),  # unsigned
    }
    checks = [(signer.public_key_b64(), bad.get(i, good)) for i in range(50)]
    return checks, [i not in bad for i in range(50)]


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
        assert await verify_all(checks) == expected
    # Said once per part of the first batch, and not again: the next batch went to threads.
    assert caplog.text.count("cannot start a signature-verifying process") == 2
    assert worker_pids() == set()


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
