"""One trace follows a referral from the sender's HTTP request to the recipient and back."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from support import (
    eventually,
    running,
    school_to_health_centre,
    seed_directory,
    settings,
    token,
    unique,
)

from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings
from samverkan.runtime.auth import Role

pytestmark = pytest.mark.integration

REFERRAL = {
    "need": "medical-psychological",
    "child": {"personnummer": "20120315-1236", "name": "Alva Exempel"},
    "reason": "Oro",
    "consent": {"decided_by": "child", "purpose": "stöd", "given_at": "2026-11-20T10:00:00Z"},
}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    processor.shutdown()


async def test_trace_crosses_both_principals(
    spans: InMemorySpanExporter, new_database: Callable[[], str], kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    directory = school_to_health_centre(school, region)
    sender, sender_app = build(
        settings(
            ReferralSettings,
            principal=school,
            dsn=new_database(),
            kafka=kafka_bootstrap,
        )
    )
    recipient, recipient_app = build(
        settings(
            ReferralSettings,
            principal=region,
            dsn=new_database(),
            kafka=kafka_bootstrap,
        )
    )
    async with running(sender, sender_app) as client, running(recipient, recipient_app):
        await seed_directory(sender, directory)
        await seed_directory(recipient, directory)
        nurse = token(school, "skolskoterska", Role.STAFF)
        response = await client.post("/referrals", json=REFERRAL, headers=nurse)
        assert response.status_code == 201, response.text
        rid = response.json()["id"]

        async def received() -> bool:
            r = await client.get(f"/referrals/{rid}", headers=nurse)
            return r.json()["status"] == "received"

        await eventually("the sender to see the technical receipt", received)
        # Query strings can carry search terms such as a personnummer; spans must not keep them.
        await client.get("/referrals?box=sent&probe=20120315-1236", headers=nurse)

    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    http = [s for s in finished if s.name == "POST /referrals" and s.kind is trace.SpanKind.SERVER]
    assert len(http) == 1
    trace_id = http[0].context.trace_id
    same_trace = [s for s in finished if s.context.trace_id == trace_id]

    def hop(name: str, principal: str | None = None) -> list[ReadableSpan]:
        return [
            s
            for s in same_trace
            if s.name == name
            and (principal is None or s.attributes.get("samverkan.principal") == principal)
        ]

    leaked = [
        (s.name, k)
        for s in finished
        for k, v in (s.attributes or {}).items()
        if "20120315" in str(v)
    ]
    assert leaked == []
    assert len(hop("samverkan.referral.v1 publish")) == 2  # sent (sender), received (recipient)
    assert len(hop("se.samverkan.referral.sent.v1 process", region)) == 1
    assert len(hop("se.samverkan.referral.received.v1 process", school)) == 1
