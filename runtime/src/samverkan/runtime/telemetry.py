"""OpenTelemetry: one trace follows a referral across HTTP → outbox → Kafka → consumers.

The trace context travels in the CloudEvents `traceparent` extension (a Kafka header). It is taken
when an event is created, stored with the outbox row, and restored around the relay's publish and
the consumer's handling, so the relay's own loop never becomes the parent. Spans and metrics are
exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces/metrics variant) is set.

Without a trace exporter no spans are built (a recorded span with its attributes cost a consumer
~20 µs an event; `handling` builds not even a no-op one): handling an event still runs in its
traceparent's context, so what a handler publishes carries that traceparent on, and the trace
goes on past this node, which is simply not in it. An event created outside any trace starts a
new one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

tracer = trace.get_tracer("samverkan")
meter = metrics.get_meter("samverkan")

_propagator = TraceContextTextMapPropagator()


def configure(service: str, principal: str) -> None:
    """Install the SDK providers this process exports with (once; providers set earlier are kept)."""
    resource = Resource.create(
        {
            "service.name": f"samverkan-{service}",
            "service.namespace": "samverkan",
            "samverkan.principal": principal,
        }
    )
    if _configured("TRACES") and not isinstance(trace.get_tracer_provider(), TracerProvider):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(tracer_provider)
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        readers = []
        if _configured("METRICS"):
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


def _configured(signal: str) -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


# Query strings may carry search terms such as a personnummer; spans keep the path only.
def redact_query(span: Span, scope: dict[str, Any]) -> None:
    """FastAPI server hook: overwrite URL attributes with their query-free form."""
    if not span.is_recording():
        return
    path = scope.get("path", "")
    server = scope.get("server") or ("", 0)
    span.set_attribute("http.url", f"{scope.get('scheme', 'http')}://{server[0]}:{server[1]}{path}")
    span.set_attribute("url.full", f"{scope.get('scheme', 'http')}://{server[0]}:{server[1]}{path}")
    span.set_attribute("http.target", path)
    span.set_attribute("url.query", "")


def event_traceparent() -> str:
    """The W3C traceparent of an event created now: the active span's, or a new trace's outside
    any (no span is active where none is exported), so that an event and all it causes are one
    trace wherever spans are exported."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent") or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def tracing() -> bool:
    """Whether spans are built: a tracer provider is installed (`configure` installs one where
    traces are exported). Without one, even a no-op span costs a few µs an event."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def handling(
    name: str, traceparent: str | None, attributes: Callable[[], dict[str, Any]]
) -> contextlib.AbstractContextManager[object]:
    """Where to run the handling of an event: in a consumer span of its trace where spans are
    built; elsewhere in the event's context alone, so that what the handler publishes carries
    the event's traceparent on. That is what OpenTelemetry's no-op tracer would do too, but its
    span machinery cost a catching-up consumer ~7 µs an event (`attributes` are made only for
    a span)."""
    parent = context_of(traceparent)
    if not tracing():
        return _InContext(parent)
    return tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes()
    )


class _InContext:
    """Attaches a context for the length of a `with` block (a class: cheaper than a generator)."""

    __slots__ = ("_context", "_token")

    def __init__(self, context: Context) -> None:
        self._context = context

    def __enter__(self) -> None:
        self._token = otel_context.attach(self._context)

    def __exit__(self, *exc_info: object) -> None:
        otel_context.detach(self._token)


def context_of(traceparent: str | None) -> Context:
    """The context an event was created in (an empty one when it carried none)."""
    if not traceparent:
        return Context()
    return _propagator.extract({"traceparent": traceparent})
