"""Consuming events: parse, dedupe through the inbox, apply in one transaction, then commit offset.

Policy for a record that cannot be applied:
- not a valid event of our catalogue, or refused by the handler (`Refused`): dead-letter at once;
- database or broker unreachable: rewind to the record and try again later (nothing is skipped);
- any other error: retry a bounded number of times, then dead-letter.
In every case but the second the offset is committed, so a partition never stops on one record.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from samverkan.contracts import CloudEvent, Event, InvalidEvent
from samverkan.contracts.deadletter import DeadLettered
from samverkan.runtime import telemetry
from samverkan.runtime.db import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, CloudEvent], Awaitable[None]]
# Sees every valid event with the record it came in (the audit trail keeps the exact bytes).
Tap = Callable[[UnitOfWork, CloudEvent, ConsumerRecord], Awaitable[None]]

TRANSIENT = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    KafkaConnectionError,
    KafkaTimeoutError,
    TimeoutError,
)


_applied = telemetry.meter.create_counter(
    "samverkan.consumer.applied", unit="{event}", description="Events applied (duplicates excluded)"
)
_dead_lettered = telemetry.meter.create_counter(
    "samverkan.consumer.dead_lettered", unit="{event}", description="Records sent to dead letter"
)


class Refused(Exception):
    """Raised by a handler for an event that is valid but can never be applied here."""


@dataclass(frozen=True)
class Route:
    handler: Handler
    addressed_to_me: bool


class EventConsumer:
    """The one FastStream subscriber of a service: dispatches by event class to plain handlers."""

    def __init__(
        self,
        *,
        group: str,
        principal: str,
        broker: KafkaBroker,
        uow: Callable[[], UnitOfWork],
        dead_letter: Callable[[DeadLettered], Awaitable[Any]],
        max_attempts: int,
    ) -> None:
        self.group = group
        self._principal = principal
        self._broker = broker
        self._uow = uow
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts
        self._routes: dict[str, Route] = {}
        self._tap: Tap | None = None
        self._backoff_s = 0.5
        self.applied_total = 0
        self.dead_lettered_total = 0

    def on(self, event_class: type[Event], handler: Handler, *, addressed_to_me: bool) -> None:
        self._routes[event_class.TYPE] = Route(handler, addressed_to_me)

    def tap(self, tap: Tap) -> None:
        self._tap = tap

    async def __call__(self, msg: KafkaMessage) -> None:
        record: ConsumerRecord = msg.raw_message  # type: ignore[assignment]
        try:
            event = CloudEvent.from_kafka(record.value, record.headers)
        except InvalidEvent as exc:
            await self._reject(msg, record, str(exc))
            return
        route = self._route(event, record)
        if route is None:
            await msg.ack()
            return
        with telemetry.tracer.start_as_current_span(
            f"{event.type} process",
            context=telemetry.context_of(event.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.consumer.group.name": self.group,
                "samverkan.principal": self._principal,
                "messaging.destination.name": record.topic,
                "messaging.message.id": str(event.id),
                "cloudevents.event_type": event.type,
            },
        ):
            await self._apply(msg, record, event, route)

    async def _apply(
        self, msg: KafkaMessage, record: ConsumerRecord, event: CloudEvent, route: Route
    ) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._uow() as tx:
                    if await tx.claim(self.group, event.id):
                        await route.handler(tx, event)
                        self.applied_total += 1
                        _applied.add(1, {"consumer": self.group})
                self._backoff_s = 0.5
                await msg.ack()
                return
            except Refused as exc:
                await self._reject(msg, record, f"refused: {exc}")
                return
            except TRANSIENT as exc:
                log.warning("cannot apply %s now (%s); will retry", event.type, type(exc).__name__)
                await asyncio.sleep(self._backoff_s)
                self._backoff_s = min(self._backoff_s * 2, 10.0)
                await msg.nack()  # rewinds to this record; nothing after it is committed
                return
            except Exception as exc:
                log.exception("handler failed for %s (attempt %d)", event.type, attempt)
                if attempt == self._max_attempts:
                    await self._reject(
                        msg, record, f"handler failed {attempt} times: {type(exc).__name__}"
                    )
                    return
                await asyncio.sleep(0.1 * attempt)

    def _route(self, event: CloudEvent, record: ConsumerRecord) -> Route | None:
        if self._tap is not None:
            tap = self._tap

            async def tapped(tx: UnitOfWork, event: CloudEvent) -> None:
                await tap(tx, event, record)

            return Route(tapped, addressed_to_me=False)
        route = self._routes.get(event.type)
        if route is None or (route.addressed_to_me and event.recipientprincipal != self._principal):
            return None
        return route

    async def _reject(self, msg: KafkaMessage, record: ConsumerRecord, reason: str) -> None:
        log.warning(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
        )
        letter = DeadLettered(
            consumer_group=self.group,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key_b64=base64.b64encode(record.key).decode() if record.key is not None else None,
            value_b64=base64.b64encode(record.value or b"").decode(),
            headers={k: v.decode(errors="replace") for k, v in record.headers},
            reason=reason,
            dead_lettered_at=datetime.now(UTC),
        )
        try:
            await self._dead_letter(letter)
        except TRANSIENT:
            log.warning("dead-letter topic unreachable; will retry the record")
            await asyncio.sleep(self._backoff_s)
            await msg.nack()
            return
        self.dead_lettered_total += 1
        _dead_lettered.add(1, {"consumer": self.group})
        trace.get_current_span().set_status(StatusCode.ERROR, "dead-lettered")
        await msg.ack()
