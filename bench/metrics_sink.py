"""The services' own account of a catch-up: their OpenTelemetry metrics, received over OTLP/HTTP.

Each service under catch-up exports `samverkan.consumer.stage_duration` (what every batch spent
in each stage) once a second to this sink, on loopback. It keeps the latest cumulative sums per
service, so the bench can say where a service's time went, not only how long it took.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

STAGE_METRIC = "samverkan.consumer.stage_duration"
EXPORT_INTERVAL_MS = 1000


class MetricsSink:
    def __init__(self) -> None:
        self._received = threading.Condition()
        self._stages: dict[str, dict[str, float]] = {}  # service.name → stage → seconds
        self._exports: dict[str, int] = {}  # service.name → exports received
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                sink.receive(body)
                answer = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line a second per service would drown the bench's output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def env(self) -> dict[str, str]:
        """What a service process needs to export its metrics here (and nothing else: traces
        stay off, as on a node without a trace endpoint)."""
        port = self._server.server_address[1]
        return {
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"http://127.0.0.1:{port}/v1/metrics",
            "OTEL_METRIC_EXPORT_INTERVAL": str(EXPORT_INTERVAL_MS),
        }

    def receive(self, body: bytes) -> None:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_metrics:
            service = _attribute(resource.resource.attributes, "service.name")
            stages = {
                _attribute(point.attributes, "stage"): point.sum
                for scope in resource.scope_metrics
                for metric in scope.metrics
                if metric.name == STAGE_METRIC
                for point in metric.histogram.data_points
            }
            with self._received:
                self._exports[service] = self._exports.get(service, 0) + 1
                if stages:
                    self._stages[service] = stages
                self._received.notify_all()

    def exports_after(self, service: str, count: int, timeout: float) -> bool:
        """Wait (blocking) until `count` more exports of the service arrived; False if they did
        not within `timeout`."""
        with self._received:
            wanted = self._exports.get(service, 0) + count
            return self._received.wait_for(lambda: self._exports.get(service, 0) >= wanted, timeout)

    def stages(self, service: str) -> dict[str, float]:
        """Seconds per stage, summed over every batch the service reported so far."""
        with self._received:
            return dict(self._stages.get(service, {}))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
        self._server.server_close()


def _attribute(attributes: Any, key: str) -> str:
    return next((a.value.string_value for a in attributes if a.key == key), "")
