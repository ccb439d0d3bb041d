"""Helpers for tests that run one service in-process against the real Kafka and Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import uuid4

import anyio.to_thread
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI

from samverkan.contracts import CloudEvent, Event, topics
from samverkan.contracts.directory import (
    FormalisedContactPublished,
    FunctionPublished,
    PublicKeyPublished,
    UnitKind,
)
from samverkan.contracts.envelope import LegalBasis
from samverkan.contracts.referral import Need, ReferralSent
from samverkan.runtime import directory_view
from samverkan.runtime.auth import Role, issue_token
from samverkan.runtime.broker import ensure_topics
from samverkan.runtime.consumer import EventConsumer
from samverkan.runtime.db import UnitOfWork, create_pool
from samverkan.runtime.migrations import migrate
from samverkan.runtime.node import Node
from samverkan.runtime.settings import KafkaSettings, NodeSettings, ServiceSettings
from samverkan.runtime.signing import Signer, fingerprint, generate_key

SECRET = "test-secret-not-for-production-0123456789"
T = TypeVar("T")


def unique(prefix: str) -> str:
    """A fresh principal id, so each test has its own consumer groups on the shared broker."""
    return f"{prefix}-{secrets.token_hex(3)}"


_SIGNING_KEYS: dict[str, str] = {}
KEY_ID = "key-1"


def signing_key(principal: str) -> str:
    """The test principal's Ed25519 key (made on first use, the same for all its services)."""
    return _SIGNING_KEYS.setdefault(principal, generate_key())


def settings(
    cls: type[ServiceSettings],
    *,
    principal: str,
    dsn: str,
    kafka: str,
    node: dict[str, Any] | None = None,
    **extra: Any,
) -> Any:
    """Settings of `principal`'s service `cls`; `node` adds NodeSettings fields."""
    return cls(
        database_url=dsn,
        outbox_poll_interval_s=0.1,
        node=NodeSettings(
            principal=principal,
            auth_jwt_key=SECRET,
            signing_key=signing_key(principal),
            **(node or {}),
        ),
        kafka=KafkaSettings(
            bootstrap_servers=kafka, enable_idempotence=False, fetch_max_wait_ms=50
        ),
        **extra,
    )


def token(principal: str, function: str | None, *roles: Role) -> dict[str, str]:
    jwt = issue_token(
        SECRET,
        person=f"SE2120001231-{secrets.token_hex(2)}",
        principal=principal,
        function=function,
        roles=list(roles),
    )
    return {"Authorization": f"Bearer {jwt}"}


