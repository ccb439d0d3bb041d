"""Sending what was recorded, at most once: a delivery is marked `sending` and committed before
the mail relay or webhook receiver is called, and marked `sent` after. A delivery found still
`sending` later (the process died in between) may or may not have arrived: it becomes
`uncertain`, is reported with notification.failed and never repeated; so does a mail whose SMTP
session broke once its content was on its way. A refusal, or a relay that cannot be reached, is
retried. A redelivered event finds its deliveries already recorded (unique per event and mailbox
or subscription) and adds none."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from samverkan.contracts.events import Event
from samverkan.notification.clock import Clock
from samverkan.notification.settings import NotificationSettings
from samverkan.runtime import telemetry
from samverkan.runtime.node import Node
from samverkan.runtime.waits import nap

log = logging.getLogger(__name__)

UNCERTAIN = "outcome unknown: the service stopped while handing it over; not repeated"

_failures = telemetry.meter.create_counter(
    "samverkan.notification.delivery_failures",
    unit="{attempt}",
    description="Failed attempts at a mail or webhook call, by what became of the delivery",
)


class DeliveryError(Exception):
    """A failed attempt; `reason` is safe to log and publish (no personal data)."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        uncertain: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason[:200]
        self.retryable = retryable and not uncertain
        self.status_code = status_code
        self.uncertain = uncertain  # it may have arrived: never repeated


class Channel(Protocol):
    name: str
    table: str
    max_attempts: int

    async def send(self, row: Any) -> None:
        """Deliver one row; raise DeliveryError when it did not arrive."""

    def sent(self, row: Any, at: datetime) -> Event: ...

    def failed(self, row: Any, at: datetime, reason: str, attempt: int) -> Event: ...

    def recipient(self, row: Any) -> str:
        """Who the delivery is for, for logs: ids only."""

    async def close(self) -> None:
        """Let go of kept connections (the worker is stopping)."""


def backoff(
    attempt: int, base_s: float, max_s: float, rand: Callable[[], float] = random.random
) -> timedelta:
    """Exponential backoff with equal jitter: between half and all of base·2^(attempt-1)."""
    delay = min(max_s, base_s * 2 ** (attempt - 1))
    return timedelta(seconds=delay / 2 + rand() * delay / 2)


class Worker:
    """Delivers the due rows of one channel's table; several replicas may run it side by side."""

    def __init__(
        self, node: Node, settings: NotificationSettings, clock: Clock, channel: Channel
    ) -> None:
        self._node = node
        self._settings = settings
        self._clock = clock
        self.channel = channel
        self.wakeup = asyncio.Event()
        self.__name__ = f"{channel.name}-delivery"  # names the background task

    async def __call__(self) -> None:
        recovered_at = -math.inf
        try:
            while True:
                try:
                    # Every batch the consumer applies wakes the worker, and a row becomes
                    # uncertain only after minutes: once a poll interval is often enough to look,
                    # where each wake-up would cost a transaction.
                    if time.monotonic() - recovered_at >= self._settings.delivery_poll_interval_s:
                        await self.recover()
                        recovered_at = time.monotonic()
                    while await self.deliver_one():
                        pass
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("%s delivery paused: %s", self.channel.name, type(exc).__name__)
                await nap(self.wakeup, self._settings.delivery_poll_interval_s)
        finally:
            await self.channel.close()

    async def deliver_one(self) -> bool:
        """Deliver the next due row, if any; True when there was one."""
        table = self.channel.table
        # One statement, committed on its own: a transaction around it would add two round trips.
        row = await self._node.pool.fetchrow(
            f"""UPDATE {table} SET status = 'sending', sending_at = $1, attempts = attempts + 1
                WHERE id = (SELECT id FROM {table}
                            WHERE status = 'pending' AND next_attempt_at <= $1
                            ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING *""",
            self._clock.now(),
        )
        if row is None:
            return False
        try:
            await self.channel.send(row)
        except DeliveryError as exc:
            await self._failed(row, exc)
        except Exception as exc:  # a row that fails for any other reason must not block others
            await self._failed(row, DeliveryError(type(exc).__name__, retryable=False))
        else:
            await self._sent(row)
        return True

    async def _sent(self, row: Any) -> None:
        now = self._clock.now()
        async with self._node.uow() as tx:
            await tx.conn.execute(
                f"UPDATE {self.channel.table} SET status = 'sent', sent_at = $2,"
                " last_error = NULL WHERE id = $1",
                row["id"],
                now,
            )
            await tx.publish(self._node.event(self.channel.sent(row, now)))
        log.info("%s delivered to %s", self.channel.name, self.channel.recipient(row))

    async def _failed(self, row: Any, exc: DeliveryError) -> None:
        now, attempt = self._clock.now(), row["attempts"]
        final = not exc.retryable or attempt >= self.channel.max_attempts
        s = self._settings
        retry_at = now + backoff(attempt, s.delivery_backoff_s, s.delivery_backoff_max_s)
        log.warning(
            "%s to %s failed (%s), attempt %d%s",
            self.channel.name,
            self.channel.recipient(row),
            exc.reason,
            attempt,
            "; giving up" if final else "",
        )
        status = "uncertain" if exc.uncertain else "failed" if final else "pending"
        async with self._node.uow() as tx:
            await tx.conn.execute(
                f"""UPDATE {self.channel.table} SET status = $2, last_error = $3,
                    next_attempt_at = $4 {", last_status_code = $5" if self._has_status else ""}
                    WHERE id = $1""",
                row["id"],
                status,
                exc.reason,
                retry_at,
                *([exc.status_code] if self._has_status else []),
            )
            if final:
                event = self.channel.failed(row, now, exc.reason, attempt)
                await tx.publish(self._node.event(event))
            outcome = {
                "channel": self.channel.name,
                "outcome": "retrying" if status == "pending" else status,
            }
            tx.after_commit(lambda: _failures.add(1, outcome))

    @property
    def _has_status(self) -> bool:
        return self.channel.table == "webhook_deliveries"

    async def recover(self) -> int:
        """Mark deliveries interrupted mid-send as uncertain, and report each once."""
        cutoff = self._clock.now() - timedelta(seconds=self._settings.delivery_uncertain_after_s)
        async with self._node.uow() as tx:
            rows = await tx.conn.fetch(
                f"""UPDATE {self.channel.table} SET status = 'uncertain', last_error = $2
                    WHERE status = 'sending' AND sending_at < $1 RETURNING *""",
                cutoff,
                UNCERTAIN,
            )
            for row in rows:
                event = self.channel.failed(row, self._clock.now(), UNCERTAIN, row["attempts"])
                await tx.publish(self._node.event(event))
            if rows:
                outcome = {"channel": self.channel.name, "outcome": "uncertain"}
                tx.after_commit(lambda: _failures.add(len(rows), outcome))
        for row in rows:
            log.warning("%s to %s is uncertain", self.channel.name, self.channel.recipient(row))
        return len(rows)
