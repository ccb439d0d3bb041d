"""Each run of the network part is metered until its queues have drained, and the wait for
drained queues trusts no single reading of zero."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, Self

import pytest

from bench import network_bench
from bench.cpu import Reading
from bench.load import LoadResult, Trip

pytestmark = pytest.mark.unit


class _Lag:
    """Stands in for `GroupLag`: answers `unread` from a script of readings."""

    def __init__(self, readings: list[int]) -> None:
        self.script = readings
        self.readings: Iterator[int] = iter(readings)
        self.asked = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def unread(self) -> int:
        self.asked += 1
        return next(self.readings)


def _net() -> Any:
    process = SimpleNamespace(principal="p", service="audit")
    return SimpleNamespace(processes=lambda: [process], bootstrap_servers="")


@pytest.fixture
def lag(monkeypatch: pytest.MonkeyPatch) -> _Lag:
    # Records left, then a zero that does not hold (a relay published after the commit), then
    # two zeros in a row.
    script = _Lag([5, 0, 3, 0, 0, 9])
    monkeypatch.setattr(network_bench, "GroupLag", lambda *_: script)
    monkeypatch.setattr(network_bench, "QUIET_POLL_S", 0.0)
    return script


async def test_the_queues_count_as_drained_at_two_readings_of_zero_in_a_row(lag: _Lag) -> None:
    _, unread = await network_bench._quiet(_net())
    assert unread == 0
    assert lag.asked == 5  # not at the first zero, and no reading after the second in a row


async def test_a_run_is_metered_from_its_start_until_its_queues_drained(lag: _Lag) -> None:
    readings = iter(
        [
            Reading(at=0.0, cpu_s={"audit/p": 1.0}, machine_s=10.0),
            Reading(at=4.0, cpu_s={"audit/p": 3.0}, machine_s=16.0),
        ]
    )
    read_after: list[int] = []  # how many lag readings had been taken at each meter reading

    def read() -> Reading:
        read_after.append(lag.asked)
        return next(readings)

    meter = SimpleNamespace(read=read)
    created = {uuid.uuid4(): Trip(posted=0.0, created=0.1) for _ in range(4)}
    unanswered = {uuid.uuid4(): Trip(posted=0.0)}  # a POST that failed costs, but is no referral

    class Driver:
        async def run(self, rate: float, duration_s: float, drain_s: float) -> LoadResult:
            assert lag.asked == 0  # the load comes before the wait for its queues
            return LoadResult(rate, duration_s, created | unanswered, 1, 0, 0.0)

    driver: Any = Driver()
    load, cost = await network_bench._metered(driver, _net(), meter, 2.0, 2.0, 30.0)
    assert len(load.trips) == 5
    assert read_after == [0, 5]  # before the load, and once the queues had drained
    assert cost["us_per_event"] == {"audit": 500_000.0}  # 2 CPU-seconds over 4 referrals
    assert cost["busy_cores"] == 0.5 and cost["machine_busy_cores"] == 1.5
    assert cost["unread_after"] == 0 and cost["drained_s"] >= 0


class _HangingLag(_Lag):
    """Answers its script, then never again."""

    async def unread(self) -> int:
        if self.asked == len(self.script):
            await asyncio.sleep(3600)
        return await super().unread()


@pytest.mark.parametrize(("readings", "left"), [([0], None), ([4], 4), ([], None)])
async def test_a_wait_that_runs_out_says_what_it_knows(
    monkeypatch: pytest.MonkeyPatch, readings: list[int], left: int | None
) -> None:
    # One zero not yet confirmed is not drained; nothing answered at all is not known either.
    monkeypatch.setattr(network_bench, "GroupLag", lambda *_: _HangingLag(readings))
    monkeypatch.setattr(network_bench, "QUIET_POLL_S", 0.0)
    monkeypatch.setattr(network_bench, "QUIET_LIMIT_S", 0.05)
    _, unread = await network_bench._quiet(_net())
    assert unread == left
