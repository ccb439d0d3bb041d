"""What the notification service reacts to: every event this principal may see."""

from __future__ import annotations

from collections.abc import Callable

from samverkan.contracts import CloudEvent
from samverkan.contracts.catalogue import EVENT_CLASSES
from samverkan.notification import service
from samverkan.notification.webhook_payload import TOPICS
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.node import Node


def register(node: Node, ctx: service.Context, wake: Callable[[], None]) -> None:
    async def handle(tx: UnitOfWork, event: CloudEvent) -> None:
        if await service.on_event(ctx, tx, event):
            tx.after_commit(wake)  # the delivery workers, which otherwise look once a poll interval

    # Not only events addressed here: what this principal itself sent starts deadlines, meets
    # them and goes to its integrators. `service.on_event` ignores every other principal's.
    for event_class in EVENT_CLASSES:
        if event_class.TOPIC in TOPICS:
            node.on(event_class, handle, addressed_to_me=False)
