"""What the notification service reacts to."""

from __future__ import annotations

from samverkan.contracts import CloudEvent
from samverkan.contracts.referral import ReferralSent
from samverkan.notification import service
from samverkan.notification.settings import NotificationSettings
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.node import Node


def register(node: Node, settings: NotificationSettings, deliverer: service.Deliverer) -> None:
    async def referral_sent(tx: UnitOfWork, event: CloudEvent) -> None:
        await service.referral_arrived(settings, tx, event)
        tx.after_commit(deliverer.wakeup.set)

    node.on(ReferralSent, referral_sent, addressed_to_me=True)
