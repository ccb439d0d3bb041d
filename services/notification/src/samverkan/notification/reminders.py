"""Finding referrals whose deadline passed, and announcing each once as referral.overdue."""

from __future__ import annotations

import asyncio
import logging
from uuid import uuid4

from samverkan.contracts.notification import OverdueStage, ReferralOverdue
from samverkan.contracts.parties import FunctionRef
from samverkan.notification import store
from samverkan.notification.clock import Clock
from samverkan.notification.settings import NotificationSettings
from samverkan.runtime.node import Node
from samverkan.runtime.waits import nap

log = logging.getLogger(__name__)


class Reminders:
    def __init__(self, node: Node, settings: NotificationSettings, clock: Clock) -> None:
        self._node = node
        self._settings = settings
        self._clock = clock
        self.wakeup = asyncio.Event()
        self.__name__ = "deadlines"

    async def __call__(self) -> None:
        while True:
            try:
                await self.find_overdue()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("deadline check paused: %s", type(exc).__name__)
            await nap(self.wakeup, self._settings.deadline_poll_interval_s)

    async def find_overdue(self) -> int:
        """Publish referral.overdue for each deadline passed at the clock's now; return how many.
        The event goes to the other party; this node's own consumer mails its side from it."""
        now = self._clock.now()
        async with self._node.uow() as tx:
            rows = await store.overdue(tx.conn, now)
            for row in rows:
                sender = FunctionRef(
                    principal=row["sender_principal"], function=row["sender_function"]
                )
                recipient = FunctionRef(
                    principal=row["recipient_principal"], function=row["recipient_function"]
                )
                stage = OverdueStage(row["stage"])
                other = recipient if stage is OverdueStage.NOT_RECEIVED else sender
                event = self._node.event(
                    ReferralOverdue(
                        notification_id=uuid4(),
                        referral_id=row["referral_id"],
                        stage=stage,
                        sender=sender,
                        recipient=recipient,
                        working_days=row["working_days"],
                        due_at=row["due_at"],
                        detected_at=now,
                    ),
                    recipient=other.principal,
                )
                await tx.publish(event)
                await store.mark_overdue(tx.conn, row["referral_id"], row["stage"], event.id)
                log.info("referral %s overdue: %s", row["referral_id"], stage.value)
        return len(rows)
