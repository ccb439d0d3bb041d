"""The outbox relay: publishes committed outbox rows to Kafka, in order, and marks them published.

Only one relay per service is active at a time (a Postgres session advisory lock), so that events
with the same key leave in the order they were committed. A crash between publish and mark only
causes a re-publish, which consumers dedupe on the event id.
"""

from __future__ import annotations

import asyncio
import logging
import zlib

import asyncpg
from faststream.kafka import KafkaBroker
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, StatusCode

from samverkan.runtime import faults, telemetry
from samverkan.runtime.broker import publish_record
from samverkan.runtime.db import connect
from samverkan.runtime.signing import Signer
from samverkan.runtime.waits import nap

log = logging.getLogger(__name__)

BATCH = 200

_RELAYS: list[OutboxRelay] = []
_published = telemetry.meter.create_counter(
    "samverkan.outbox.published", unit="{event}", description="Outbox rows published to Kafka"
)


def _observe_backlog(_: CallbackOptions) -> list[Observation]:
    return [Observation(r.backlog) for r in _RELAYS]


def _observe_age(_: CallbackOptions) -> list[Observation]:
    return [Observation(r.backlog_age_s) for r in _RELAYS]


telemetry.meter.create_observable_gauge(
    "samverkan.outbox.backlog",
    [_observe_backlog],
    unit="{event}",
    description="Committed events not yet published (as of the relay's last idle moment)",
)
telemetry.meter.create_observable_gauge(
    "samverkan.outbox.oldest_age",
    [_observe_age],
    unit="s",
    description="Age of the oldest unpublished outbox row",
)


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        broker: KafkaBroker,
        *,
        lock_name: str,
        signer: Signer | None = None,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._dsn = dsn
        self._broker = broker
        self._signer = signer
        self._lock_key = zlib.crc32(f"outbox-relay:{lock_name}".encode())
        self._poll_interval_s = poll_interval_s
        self._wakeup = asyncio.Event()
        self.published_total = 0
        self.backlog = 0
        self.backlog_age_s = 0.0
        _RELAYS.append(self)

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Run until cancelled: wait for the relay lock, then publish whatever is pending."""
        while True:
            try:
                conn = await connect(self._dsn)
                try:
                    if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                        log.info("outbox relay active")
                        await self._relay(conn)
                finally:
                    await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: keep the rows, try again later
                log.warning("outbox relay paused: %s: %s", type(exc).__name__, exc)
            await self._sleep()

    async def _relay(self, conn: asyncpg.Connection) -> None:
        while True:
            published = await self.publish_pending(conn)
            if published < BATCH:
                await self.measure_backlog(conn)
                await self._sleep()

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM outbox"
            " WHERE published_at IS NULL ORDER BY id LIMIT $1",
            BATCH,
        )
        if not rows:
            return 0
        faults.point("relay.before_publish")
        spans, futures, tracing = [], [], telemetry.tracing()
        try:
            for r in rows:
                headers = dict(r["headers"])
                if tracing:
                    # The event's own trace, not the relay loop's, is the parent of its span.
                    spans.append(
                        telemetry.tracer.start_span(
                            f"{r['topic']} publish",
                            context=telemetry.context_of(headers.get("traceparent")),
                            kind=SpanKind.PRODUCER,
                            attributes={
                                "messaging.system": "kafka",
                                "messaging.destination.name": r["topic"],
                                "messaging.message.id": headers.get("ce_id", ""),
                                "cloudevents.event_type": headers.get("ce_type", ""),
                            },
                        )
                    )
                if self._signer is not None:
                    headers = self._signer.sign_record(headers, r["value"])
                futures.append(
                    await publish_record(self._broker, r["topic"], r["key"], r["value"], headers)
                )
            await asyncio.gather(*futures)
        except BaseException as exc:
            for span in spans:
                span.set_status(StatusCode.ERROR, f"not published: {type(exc).__name__}")
            raise
        finally:
            for span in spans:  # every span started, whether or not its record went out
                span.end()
        faults.point("relay.after_publish")
        await conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
            [r["id"] for r in rows],
        )
        self.published_total += len(rows)
        _published.add(len(rows))
        return len(rows)

    async def measure_backlog(self, conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age"
            " FROM outbox WHERE published_at IS NULL"
        )
        self.backlog, self.backlog_age_s = row["n"], float(row["age"] or 0.0)

    async def _sleep(self) -> None:
        await nap(self._wakeup, self._poll_interval_s)
