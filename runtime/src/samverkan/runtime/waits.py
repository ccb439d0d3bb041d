"""Bounded waits that a cancellation always ends.

Not `asyncio.wait_for`: on Python 3.11, when a task is cancelled just as what it waits for
finishes, `wait_for` returns the result and the cancellation is lost. A loop that waits so would
never stop, and a service's shutdown would hang on it (3.12 mends `wait_for`; `asyncio.timeout`
has never had the flaw).
"""

from __future__ import annotations

import asyncio
import contextlib


async def nap(wakeup: asyncio.Event, seconds: float) -> None:
    """Wait until `wakeup` is set or `seconds` pass, then clear it for the next nap."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wakeup.wait()
    wakeup.clear()
