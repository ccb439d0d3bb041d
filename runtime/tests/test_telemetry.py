"""Tracing: spans are built only where they are exported, and the trace goes on either way."""

import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

UPSTREAM = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

# A service process's telemetry, as `samverkan-<service>` configures it, handling an event that
# came with UPSTREAM. (In a process of its own: the tracer provider is set once per process.)
_HANDLE_AN_EVENT = f"""
import json, os
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from samverkan.runtime import telemetry
telemetry.configure("referral", "vastra-regionen")
made = []
def attributes():
    made.append(True)
    return {{}}
with telemetry.handling("x process", {UPSTREAM!r}, attributes):
    seen = {{
        "recording": trace.get_current_span().is_recording(),
        "published_with": telemetry.event_traceparent(),
        "metrics_sdk": isinstance(metrics.get_meter_provider(), MeterProvider),
    }}
seen["attributes_made"] = bool(made)
try:
    with telemetry.handling("y process", {UPSTREAM!r}, dict):
        raise ZeroDivisionError
except ZeroDivisionError:
    pass
seen["after_a_failed_handling"] = telemetry.event_traceparent()
seen["outside_any_trace"] = [telemetry.event_traceparent() for _ in range(2)]
print(json.dumps(seen), flush=True)
os._exit(0)  # no exporter flush at exit: nothing listens at the endpoint
"""


def _handle_an_event(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(
        [sys.executable, "-c", _HANDLE_AN_EVENT],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def without_exporter() -> dict[str, object]:
    return _handle_an_event()


def test_without_an_exporter_no_span_is_built_and_the_trace_goes_on(
    without_exporter: dict[str, object],
) -> None:
    seen = without_exporter
    assert seen["recording"] is False
    assert seen["attributes_made"] is False  # nothing is made for a span not built
    assert seen["published_with"] == UPSTREAM  # what the handler publishes carries it on
    # The event's context ends with its handling, even one that failed.
    assert UPSTREAM.split("-")[1] not in str(seen["after_a_failed_handling"])
    assert seen["metrics_sdk"] is True  # metrics are still counted (readable in tests, exporters)


def test_an_event_created_outside_any_trace_starts_one(without_exporter: dict[str, object]) -> None:
    """Without an exporter no span is active even while an HTTP request is served: an event
    created then gets a trace of its own, which nodes that export follow."""
    first, second = without_exporter["outside_any_trace"]  # type: ignore[misc]
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", first)
    assert first.split("-")[1] != second.split("-")[1]  # a new trace each time


def test_with_a_trace_exporter_each_handling_is_a_span_of_the_trace() -> None:
    seen = _handle_an_event(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:9/v1/traces")
    assert seen["recording"] is True
    assert seen["attributes_made"] is True
    trace_id, parent = UPSTREAM.split("-")[1:3]
    published = str(seen["published_with"]).split("-")
    assert published[1] == trace_id and published[2] != parent  # a child span, same trace
