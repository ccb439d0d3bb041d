"""Consuming events: parse, dedupe through the inbox, apply in one transaction, then commit offsets.

Records come in batches (one `getmany`). Every record leaves in exactly one of three ways, so
nothing is skipped or committed unapplied:
- applied (or already applied: the inbox knows its event id) → its offset is committed;
- dead-lettered with the reason → its offset is committed; the partition keeps flowing. That
  happens to records that are not valid events of the catalogue, that a handler refuses
  (`Refused`), that stay "not yet" (`NotYet`) past the retry window, or whose handler fails
  `max_attempts` times;
- rewound, to be read again: infrastructure is away (database, broker: after a backoff, with
  everything after it) or the event waits for something (`NotYet`: its partition pauses briefly).
  Nothing after it in its partition is committed meanwhile.

A batch is first applied in one transaction, which is what makes catching up on a backlog fast.
When any of its events is anything but plainly applicable, that transaction rolls back and the
batch is applied in halves instead, each in one transaction, and each half that fails in halves
again, down to the events whose outcome above must be decided alone, in the batch's order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import enum
import gc
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from faststream.kafka.message import KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from samverkan.contracts import CloudEvent, Event, InvalidEvent, topics
from samverkan.contracts.deadletter import DeadLettered
from samverkan.runtime import faults, telemetry
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.waits import nap

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, CloudEvent], Awaitable[None]]
# Sees every valid event with the record it came in (the audit trail keeps the exact bytes).
Tap = Callable[[UnitOfWork, CloudEvent, ConsumerRecord], Awaitable[None]]
# Decides whether events may be believed at all: raises Refused or NotYet at once when one of them
# may not, for what it can tell without checking signatures (keys), and returns the signatures'
# verdict, already under way (a task), which raises Refused for a bad one. No event is committed
# before it is awaited.
Verify = Callable[
    [UnitOfWork, Sequence[tuple[CloudEvent, ConsumerRecord]]], Awaitable["asyncio.Future[None]"]
]

NOT_YET_PAUSE_S = 0.2
# Applying a batch in parts commits its progress this often, and stops after this long (the rest
# is read again), well inside the broker's max poll interval.
ONE_BY_ONE_COMMIT_S = 5.0
ONE_BY_ONE_LIMIT_S = 60.0
COLLECTOR_PAUSE_LIMIT_S = 5.0  # see collector_paused; a batch applied together takes ~0.1 s
NOT_YET_QUIET_S = 5.0  # a wait not hit for this long has ended
# aiokafka retries a commit for as long as the group coordinator cannot be found or answers with
# a retriable error: without a bound, one such commit would stall every partition of the consumer
# (a stop cuts it off after the broker's graceful timeout). Past the bound the offsets stay
# uncommitted and the next batch commits further; a redelivery meanwhile is the inbox's to absorb.
COMMIT_TIMEOUT_S = 30.0
STOP_COMMIT_WAIT_S = 5.0  # see EventConsumer.finish_commits
REVOKE_COMMIT_WAIT_S = 5.0  # see EventConsumer.partitions_revoked

# A dead letter keeps the original value up to this size, and its size and SHA-256 always; the
# key, each header and the reason are cut too, so that any record's dead letter fits the broker.
DEAD_LETTER_VALUE_LIMIT = 64 * 1024
DEAD_LETTER_FIELD_LIMIT = 1024
DEAD_LETTER_HEADERS_LIMIT = 64

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
_stage_duration = telemetry.meter.create_histogram(
    "samverkan.consumer.stage_duration",
    unit="s",
    description="Time a batch of records spent in each stage of being consumed",
    explicit_bucket_boundaries_advisory=(
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
    ),  # the default buckets (0 to 10,000) are made for milliseconds
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


async def parse_batch(
    records: tuple[ConsumerRecord, ...], original: Callable[..., Awaitable[Any]]
) -> Any:
    """FastStream's parser decodes every header of every record as UTF-8, and fails the whole
    batch when one is not, yet keeps of a batch only its first record's headers and its ends'
    positions. Give it readable copies of the two ends alone, and keep the real records on the
    message: the consumer judges and dead-letters the original bytes. (So `body` and
    `batch_headers` hold the two ends only: a FastStream middleware that reads them, such as its
    telemetry, would see two records.)"""
    ends = (records[0], records[-1]) if len(records) > 1 else records
    message = await original(tuple(_readable(record) for record in ends))
    message.raw_message = records
    return message


def _readable(record: ConsumerRecord) -> ConsumerRecord:
    copied = copy.copy(record)
    copied.headers = tuple(
        (key, (value or b"").decode(errors="replace").encode()) for key, value in record.headers
    )
    return copied


@dataclass(frozen=True, slots=True, eq=False)
class Batch:
    """What the subscriber is handed: a batch's records and the consumer that read them."""

    records: tuple[ConsumerRecord, ...]
    consumer: AIOKafkaConsumer


