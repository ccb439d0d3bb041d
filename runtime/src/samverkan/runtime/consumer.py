"""Consuming events: parse, dedupe through the inbox, apply in one transaction, then commit offset.

Every record leaves in exactly one of three ways, so nothing is skipped or committed unapplied:
- applied (or already applied: the inbox knows its event id) → offset committed;
- dead-lettered with the reason → offset committed; the partition keeps flowing. That happens to
  records that are not valid events of the catalogue, that a handler refuses (`Refused`), that
  stay "not yet" (`NotYet`) past the retry window, or whose handler fails `max_attempts` times;
- rewound (nack) to be read again after a backoff: infrastructure is away (database, broker) or
  the event waits for something (`NotYet`). Nothing after it is committed meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from faststream.kafka.message import KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from samverkan.contracts import CloudEvent, Event, InvalidEvent, topics
from samverkan.contracts.deadletter import DeadLettered
from samverkan.runtime import faults, telemetry
from samverkan.runtime.db import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, CloudEvent], Awaitable[None]]
# Sees every valid event with the record it came in (the audit trail keeps the exact bytes).
Tap = Callable[[UnitOfWork, CloudEvent, ConsumerRecord], Awaitable[None]]
# Decides whether the event may be believed at all (raises Refused or NotYet); runs first.
Verify = Callable[[UnitOfWork, CloudEvent, ConsumerRecord], Awaitable[None]]

NOT_YET_PAUSE_S = 0.2
NOT_YET_QUIET_S = 5.0  # a wait not hit for this long has ended

# A dead letter keeps the original value up to this size, and its size and SHA-256 always.
DEAD_LETTER_VALUE_LIMIT = 64 * 1024

# SQLSTATE classes and codes that mean "try again later", not "this event is bad":
# connection (08), transaction rollback (40), resources (53), operator intervention (57),
# read-only transaction (25006, a failover in progress) and lock not available (55P03).
_TRANSIENT_SQLSTATE_CLASSES = {"08", "40", "53", "57"}
_TRANSIENT_SQLSTATES = {"25006", "55P03"}

_applied = telemetry.meter.create_counter(
    "samverkan.consumer.applied", unit="{event}", description="Events applied (duplicates excluded)"
)
_dead_lettered = telemetry.meter.create_counter(
    "samverkan.consumer.dead_lettered", unit="{event}", description="Records sent to dead letter"
)


class Refused(Exception):
    """Raised by a handler for an event that is valid but can never be applied here."""


class NotYet(Exception):
    """Raised by a handler for an event that may apply later (e.g. a read model still catching up).

    `waits_for` names what is awaited; records waiting for the same thing share one retry
    window, so a flood of them costs one window, not one each.
    """

    def __init__(self, reason: str, *, waits_for: str | None = None) -> None:
        super().__init__(reason)
        self.waits_for = waits_for


def is_transient(exc: BaseException) -> bool:
    """True for failures of the infrastructure, which say nothing about the event itself."""
    if isinstance(
        exc,
        OSError | TimeoutError | asyncpg.InterfaceError | KafkaConnectionError | KafkaTimeoutError,
    ):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state[:2] in _TRANSIENT_SQLSTATE_CLASSES or state in _TRANSIENT_SQLSTATES
    return False


async def parse_record(record: ConsumerRecord, original: Callable[..., Awaitable[Any]]) -> Any:
    """FastStream's parser decodes every header as UTF-8 and drops the record when one is not
    (nobody acks it, and the next ack commits past it). Give it a readable copy instead, and keep
    the real record on the message so the consumer judges and dead-letters the original bytes."""
    readable = copy.copy(record)
    readable.headers = tuple(
        (key, (value or b"").decode(errors="replace").encode()) for key, value in record.headers
    )
    message = await original(readable)
    message.raw_message = record
    return message


async def raw_body(message: KafkaMessage, original: Callable[..., Awaitable[Any]]) -> bytes:
    """Keep the body as bytes: our consumer parses it, FastStream's JSON decoding must not."""
    return bytes(message.body)


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
        uow: Callable[[], UnitOfWork],
        dead_letter: Callable[[DeadLettered], Awaitable[Any]],
        max_attempts: int,
        retry_window_s: float,
        verify: Verify | None = None,
    ) -> None:
        self.group = group
        self._principal = principal
        self._uow = uow
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts
        self._retry_window_s = retry_window_s
        self._verify = verify
        self._routes: dict[str, Route] = {}
        self._tap: Tap | None = None
        self._backoff_s = 0.5
        # Per awaited thing (a record's position, or a named precondition): when this wait began
        # and when it was last hit.
        self._waiting_since: dict[object, tuple[float, float]] = {}
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
            if record.topic == topics.DEAD_LETTER:
                # Never dead-letter a dead letter: each consumer doing so would multiply it.
                log.warning("ignoring an invalid record on the dead-letter topic: %s", exc)
                await self._commit(msg)
                return
            await self._reject(msg, record, str(exc))
            return
        route = self._route(event, record)
        if route is None:
            await self._commit(msg)
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
                    # Before the inbox claim: a forgery must not use up the genuine event's id.
                    if self._verify is not None:
                        await self._verify(tx, event, record)
                    if await tx.claim(self.group, event.id):
                        await route.handler(tx, event)
                        self.applied_total += 1
                        _applied.add(1, {"consumer": self.group})
            except Refused as exc:
                await self._reject(msg, record, f"refused: {exc}")
                return
            except NotYet as exc:
                await self._not_yet(msg, record, exc)
                return
            except Exception as exc:
                if is_transient(exc):
                    log.warning(
                        "cannot apply %s now (%s); will retry", event.type, type(exc).__name__
                    )
                    await self._rewind(msg)
                    return
                log.exception("handler failed for %s (attempt %d)", event.type, attempt)
                if attempt == self._max_attempts:
                    reason = f"handler failed {attempt} times: {type(exc).__name__}"
                    await self._reject(msg, record, reason)
                    return
                await asyncio.sleep(0.1 * attempt)
                continue
            self._backoff_s = 0.5
            self._waiting_since.pop(_position(record), None)
            faults.point("consumer.before_offset_commit")
            await self._commit(msg)
            return

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

    async def _not_yet(self, msg: KafkaMessage, record: ConsumerRecord, exc: NotYet) -> None:
        scope, now = exc.waits_for or _position(record), time.monotonic()
        since, last = self._waiting_since.get(scope, (now, now))
        if now - last > NOT_YET_QUIET_S:
            since = now  # that earlier wait ended; this is a new one
        self._waiting_since[scope] = (since, now)
        if now - since < self._retry_window_s:
            log.info(
                "%s[%d]@%d not applicable yet: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            # What it waits for usually arrives on another partition of this same consumer: set
            # this partition aside for a moment and let the consumer serve the others meanwhile.
            await msg.nack()
            _pause_briefly(msg, record)
            return
        await self._reject(
            msg, record, f"still not applicable after {self._retry_window_s:.0f}s: {exc}"
        )

    async def _reject(self, msg: KafkaMessage, record: ConsumerRecord, reason: str) -> None:
        log.warning(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
        )
        value = record.value or b""
        letter = DeadLettered(
            consumer_group=self.group,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key_b64=base64.b64encode(record.key).decode() if record.key is not None else None,
            value_b64=base64.b64encode(value[:DEAD_LETTER_VALUE_LIMIT]).decode(),
            value_size=len(value),
            value_sha256=hashlib.sha256(value).hexdigest(),
            headers={k: (v or b"").decode(errors="replace") for k, v in record.headers},
            reason=reason,
            dead_lettered_at=datetime.now(UTC),
        )
        try:
            await self._dead_letter(letter)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("dead-letter topic unreachable (%s); will retry the record", exc)
            await self._rewind(msg)
            return
        self.dead_lettered_total += 1
        _dead_lettered.add(1, {"consumer": self.group})
        trace.get_current_span().set_status(StatusCode.ERROR, "dead-lettered")
        await self._commit(msg)

    async def _rewind(self, msg: KafkaMessage) -> None:
        await asyncio.sleep(self._backoff_s)
        self._backoff_s = min(self._backoff_s * 2, 10.0)
        await msg.nack()  # seek back to this record; nothing after it is committed

    async def _commit(self, msg: KafkaMessage) -> None:
        try:
            await msg.ack()
        except KafkaError as exc:
            # A rebalance took the partition away; whoever gets it re-reads from the last commit
            # and the inbox makes the redelivery harmless.
            log.warning("offset commit failed (%s); the record will be redelivered", exc)


def _pause_briefly(msg: KafkaMessage, record: ConsumerRecord) -> None:
    consumer = getattr(msg, "consumer", None)
    if not isinstance(consumer, AIOKafkaConsumer):
        return
    partition = TopicPartition(record.topic, record.partition)
    consumer.pause(partition)

    def resume() -> None:
        # After a rebalance the partition may be someone else's; nothing to resume then.
        if partition in consumer.assignment():
            consumer.resume(partition)

    asyncio.get_running_loop().call_later(NOT_YET_PAUSE_S, resume)


def _position(record: ConsumerRecord) -> tuple[str, int, int]:
    return (record.topic, record.partition, record.offset)
