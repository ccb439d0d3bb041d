"""Webhooks over the real broker and database to a real local HTTP receiver: a receiver that
fails, then recovers, gets each event once; one that never recovers ends in
notification.failed; another principal's events never reach a subscription."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from support import (
    eventually,
    read_topic,
    referral_sent,
    running,
    school_to_health_centre,
    seed_directory,
    settings,
    signed_headers,
    token,
    unique,
)

from samverkan.contracts import CloudEvent, topics
from samverkan.contracts.notification import NotificationFailed
from samverkan.devnet.embedded import free_port
from samverkan.notification.app import assemble
from samverkan.notification.clock import ManualClock
from samverkan.notification.settings import NotificationSettings
from samverkan.runtime.auth import Role

pytestmark = pytest.mark.integration

SENT = "se.samverkan.referral.sent.v1"


class Receiver:
    """An integrator's endpoint: /flaky answers 503 to its first `outage` calls, /dead always 500.
    Every answer sets a cookie, which no later call may bring back."""

    def __init__(self, outage: int) -> None:
        self.outage = outage
        self.calls: dict[str, list[bytes]] = {"flaky": [], "dead": []}
        self.cookies_brought: list[str] = []
        self.accepted: list[dict] = []
        self.secrets: dict[str, str] = {}
        self.port = free_port()
        self.app = Starlette(routes=[Route("/{name}", self.hook, methods=["POST"])])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def hook(self, request: Request) -> Response:
        name, body = request.path_params["name"], await request.body()
        self.calls[name].append(body)
        if "cookie" in request.headers:
            self.cookies_brought.append(request.headers["cookie"])
        cookie = {"set-cookie": f"session-{name}=1; Path=/"}
        if name == "dead" or len(self.calls[name]) <= self.outage:
            return Response(status_code=503 if name == "flaky" else 500, headers=cookie)
        document = Webhook(self.secrets[name]).verify(body, dict(request.headers))
        self.accepted.append({"webhook-id": request.headers["webhook-id"], **document})
        return Response(status_code=204, headers=cookie)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Receiver]:
        server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        task = asyncio.create_task(server.serve())
        try:

            async def listening() -> bool:
                return server.started

            await eventually("the receiver to listen", listening)
            yield self
        finally:
            server.should_exit = True
            await task


async def test_retries_until_the_receiver_recovers_then_gives_up_on_a_dead_one(
    database: str, kafka_bootstrap: str
) -> None:
    school, region, stranger = unique("school"), unique("region"), unique("region")
    clock = ManualClock(datetime.now(UTC))
    svc = assemble(
        settings(
            NotificationSettings,
            principal=region,
            dsn=database,
            kafka=kafka_bootstrap,
            smtp_port=free_port(),  # no mail relay: mails stay pending, webhooks go on
            webhook_allow_http=True,
            webhook_max_attempts=3,
            delivery_backoff_s=60,
        ),
        clock,
    )
    receiver = Receiver(outage=2)
    admin = token(region, None, Role.ADMIN)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with receiver.serving(), running(svc.node, svc.app) as client:
            await seed_directory(svc.node, school_to_health_centre(school, region))
            ids = {}
            for name in ("flaky", "dead"):
                r = await client.post(
                    "/webhooks/subscriptions",
                    headers=admin,
                    json={
                        "principal": region,
                        "url": f"{receiver.url}/{name}",
                        "event_types": [SENT],
                    },
                )
                assert r.status_code == 201, r.text
                ids[name], receiver.secrets[name] = r.json()["id"], r.json()["secret"]
            other = {"principal": stranger, "url": f"{receiver.url}/flaky", "event_types": [SENT]}
            r = await client.post("/webhooks/subscriptions", headers=admin, json=other)
            assert r.status_code == 403
            foreign_admin = token(stranger, None, Role.ADMIN)
            r = await client.get(f"/webhooks/subscriptions/{ids['flaky']}", headers=foreign_admin)
            assert r.status_code == 403

            mine = referral_sent(school, region)
            elsewhere = referral_sent(school, stranger)  # between two other principals
            for event in (mine, mine, elsewhere):  # `mine` is delivered twice by Kafka
                await _send(producer, event)

            async def log(name: str) -> list[dict] | None:
                r = await client.get(
                    f"/webhooks/subscriptions/{ids[name]}/deliveries", headers=admin
                )
                return r.json() if r.status_code == 200 else None

            async def settled(name: str, status: str) -> list[dict] | None:
                # Each look moves time past the longest backoff and wakes the worker.
                clock.advance(timedelta(minutes=10))
                svc.webhooks.wakeup.set()
                entries = await log(name)
                return entries if entries and entries[0]["status"] == status else None

            flaky = await eventually(
                "the flaky receiver to get the event", lambda: settled("flaky", "sent")
            )
            dead = await eventually(
                "the dead receiver to be given up", lambda: settled("dead", "failed")
            )

            # A marker after the duplicate and the stranger's event, on the same partition.
            marker = referral_sent(school, region)
            await _send(producer, marker)
            await eventually("the marker", lambda: _delivered(receiver, marker))
    finally:
        await producer.stop()

    assert [(e["about_event"], e["attempts"]) for e in flaky] == [(str(mine.id), 3)]
    assert len(receiver.calls["flaky"]) == 4  # two refused, then `mine` once, then the marker
    assert receiver.cookies_brought == []  # the kept client stores no receiver's cookies
    assert [d["id"] for d in receiver.accepted] == [str(mine.id), str(marker.id)]
    assert receiver.accepted[0]["webhook-id"] == flaky[0]["id"]
    assert "dataomitted" in receiver.accepted[0] and "data" not in receiver.accepted[0]
    assert all(b"20120315" not in body and b"Alva" not in body for body in receiver.calls["flaky"])

    assert len(dead) == 1 and dead[0]["attempts"] == 3 and dead[0]["last_status_code"] == 500
    # Three attempts for `mine` (the marker may already have reached the dead receiver too).
    assert sum(str(mine.id).encode() in body for body in receiver.calls["dead"]) == 3

    def found(records: list) -> bool:
        return any(_failure_for(r, ids["dead"]) for r in records)

    records = await read_topic(kafka_bootstrap, topics.NOTIFICATION, found)
    [failure] = [f for r in records if (f := _failure_for(r, ids["dead"]))]
    assert failure.attempt == 3 and not failure.will_retry and failure.reason == "HTTP 500"
    assert failure.about_event == mine.id and failure.channel == "webhook"


async def _send(producer: AIOKafkaProducer, event: CloudEvent) -> None:
    await producer.send_and_wait(
        event.topic, event.value(), key=event.key(), headers=signed_headers(event), partition=0
    )


async def _delivered(receiver: Receiver, event: CloudEvent) -> bool:
    return any(d["id"] == str(event.id) for d in receiver.accepted)


def _failure_for(record, subscription_id: str) -> NotificationFailed | None:  # type: ignore[no-untyped-def]
    event = CloudEvent.from_kafka(record.value, record.headers)
    data = event.data
    if isinstance(data, NotificationFailed) and str(data.subscription_id) == subscription_id:
        return data
    return None
