"""The step-up search narrows the gap between the highest sustained rate and the first that ran
away, halving it a set number of times."""

from __future__ import annotations

from typing import Any

import pytest

from bench import network_bench

pytestmark = pytest.mark.unit


def _step(rate: float, sustained: bool) -> dict[str, Any]:
    return {"rate": rate, "sustained": sustained}


def _system_sustaining(ceiling: float) -> tuple[list[float], Any]:
    tried: list[float] = []

    async def step(rate: float) -> dict[str, Any]:
        tried.append(rate)
        return _step(rate, rate <= ceiling)

    return tried, step


async def test_each_step_halves_the_gap_towards_the_ceiling() -> None:
    tried, step = _system_sustaining(33)
    steps = [_step(10, True), _step(20, True), _step(40, False)]
    narrowed = await network_bench._narrow(steps, step, 2)
    assert tried == [30, 35]
    assert [s["sustained"] for s in narrowed] == [True, False]


async def test_a_step_that_runs_away_narrows_from_above() -> None:
    tried, step = _system_sustaining(22)
    narrowed = await network_bench._narrow([_step(20, True), _step(40, False)], step, 3)
    assert tried == [30, 25, 22]  # whole referrals per second, rounded down
    assert [s["sustained"] for s in narrowed] == [False, False, True]


@pytest.mark.parametrize(
    "steps",
    [
        [_step(5, True), _step(10, True)],  # nothing ran away: no ceiling to narrow towards
        [_step(5, False)],  # the first step ran away: no sustained rate below it
        [],
    ],
)
async def test_nothing_to_narrow(steps: list[dict[str, Any]]) -> None:
    tried, step = _system_sustaining(100)
    assert await network_bench._narrow(steps, step, 2) == []
    assert tried == []


async def test_stops_when_no_whole_rate_is_left_between() -> None:
    tried, step = _system_sustaining(20)
    await network_bench._narrow([_step(20, True), _step(21, False)], step, 2)
    assert tried == []
