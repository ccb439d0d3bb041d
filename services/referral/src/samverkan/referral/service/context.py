"""What every use case needs: the node (database, outbox, identity) and an injectable clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from samverkan.contracts import CloudEvent, Event
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.node import Node


def system_clock() -> datetime:
    return datetime.now(UTC)


class NotFound(LookupError):
    """No such thing for this function (also when it exists but is not addressed to it)."""


class Rejected(ValueError):
    """An incoming event that can never be applied here."""


class Later(Exception):
    """An incoming event that cannot be applied yet."""


@dataclass
class Context:
    node: Node
    clock: Callable[[], datetime] = field(default=system_clock)

    @property
    def principal(self) -> str:
        return self.node.principal

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.clock().date()

    def uow(self) -> UnitOfWork:
        return self.node.uow()

    async def publish(self, tx: UnitOfWork, data: Event, **attributes: Any) -> CloudEvent:
        event = self.node.event(data, **attributes)
        await tx.publish(event)
        return event
