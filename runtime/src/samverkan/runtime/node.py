"""One service process of a node: pool, broker, outbox relay, consumer and HTTP app, wired once.

Each service's `app.py` builds a Node, registers its handlers and routes, and nothing else.
The HTTP side starts without Kafka: an accepted request waits in the outbox until the broker is
reachable, which is the point of the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI
from faststream import AckPolicy
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from samverkan.contracts import CloudEvent, Event, topics
from samverkan.contracts.deadletter import DeadLettered
from samverkan.runtime import problems, telemetry, trust, verifiers
from samverkan.runtime.broker import ensure_topics, make_broker, publish_record
from samverkan.runtime.consumer import (
    Batch,
    EventConsumer,
    Handler,
    Tap,
    parse_batch,
    raw_batch,
)
from samverkan.runtime.db import UnitOfWork, create_pool
from samverkan.runtime.lag import LagSampler
from samverkan.runtime.migrations import RUNTIME, MigrationSource, migrate, pending
from samverkan.runtime.outbox import OutboxRelay
from samverkan.runtime.settings import ServiceSettings
from samverkan.runtime.signing import Signer

log = logging.getLogger(__name__)

# How long an idle consumer waits for records before polling again. FastStream sleeps as long
# again after an empty poll, so a record arriving then waits at most twice this.
_BATCH_WAIT_MS = 50
# On the way out the pool waits for every connection to come back; one still held by a task that
# will not end must not hold up the stop: past this, the remaining connections are closed hard.
_POOL_CLOSE_S = 3.0
_DEAD_LETTERS = uuid.UUID("6d1f3c0e-5a41-4c1b-9d4e-2f0b7c9a8e51")  # namespace of dead-letter ids


class Node:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        service: str,
        migrations: list[MigrationSource],
        subscribe_to: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        self.service = service
        self.principal = settings.principal
        self.group = f"{self.principal}.{service}"
        self.migrations = [RUNTIME, *migrations]
        self.broker = make_broker(settings.kafka, client_id=self.group)
        self.signer = Signer.from_settings(settings.node)
        if self.signer is None:
            log.warning("no signing key configured: events of %s leave unsigned", self.group)
        self.relay = OutboxRelay(
            settings.dsn,
            self.broker,
            lock_name=self.group,
            signer=self.signer,
            poll_interval_s=settings.outbox_poll_interval_s,
        )
        verifiers.use_processes(settings.node.verify_processes)
        trust_policy = trust.Policy.from_settings(settings.node)
        if settings.node.verify_signatures and trust_policy.on_first_use:
            log.warning(
                "first keys are trusted on first use; configure trusted_keys "
                "(SAMVERKAN_TRUSTED_KEYS or [node.trusted_keys])"
            )
        self.consumer = EventConsumer(
            group=self.group,
            principal=self.principal,
            uow=self.uow,
            dead_letter=self.dead_letter,
            max_attempts=settings.consumer_max_attempts,
            retry_window_s=settings.consumer_retry_window_s,
            commit_interval_s=settings.consumer_commit_interval_s,
            verify=trust_policy.check if settings.node.verify_signatures else None,
        )
        self._subscribe_to = subscribe_to
        self._background: list[Callable[[], Awaitable[None]]] = []
        self._pool: asyncpg.Pool | None = None
        self.broker_connected = asyncio.Event()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the node is not running")
        return self._pool

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.pool, self.relay)

    def event(self, data: Event, **attributes: Any) -> CloudEvent:
        """Wrap a payload in this service's envelope (source, principal, time, id, trace)."""
        attributes.setdefault("traceparent", telemetry.event_traceparent())
        return CloudEvent.wrap(data, principal=self.principal, service=self.service, **attributes)

    def on(self, event_class: type[Event], handler: Handler, *, addressed_to_me: bool) -> None:
        self.consumer.on(event_class, handler, addressed_to_me=addressed_to_me)

    def tap(self, tap: Tap) -> None:
        """Receive every valid event of the subscribed topics, with its Kafka record."""
        self.consumer.tap(tap)

    def background(self, loop: Callable[[], Awaitable[None]]) -> None:
        """Run `loop` for the life of the process (e.g. a delivery worker); it must handle errors."""
        self._background.append(loop)

    async def dead_letter(self, letter: DeadLettered) -> None:
        # One id per consumer and record: a dead letter sent again (its offset commit was lost)
        # is the same event, which the audit trail records once.
        position = f"{letter.consumer_group}/{letter.topic}/{letter.partition}/{letter.offset}"
        event = self.event(letter).model_copy(update={"id": uuid.uuid5(_DEAD_LETTERS, position)})
        headers = {k: v.decode() for k, v in event.headers()}
        if self.signer is not None:
            headers = self.signer.sign_record(headers, event.value())
        future = await publish_record(self.broker, event.topic, event.key(), event.value(), headers)
        await future

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Node]:
        if self.settings.migrate_on_start:
            await migrate(self.settings.migration_url, self.migrations)
        self._pool = await create_pool(self.settings.dsn)
        samplers: list[LagSampler] = []
        if self._subscribe_to:

            async def on_message(batch: Batch) -> None:
                # FastStream keeps the message, and with it the whole batch, in a context
                # variable, and every timer or task started while handling it copies the context.
                # asyncpg starts five-minute timers: one per statement it prepares, one per
                # connection returned to the pool (kept, context and all, even once cancelled).
                # That kept several batches alive at once. In a context of its own, a batch goes
                # when it is done.
                # As many rebalances as when the batch was read: one that begins in the hop to
                # the task must still count against it.
                seen = self.consumer.revocations
                await asyncio.create_task(
                    self.consumer(batch, revocations=seen), context=contextvars.Context()
                )

            subscriber = self.broker.subscriber(
                *self._subscribe_to,
                group_id=self.group,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=self.settings.kafka.fetch_max_wait_ms,
                max_partition_fetch_bytes=self.settings.kafka.max_partition_fetch_bytes,
                ack_policy=AckPolicy.MANUAL,
                batch=True,
                max_records=self.settings.consumer_batch_size,
                batch_timeout_ms=_BATCH_WAIT_MS,
                parser=parse_batch,
                decoder=raw_batch,
                listener=self.consumer.listener,
            )
            subscriber(on_message)
            interval_s = self.settings.consumer_lag_interval_s
            samplers.append(LagSampler(self.group, lambda: subscriber.consumer, interval_s))
        tasks = [asyncio.create_task(self._connect_broker(), name="broker-connect")]
        tasks += [asyncio.create_task(s.run(), name="consumer-lag") for s in samplers]
        tasks += [asyncio.create_task(loop(), name=loop.__name__) for loop in self._background]
        log.info("%s started for principal %s", self.service, self.principal)
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Waits for an in-flight handler (FastStream's graceful timeout bounds it); nothing
            # unprocessed is committed.
            await self.consumer.finish_commits()
            await self.broker.stop()
            await self.consumer.close()
            await _close(self._pool)
            self._pool = None

    async def _connect_broker(self) -> None:
        delay = 0.5
        while True:
            try:
                await ensure_topics(self.settings.kafka, topics.ALL)
                await self.broker.start()
                break
            except Exception as exc:
                log.warning("Kafka not reachable yet (%s); retrying in %.1fs", exc, delay)
                await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self.broker_connected.set()
        log.info("connected to Kafka at %s", self.settings.kafka.bootstrap_servers)
        await self.relay.run()

    async def readiness(self) -> dict[str, Any]:
        # Kafka: connected once and still answering now (the flag alone never turns false).
        kafka = self.broker_connected.is_set() and await self.broker.ping(timeout=2.0)
        checks: dict[str, Any] = {"kafka": kafka, "database": False, "migrations_pending": []}
        try:
            async with self.pool.acquire(timeout=2.0) as conn:
                checks["migrations_pending"] = await pending(conn, self.migrations)
            checks["database"] = True
        except Exception:
            checks["database"] = False
        return checks

    def http_app(self, *routers: APIRouter, title: str) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            async with self.running():
                yield

        app = FastAPI(title=title, lifespan=lifespan)
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls="healthz,readyz", server_request_hook=telemetry.redact_query
        )
        app.state.node = self
        app.state.node_settings = self.settings.node
        problems.install(app)
        app.add_middleware(problems.BodyGuard, limit=self.settings.http_max_body_bytes)
        for router in routers:
            app.include_router(router, responses=problems.RESPONSES)

        @app.get("/healthz", tags=["operations"])
        async def healthz() -> dict[str, str]:
            return {"status": "alive"}

        @app.get(
            "/readyz",
            tags=["operations"],
            responses={
                503: problems.RESPONSES[409]
                | {"description": "A dependency is not ready (the checks say which)."}
            },
        )
        async def readyz() -> Any:
            checks = await self.readiness()
            ready = checks["kafka"] and checks["database"] and not checks["migrations_pending"]
            if not ready:
                raise problems.Problem(
                    503, "Not ready", "A dependency is not ready.", checks=checks
                )
            return {"status": "ready", "checks": checks}

        return app


async def _close(pool: asyncpg.Pool) -> None:
    try:
        async with asyncio.timeout(_POOL_CLOSE_S):  # not wait_for: see runtime/waits.py
            await pool.close()
    except TimeoutError:  # a cancelled close() terminates the pool: every connection is closed
        log.warning("database connections still in use after %.0fs; closed them", _POOL_CLOSE_S)