async def raw_batch(message: KafkaMessage, original: Callable[..., Awaitable[Any]]) -> Batch:
    """Decode nothing: our consumer parses the records itself, FastStream's JSON decoding must
    not. FastStream keeps what this returns on the message, so it must not hold the message: the
    cycle would keep the whole batch alive until the collector runs, not until it is applied."""
    return Batch(message.raw_message, message.consumer)  # type: ignore[arg-type, attr-defined]


@dataclass(frozen=True)
class Route:
    apply: Tap  # the handler, or the tap, called with the event's record
    addressed_to_me: bool


class Outcome(enum.Enum):
    DONE = "done"  # applied, already applied, not for us, or dead-lettered: commit past it
    WAIT = "wait"  # not yet: read it again after its partition has paused briefly
    RETRY = "retry"  # the infrastructure is away: read it and all after it again after a backoff


@dataclass
class Item:
    """One record of a batch: its event (or why it is none) and where it goes."""

    record: ConsumerRecord
    event: CloudEvent | None = None
    invalid: str | None = None
    route: Route | None = None

    @property
    def partition(self) -> TopicPartition:
        return TopicPartition(self.record.topic, self.record.partition)


@dataclass
class Progress:
    """How far each partition of a batch got: commit up to `done`, read again from `rewind`."""

    done: dict[TopicPartition, int] = field(default_factory=dict)
    rewind: dict[TopicPartition, int] = field(default_factory=dict)
    waiting: set[TopicPartition] = field(default_factory=set)
    revocations: int = 0  # how many rebalances had taken partitions away when the batch was read

    def forget(self, partitions: set[TopicPartition]) -> None:
        """Leave `partitions` to whoever reads them now: their offsets are no longer ours."""
        for partition in partitions:
            self.done.pop(partition, None)
            self.rewind.pop(partition, None)
            self.waiting.discard(partition)

    def stopped(self, item: Item) -> bool:
        return item.partition in self.rewind

    def rewind_unsettled(self, items: list[Item]) -> None:
        """Read every record not yet settled again (from the first of each partition)."""
        for item in items:
            if not self.stopped(item) and item.record.offset >= self.done.get(item.partition, -1):
                self.rewind[item.partition] = item.record.offset

    def settle(self, item: Item, outcome: Outcome) -> None:
        if outcome is Outcome.DONE:
            self.done[item.partition] = item.record.offset + 1
        else:
            self.rewind[item.partition] = item.record.offset
            if outcome is Outcome.WAIT:
                self.waiting.add(item.partition)


PARTS_BUDGET = 4  # failed parts a batch may cost, times its size's bit length (one bad event's)


def _split(part: list[Item], outcome: Outcome | None) -> list[list[Item]]:
    """What to try next of a part that failed together (the next is the last): its halves; or,
    had it failed as when the database or broker is away, its first event alone first, which
    tells an outage (it fails too, and the batch is read again) from a part merely too large
    or contended, then the halves of the rest."""
    if outcome is Outcome.RETRY:
        rest = part[1:]
        half = len(rest) // 2
        return [p for p in (rest[half:], rest[:half], part[:1]) if p]
    half = len(part) // 2
    return [part[half:], part[:half]]


