"""A service's idle loops nap between looks; cancelling one must end it even when the wake-up
comes at the same moment, or the service's shutdown waits on it for ever."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import pytest

from samverkan.runtime.waits import nap

pytestmark = pytest.mark.unit


async def _cancellation_kept(napping: Callable[[asyncio.Event], Awaitable[None]]) -> bool:
    """Whether every cancellation a napping task accepts ends it cancelled: cancelled as its
    event is set, and a step or two of the loop later, before it has resumed."""
    checked = 0
    for steps in range(3):
        wakeup = asyncio.Event()
        task = asyncio.create_task(napping(wakeup))
        await asyncio.sleep(0)  # it waits for the event
        wakeup.set()
        for _ in range(steps):
            await asyncio.sleep(0)
        accepted = task.cancel()  # False once the task has finished
        checked += accepted
        try:
            await task
        except asyncio.CancelledError:
            continue
        if accepted:
            return False
    assert checked, "no cancellation reached a napping task: nothing was checked"
    return True


async def test_a_nap_cancelled_as_it_is_woken_ends_cancelled() -> None:
    assert await _cancellation_kept(lambda wakeup: nap(wakeup, 60))


async def test_the_flaw_it_avoids_is_there_to_avoid() -> None:
    """asyncio.wait_for loses that cancellation on Python 3.11, the version the project supports
    from (3.12 mended it): the test says which, so that the helper is known to be needed."""

    async def wait_for_nap(wakeup: asyncio.Event) -> None:
        await asyncio.wait_for(wakeup.wait(), 60)

    kept = await _cancellation_kept(wait_for_nap)
    assert kept is (sys.version_info >= (3, 12))


async def test_a_nap_ends_when_woken_or_after_its_time_and_clears_the_wakeup() -> None:
    wakeup = asyncio.Event()
    wakeup.set()
    await asyncio.wait_for(
        nap(wakeup, 60), 5
    )  # woken at once (the bound only turns a hang into a failure)
    assert not wakeup.is_set()
    await nap(wakeup, 0.01)  # nobody wakes it: its time passes
    assert not wakeup.is_set()