@contextlib.asynccontextmanager
async def running(node: Node, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with node.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


def school_to_health_centre(school: str, region: str) -> list[CloudEvent]:
    """Directory events: a school nurse in `school` whose counterpart is a UPH team in `region`
    (the school's entries first, then the region's)."""
    start = date(2025, 1, 1)
    entries: list[tuple[str, Event]] = [
        (
            school,
            FunctionPublished(
                principal=school,
                function="skolskoterska",
                name="Skolsköterska",
                unit="skolan",
                unit_name="Skolan",
                unit_kind=UnitKind.SCHOOL,
                mailbox="sk@school.example",
                valid_from=start,
            ),
        ),
        (
            school,
            FormalisedContactPublished(
                principal=school,
                contact="sk-uph",
                function="skolskoterska",
                counterpart_principal=region,
                counterpart_function="uph",
                need=Need.MEDICAL_PSYCHOLOGICAL,
                valid_from=start,
            ),
        ),
        (
            region,
            FunctionPublished(
                principal=region,
                function="uph",
                name="UPH-team",
                unit="vardcentralen",
                unit_name="Vårdcentralen",
                unit_kind=UnitKind.HEALTH_CENTRE,
                mailbox="uph@region.example",
                valid_from=start,
            ),
        ),
        (
            region,  # the region confirms the contact: only a confirmed contact routes
            FormalisedContactPublished(
                principal=region,
                contact="uph-sk",
                function="uph",
                counterpart_principal=school,
                counterpart_function="skolskoterska",
                need=Need.MEDICAL_PSYCHOLOGICAL,
                valid_from=start,
            ),
        ),
    ]
    return [CloudEvent.wrap(e, principal=p, service="directory") for p, e in entries]


def public_key_event(principal: str) -> CloudEvent:
    """The principal's PublicKeyPublished for its test signing key, as its directory would send it."""
    data = PublicKeyPublished(
        principal=principal,
        key_id=KEY_ID,
        algorithm="ed25519",
        public_key=Signer(signing_key(principal), KEY_ID).public_key_b64(),
        valid_from=datetime(2025, 1, 1, tzinfo=UTC),
    )
    return CloudEvent.wrap(data, principal=principal, service="directory")


def key_fingerprint(principal: str) -> str:
    """The fingerprint an operator would pin for the principal's test key."""
    return fingerprint(Signer(signing_key(principal), KEY_ID).public_key_b64())


def signed_headers(event: CloudEvent) -> list[tuple[str, bytes]]:
    """The event's headers signed by its source principal's test key, as its relay would."""
    return Signer(signing_key(event.sourceprincipal), KEY_ID).sign(event.headers(), event.value())


Raw = tuple[CloudEvent, list[tuple[str, bytes]], bytes]  # an event, its headers, its value


async def send_raw(bootstrap: str, records: Iterable[Raw]) -> None:
    """Publish each record as given (forged or altered ones too), each acknowledged before the
    next, on partition 0 of its event's topic: a consumer reads each topic's in this order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event, headers, value in records:
            await producer.send_and_wait(
                event.topic, value, key=event.key(), headers=headers, partition=0
            )
    finally:
        await producer.stop()


def signed(events: Iterable[CloudEvent]) -> list[Raw]:
    """The events as their relays would publish them, signed."""
    return [(e, signed_headers(e), e.value()) for e in events]


async def send_in_order(bootstrap: str, events: list[CloudEvent]) -> None:
    """Publish the events signed, as their relays would, in order (see `send_raw`)."""
    await send_raw(bootstrap, signed(events))


async def _seed(tx: UnitOfWork, principals: Iterable[str], events: Iterable[CloudEvent]) -> None:
    for event in [*map(public_key_event, sorted(set(principals))), *events]:
        await directory_view.apply(tx, event)


async def seed_keys(node: Node, *principals: str) -> None:
    """Let the node know these principals' public keys, as their directories would tell it."""
    async with node.uow() as tx:
        await _seed(tx, principals, [])


async def seed_directory(node: Node, events: list[CloudEvent]) -> None:
    """Apply directory events to the node's read model, with each named principal's public key."""
    async with node.uow() as tx:
        await _seed(tx, (e.sourceprincipal for e in events), events)


async def seed_before_start(
    node: Node,
    principals: Iterable[str],
    directory: Iterable[CloudEvent] = (),
    backlog: Iterable[Raw] = (),
) -> None:
    """Migrate the node's database and apply the principals' public keys, then `directory`,
    and put `backlog` on the broker, before the node starts: its consumer's first poll returns
    the whole backlog, one batch, and believes it."""
    await migrate(node.settings.dsn, node.migrations)
    pool = await create_pool(node.settings.dsn, max_size=1)
    try:
        async with UnitOfWork(pool) as tx:
            await _seed(tx, principals, directory)
    finally:
        await pool.close()
    if backlog := list(backlog):
        await ensure_topics(node.settings.kafka)
        await send_raw(node.settings.kafka.bootstrap_servers, backlog)


async def new_topic(bootstrap: str, *, partitions: int = 1) -> str:
    """A topic of the calling test's own, with `partitions`."""
    name = f"test-{uuid4().hex[:8]}"
    settings = KafkaSettings(bootstrap_servers=bootstrap, topic_partitions=partitions)
    await ensure_topics(settings, (name,))
    return name


def offsets_only_consumer(group: str = "referral") -> EventConsumer:
    """An EventConsumer with no database or handlers, for tests of how it settles offsets."""

    async def dead_letter(letter: object) -> None:
        raise AssertionError("nothing is dead-lettered here")

    return EventConsumer(
        group=group,
        principal="sjostad-kommun",
        uow=lambda: None,  # type: ignore[arg-type,return-value]
        dead_letter=dead_letter,
        max_attempts=1,
        retry_window_s=1.0,
        commit_interval_s=0.0,
    )


async def eventually(
    what: str, probe: Callable[[], Awaitable[T | None]], within: float = 60.0
) -> T:
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def assigned_consumer(node: Node) -> AIOKafkaConsumer:
    """The running node's Kafka consumer, once the group has given it partitions."""
    subscriber = next(iter(node.broker.subscribers))

    async def assigned() -> AIOKafkaConsumer | None:
        consumer = subscriber.consumer
        return consumer if consumer is not None and consumer.assignment() else None

    return await eventually("the node to get its partitions", assigned)


async def committed_offsets(
    kafka: str, group: str, partitions: set[TopicPartition]
) -> dict[TopicPartition, int]:
    """The group's committed offsets, read without joining it."""
    reader = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        return {tp: await reader.committed(tp) or 0 for tp in partitions}
    finally:
        await reader.stop()


async def read_topic(bootstrap: str, topic: str, until: Callable[[list[Any]], bool]) -> list[Any]:
    """Read `topic` from the start (no group) until `until(records)` holds or 30 s pass."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + 30
        while not until(records) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def dead_letter_about(bootstrap: str, group: str, event: CloudEvent) -> dict[str, Any]:
    """The one dead letter consumer group `group` wrote about `event` (waits up to 30 s)."""

    def about(records: list[Any]) -> list[dict[str, Any]]:
        letters = (json.loads(r.value) for r in records)
        return [
            d
            for d in letters
            if d.get("consumer_group") == group
            and dict(d.get("headers", {})).get("ce_id") == str(event.id)
        ]

    [letter] = about(await read_topic(bootstrap, topics.DEAD_LETTER, lambda rs: bool(about(rs))))
    return letter


def referral_sent(school: str, region: str) -> CloudEvent:
    """A valid referral.sent from `school` to the UPH team of `region`."""
    data = ReferralSent(
        referral_id=uuid4(),
        sender={"principal": school, "function": "skolskoterska"},
        recipient={"principal": region, "function": "uph"},
        need="medical-psychological",
        child={"personnummer": "20120315-1236", "name": "Alva Exempel"},
        reason="Oro",
        consent={"decided_by": "child", "purpose": "stöd", "given_at": datetime.now(UTC)},
        sent_at=datetime.now(UTC),
    )
    return CloudEvent.wrap(
        data, principal=school, service="referral", recipient=region, legalbasis=LegalBasis.CONSENT
    )


class HangingUpRelay:
    """An SMTP relay on 127.0.0.1 that hangs up on its `nth` mail (counted over all sessions;
    several: a set): by default after taking the mail's content and before saying it has it, so
    the sender cannot know whether it arrived; with `at=b"MAIL"`, at that command, before anything
    was sent. It first says `saying`, if given (such as a 421, closing)."""

    host = "127.0.0.1"

    def __init__(self, nth: int | set[int], at: bytes = b"DATA", saying: bytes = b"") -> None:
        self.nth = {nth} if isinstance(nth, int) else nth
        self.at, self.saying = at, saying
        self.taken: list[bytes] = []
        self.mails = 0
        self.port = 0

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 relay\r\n")
        while line := await reader.readline():
            command = line.strip().upper()
            if command.startswith(b"MAIL"):
                self.mails += 1
            if command == b"DATA":
                writer.write(b"354 go on\r\n")
                self.taken.append(await reader.readuntil(b"\r\n.\r\n"))
            if command.startswith(self.at) and self.mails in self.nth:
                writer.write(self.saying)
                await writer.drain()
                break
            if command == b"DATA":
                writer.write(b"250 queued\r\n")
            elif command == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[HangingUpRelay]:
        server = await asyncio.start_server(self._session, self.host, 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self


def audit_entry(n: int, *, at: datetime | None = None, **fields: Any) -> Any:
    """The `n`th of a run of plain audit entries (its seq is assigned when appended)."""
    from samverkan.audit.chain import Entry  # the audit service is not every test's dependency

    now = at or datetime.now(UTC)
    values: dict[str, Any] = {
        "seq": -1,
        "event_id": uuid4(),
        "topic": "samverkan.referral.v1",
        "partition": 0,
        "offset": n,
        "type": "se.samverkan.referral.accepted.v1",
        "source": "urn:samverkan:r:referral",
        "source_principal": "r",
        "recipient_principal": "m",
        "subject": str(uuid4()),
        "legal_basis": "none",
        "event_time": now,
        "recorded_at": now,
        "personnummer_pseudonym": None,
        "headers": [["ce_id", str(n)]],
        "payload": b'{"n": %d}' % n,
    }
    return Entry(**{**values, **fields})


class ThreadHops:
    """Counts, from now on, the hops to a worker thread and back (anyio's, which FastAPI and
    FastStream use for a synchronous step)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        run_sync = anyio.to_thread.run_sync

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await run_sync(*args, **kwargs)

        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