STAGES = ("parse", "verify", "apply", "commit", "one_by_one", "offsets")  # in a batch's order


class Stopwatch:
    """Where a batch's time goes: each `lap` adds the time since the last one to a stage, and
    `record` reports them to the stage histogram. The stages, in order: `parse` (records to
    events), `verify` (keys), `apply` (inbox claim and handlers), `commit` (the writes left for
    the end, waiting for the signatures' verdict, and the commit), all for a batch applied
    together; `one_by_one` for one that was not (its failed attempt together, past the last
    stage it finished, and its parts, each together or alone); `offsets` (rewinds, the backoff
    after a failure, handing the done offsets to the committer, which is waited for only once
    stopping)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.spent: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.spent[stage] = self.spent.get(stage, 0.0) + now - self._last
        self._last = now

    def record(self, group: str) -> None:
        for stage, seconds in self.spent.items():
            _stage_duration.record(seconds, {"consumer": group, "stage": stage})


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
        commit_interval_s: float,
        verify: Verify | None = None,
    ) -> None:
        self.group = group
        self._principal = principal
        self._uow = uow
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts
        self._retry_window_s = retry_window_s
        self._verify = verify
        # Offsets done but not yet committed, and the task committing them (see _commit_soon).
        self._to_commit: dict[TopicPartition, int] = {}
        self._committing: dict[TopicPartition, int] = {}  # what the commit under way sends
        self._committer: asyncio.Task[None] | None = None
        self._commit_interval_s = commit_interval_s
        self._commit_now = asyncio.Event()  # wakes the committer from its interval
        self._stopping = False
        self._revoking = False  # while a rebalance waits for the commit under way
        # Rebalances so far that took partitions away, and the last one that took each.
        self._revocations = 0
        self._revoked_in: dict[TopicPartition, int] = {}
        self.listener: ConsumerRebalanceListener = _Revocations(self)
        self._routes: dict[str, Route] = {}
        self._tap: Route | None = None
        self._backoff_s = 0.5
        # Per awaited thing (a record's position, or a named precondition): when this wait began
        # and when it was last hit.
        self._waiting_since: dict[object, tuple[float, float]] = {}
        self.applied_total = 0
        self.dead_lettered_total = 0

    def on(self, event_class: type[Event], handler: Handler, *, addressed_to_me: bool) -> None:
        self._routes[event_class.TYPE] = Route(
            lambda tx, event, record: handler(tx, event), addressed_to_me
        )

    def tap(self, tap: Tap) -> None:
        self._tap = Route(tap, addressed_to_me=False)

    @property
    def revocations(self) -> int:
        """How many rebalances have taken partitions away so far."""
        return self._revocations

    async def __call__(self, batch: Batch, *, revocations: int) -> None:
        """Apply a batch; `revocations`: `self.revocations` when it was read."""
        records, consumer = batch.records, batch.consumer
        watch = Stopwatch()
        progress = Progress(revocations=revocations)
        items: list[Item] = []
        try:
            with collector_paused():
                items = [self._item(record) for record in records]
                watch.lap("parse")
                outcome = await self._apply_together(items, progress, watch)
                if outcome is Outcome.DONE:
                    items = []  # the batch's events go before the collector runs again
            if outcome is not Outcome.DONE:
                await self._apply_in_parts(consumer, items, progress, outcome)
                watch.lap("one_by_one")
        except Exception:
            # Nothing may escape: FastStream would swallow it and the next commit would pass
            # over this batch's unsettled records.
            log.exception("batch interrupted; its unsettled records will be read again")
            progress.rewind_unsettled(items)
        await self._settle(consumer, progress)
        watch.lap("offsets")
        watch.record(self.group)

    async def _apply_in_parts(
        self,
        consumer: AIOKafkaConsumer,
        items: list[Item],
        progress: Progress,
        outcome: Outcome | None,
    ) -> None:
        """A batch that could not be applied together (`outcome`, see `_apply_together`): each
        half of it together, and each half of a half that could not, down to the events that
        must be decided alone, in the batch's order. So one event that is anything but plainly
        applicable costs a few transactions that roll back, not one for every event of the
        batch. Past a few times as many failed parts as one such event costs (many of them: a
        flood of forgeries, say), the rest goes one event at a time, as it all did before."""
        started = last_commit = time.monotonic()
        failures_left = PARTS_BUDGET * len(items).bit_length()
        parts = _split(items, outcome)  # the next part to apply is the last
        while parts:
            if time.monotonic() - started > ONE_BY_ONE_LIMIT_S:
                # This batch has taken long enough (the consumer must poll again before the
                # group thinks it dead): the rest is read again later.
                progress.rewind_unsettled(items)
                return
            part = [item for item in parts.pop() if not progress.stopped(item)]
            if not part:
                continue  # its partitions are read again from an earlier record
            invalid = next((i for i, item in enumerate(part) if item.invalid is not None), None)
            if len(part) > 1 and invalid is not None:
                # No transaction tells of it: what comes before it together, it alone, the rest.
                parts += [p for p in (part[invalid + 1 :], [part[invalid]], part[:invalid]) if p]
                continue
            if len(part) > 1 and failures_left > 0:
                outcome = await self._apply_together(part, progress)
                if outcome is not Outcome.DONE:
                    failures_left -= 1
                    parts += _split(part, outcome)
                    continue
            elif len(part) > 1:
                parts += [[item] for item in reversed(part)]
                continue
            else:
                outcome = await self._apply_alone(part[0])
                progress.settle(part[0], outcome)
                if outcome is Outcome.RETRY:
                    progress.rewind_unsettled(items)  # the database or broker is away
                    return
            now = time.monotonic()
            if now - last_commit > ONE_BY_ONE_COMMIT_S:
                revoked = self._revoked_since(progress)
                ours = {p: offset for p, offset in progress.done.items() if p not in revoked}
                self._commit_soon(consumer, ours)
                last_commit = now

    def _item(self, record: ConsumerRecord) -> Item:
        try:
            event = CloudEvent.from_kafka(record.value, record.headers)
        except InvalidEvent as exc:
            return Item(record, invalid=str(exc))
        except Exception as exc:  # whatever else the bytes provoke, they are not an event
            return Item(record, invalid=f"unreadable: {type(exc).__name__}")
        return Item(record, event=event, route=self._route(event))

    async def _apply_together(
        self, items: list[Item], progress: Progress, watch: Stopwatch | None = None
    ) -> Outcome | None:
        """Apply every event of `items` in one transaction: DONE, and each settled so; RETRY,
        with nothing applied, when it failed as the database or broker does when away (or only
        busy: a lock or a statement timeout); None, with nothing applied, when one of them needs
        to be decided apart (invalid, refused, not yet, failing)."""
        if any(item.invalid is not None for item in items):
            return None
        routed = [item for item in items if item.route is not None]
        applied = 0
        if routed:
            try:
                async with self._uow() as tx:
                    tx.applies_together = True
                    applied = await self._apply_in(tx, routed, traced=True, watch=watch)
                if watch is not None:
                    watch.lap("commit")
            except Exception as exc:
                log.debug("%d events could not be applied together: %r", len(items), exc)
                return Outcome.RETRY if is_transient(exc) else None
        self._count_applied(applied)
        for item in items:
            progress.settle(item, Outcome.DONE)
        return Outcome.DONE

    async def _apply_in(
        self, tx: UnitOfWork, items: list[Item], *, traced: bool, watch: Stopwatch | None = None
    ) -> int:
        """Verify, claim in the inbox and hand over `items`; return how many were new here.
        `traced`: each handler runs in its event's span (alone, the caller's span covers all)."""
        events = [(item.event, item.record) for item in items if item.event is not None]
        verdict = None if self._verify is None else await self._verify(tx, events)
        if verdict is not None and tx.applies_together:
            tx.verified = verdict  # for the handlers with an effect beyond the transaction
        elif verdict is not None:
            # Before the inbox claim: a forgery must not use up the genuine event's id.
            await verdict
        if watch is not None:
            watch.lap("verify")
        new = await tx.claim(self.group, [event.id for event, _ in events])
        applied = 0
        for item in items:
            assert item.event is not None and item.route is not None
            if item.event.id in new:
                new.discard(item.event.id)  # a second copy in the same batch is a duplicate
                with self._span(item) if traced else contextlib.nullcontext():
                    await item.route.apply(tx, item.event, item.record)
                applied += 1
        if verdict is not None and tx.applies_together:
            # The signatures are checked (a large batch's in worker processes) meanwhile, and the
            # transaction awaits their verdict after the handlers' writes and before its own
            # rows left for the end and its commit: until then nothing is committed, so a forgery
            # rolls back the batch, which is then applied in parts, down to the forgery alone,
            # verified before its claim. Checking them so, while the batch's writes are under
            # way, keeps the database's work and the checks side by side on the cores.
            tx.before_commit(lambda: verdict)
        if watch is not None:
            watch.lap("apply")
        return applied

    async def _apply_alone(self, item: Item) -> Outcome:
        if item.invalid is not None:
            if item.record.topic == topics.DEAD_LETTER:
                # Never dead-letter a dead letter: each consumer doing so would multiply it.
                log.warning("ignoring an invalid record on the dead-letter topic: %s", item.invalid)
                return Outcome.DONE
            return await self._reject(item.record, item.invalid)
        if item.route is None:
            return Outcome.DONE
        with self._span(item):
            return await self._apply_with_attempts(item)

    async def _apply_with_attempts(self, item: Item) -> Outcome:
        record, event = item.record, item.event
        assert event is not None
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._uow() as tx:
                    applied = await self._apply_in(tx, [item], traced=False)
            except Refused as exc:
                return await self._reject(record, f"refused: {exc}")
            except NotYet as exc:
                return await self._not_yet(record, exc)
            except Exception as exc:
                if is_transient(exc):
                    log.warning(
                        "cannot apply %s now (%s); will retry", event.type, type(exc).__name__
                    )
                    return Outcome.RETRY
                log.exception("handler failed for %s (attempt %d)", event.type, attempt)
                if attempt == self._max_attempts:
                    reason = f"handler failed {attempt} times: {type(exc).__name__}"
                    return await self._reject(record, reason)
                await asyncio.sleep(0.1 * attempt)
                continue
            self._count_applied(applied)
            self._waiting_since.pop(_position(record), None)
            return Outcome.DONE
        raise AssertionError("unreachable: the last attempt returns")

    def _count_applied(self, applied: int) -> None:
        if applied:
            self.applied_total += applied
            _applied.add(applied, {"consumer": self.group})

    def _span(self, item: Item) -> contextlib.AbstractContextManager[object]:
        event, record = item.event, item.record
        assert event is not None
        return telemetry.handling(
            f"{event.type} process",
            event.traceparent,
            lambda: {
                "messaging.system": "kafka",
                "messaging.consumer.group.name": self.group,
                "samverkan.principal": self._principal,
                "messaging.destination.name": record.topic,
                "messaging.message.id": str(event.id),
                "cloudevents.event_type": event.type,
            },
        )

    def _route(self, event: CloudEvent) -> Route | None:
        if self._tap is not None:
            return self._tap
        route = self._routes.get(event.type)
        if route is None or (route.addressed_to_me and event.recipientprincipal != self._principal):
            return None
        return route

    async def _not_yet(self, record: ConsumerRecord, exc: NotYet) -> Outcome:
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
            return Outcome.WAIT
        return await self._reject(
            record, f"still not applicable after {self._retry_window_s:.0f}s: {exc}"
        )

    async def _reject(self, record: ConsumerRecord, reason: str) -> Outcome:
        log.warning(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
        )
        value = record.value or b""
        letter = DeadLettered(
            consumer_group=self.group,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key_b64=None
            if record.key is None
            else base64.b64encode(record.key[:DEAD_LETTER_FIELD_LIMIT]).decode(),
            value_b64=base64.b64encode(value[:DEAD_LETTER_VALUE_LIMIT]).decode(),
            value_size=len(value),
            value_sha256=hashlib.sha256(value).hexdigest(),
            headers={
                _cut(k): _cut((v or b"").decode(errors="replace"))
                for k, v in record.headers[:DEAD_LETTER_HEADERS_LIMIT]
            },
            reason=_cut(reason),
            dead_lettered_at=datetime.now(UTC),
        )
        try:
            await self._dead_letter(letter)
        except Exception as exc:
            log.warning("dead-letter topic unreachable (%r); will retry the record", exc)
            return Outcome.RETRY
        self.dead_lettered_total += 1
        _dead_lettered.add(1, {"consumer": self.group})
        trace.get_current_span().set_status(StatusCode.ERROR, "dead-lettered")
        return Outcome.DONE

    async def _settle(self, consumer: AIOKafkaConsumer, progress: Progress) -> None:
        """Rewind what is to be read again, then have what is done committed (see
        `_commit_soon`; not waited for, but once stopping). Partitions a rebalance took away
        since the batch was read (up to the end of the backoff) are left alone."""
        if progress.rewind.keys() - progress.waiting:
            await asyncio.sleep(self._backoff_s)
            self._backoff_s = min(self._backoff_s * 2, 10.0)
        elif progress.done:
            self._backoff_s = 0.5
        progress.forget(self._revoked_since(progress))  # nothing awaited from here to the commit
        for partition, offset in progress.rewind.items():
            with contextlib.suppress(KafkaError):  # no longer ours after a rebalance
                consumer.seek(partition, offset)
        for partition in progress.waiting:
            # What it waits for usually arrives on another partition of this same consumer: set
            # this partition aside for a moment and let the consumer serve the others meanwhile.
            _pause_briefly(consumer, partition)
        if progress.done:
            faults.point("consumer.before_offset_commit")
            committing = self._commit_soon(consumer, progress.done)
            if self._stopping:
                await committing

    def _revoked_since(self, progress: Progress) -> set[TopicPartition]:
        """The partitions a rebalance took away after the batch of `progress` was read."""
        return {p for p, n in self._revoked_in.items() if n > progress.revocations}

    def _commit_soon(
        self, consumer: AIOKafkaConsumer, done: dict[TopicPartition, int]
    ) -> asyncio.Task[None]:
        """Commit `done` after whatever is being committed now, with anything else asked for
        meanwhile (a partition's later offset replaces its earlier one); return the task that
        does. One commit at a time, in order, so an earlier offset never lands after a later
        one, each after a commit interval that gathers what else is done meanwhile: live
        traffic, one event a batch, would otherwise send one commit an event (at 10
        referrals/s ~10 % of a network's CPU, the broker's included). Should the process stop
        first, the records past the last commit are read again, and the inbox knows them."""
        self._to_commit.update(done)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_pending(consumer))
        return self._committer

    async def finish_commits(self) -> None:
        """Before the broker's consumer stops: from now on every batch waits for its commit,
        and a commit under way is waited for (a short while: the stop must not hang on a
        coordinator that is away; what is not committed is read again after a restart, and
        the inbox knows it)."""
        self._stopping = True
        self._commit_now.set()
        if self._committer is not None:
            await asyncio.wait({self._committer}, timeout=STOP_COMMIT_WAIT_S)

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Before a rebalance hands `revoked` to another member: what is done of them goes out
        while they are still ours (a short while), then is forgotten, with what a batch still
        under way does with them. Otherwise an offset done under this assignment could be
        committed after the partition comes back, behind the other member's later commit."""
        if not revoked:  # the first join, or a member that had nothing
            return
        self._revocations += 1
        for partition in revoked:
            self._revoked_in[partition] = self._revocations
        if self._committer is not None and not self._committer.done():
            self._revoking = True
            self._commit_now.set()
            try:
                await asyncio.wait({self._committer}, timeout=REVOKE_COMMIT_WAIT_S)
            finally:
                self._revoking = False
            if not self._committer.done():
                # Still retrying: each retry carries the group's generation at the time, so one
                # after the rebalance could land behind the next owner's commit. What it held
                # of the partitions kept goes with the next commit.
                self._committer.cancel()
                await asyncio.gather(self._committer, return_exceptions=True)
                self._to_commit = {**self._committing, **self._to_commit}
                self._committing = {}
        for partition in revoked:
            self._to_commit.pop(partition, None)

    async def close(self) -> None:
        """Once the broker's consumer has stopped: a commit still under way can no longer go
        out, and is given up."""
        if self._committer is not None and not self._committer.done():
            self._committer.cancel()
            await asyncio.gather(self._committer, return_exceptions=True)

    async def _commit_pending(self, consumer: AIOKafkaConsumer) -> None:
        while self._to_commit:
            if self._commit_interval_s > 0 and not (self._stopping or self._revoking):
                self._commit_now.clear()  # a wake-up meant for an earlier wait is spent
                await nap(self._commit_now, self._commit_interval_s)  # a stop or revoke ends it
            self._committing, self._to_commit = self._to_commit, {}
            await self._commit(consumer, self._committing)
            self._committing = {}

    async def _commit(self, consumer: AIOKafkaConsumer, done: dict[TopicPartition, int]) -> None:
        # Only partitions still ours: one taken away by a rebalance would fail the whole commit.
        assigned = consumer.assignment()
        offsets = {partition: offset for partition, offset in done.items() if partition in assigned}
        if not offsets:
            return
        try:
            async with asyncio.timeout(COMMIT_TIMEOUT_S):  # not wait_for: see runtime/waits.py
                await consumer.commit(offsets)
        except (KafkaError, TimeoutError) as exc:
            # A rebalance took a partition away, or the coordinator is away: whoever reads these
            # partitions next re-reads from the last commit, and the inbox makes that harmless.
            log.warning("offset commit failed (%r); records may be redelivered", exc)


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells an EventConsumer when a rebalance takes partitions away."""

    def __init__(self, consumer: EventConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._consumer.partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Keep Python's cyclic garbage collector from running while a batch is applied together
    (at most COLLECTOR_PAUSE_LIMIT_S).

    A batch's objects (records, events, entries: ~40 per event) live until it is applied, then
    all go at once, freed by their reference counts. Meanwhile every few hundred allocations the
    collector would scan them, three times over as they age through its generations, and find
    nothing to free: ~9 % of a catching-up audit service's CPU. The pause is process-wide, so
    whatever else runs on the loop meanwhile (HTTP requests, the outbox relay) is not collected
    either; the limit bounds that when a batch waits long, on a database that is away, say. A
    batch applied in parts, which may take up to a minute, is not paused."""
    if not gc.isenabled():  # paused already, or switched off by whoever runs the process
        yield
        return
    loop = asyncio.get_running_loop()
    gc.disable()
    limit = loop.call_later(COLLECTOR_PAUSE_LIMIT_S, gc.enable)
    try:
        yield
    finally:
        limit.cancel()
        gc.enable()


def _cut(text: str) -> str:
    if len(text) <= DEAD_LETTER_FIELD_LIMIT:
        return text
    return text[:DEAD_LETTER_FIELD_LIMIT] + f"… ({len(text)} characters)"


def _pause_briefly(consumer: AIOKafkaConsumer, partition: TopicPartition) -> None:
    if partition not in consumer.assignment():
        return
    consumer.pause(partition)

    def resume() -> None:
        # After a rebalance the partition may be someone else's; nothing to resume then.
        if partition in consumer.assignment():
            consumer.resume(partition)

    asyncio.get_running_loop().call_later(NOT_YET_PAUSE_S, resume)


def _position(record: ConsumerRecord) -> tuple[str, int, int]:
    return (record.topic, record.partition, record.offset)
