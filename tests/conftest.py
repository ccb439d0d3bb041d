"""Shared fixtures: the real Kafka and Postgres every integration and e2e test talks to.

Embedded by default; KAFKA_BOOTSTRAP_SERVERS and SAMVERKAN_DEV_POSTGRES_URL point them elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from samverkan.devnet.embedded import EmbeddedKafka, EmbeddedPostgres
from samverkan.devnet.network import external_database

STUCK_AFTER_S = 240.0  # pytest-timeout ends a test at 300 s


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    """A broker per test module (the embedded one starts in a blink): no module reads another's
    leftovers, such as events from principals whose keys it never learns."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    with EmbeddedKafka() as kafka:
        yield kafka.bootstrap_servers


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres | None]:
    if os.environ.get("SAMVERKAN_DEV_POSTGRES_URL"):
        yield None
        return
    with EmbeddedPostgres() as server:
        yield server


@pytest.fixture
def new_database(postgres: EmbeddedPostgres | None) -> Callable[[], str]:
    """Make new, empty databases (one per service a test runs)."""

    def make() -> str:
        name = f"t_{secrets.token_hex(6)}"
        if postgres is None:
            return external_database(os.environ["SAMVERKAN_DEV_POSTGRES_URL"], name)
        return postgres.create_database(name)

    return make


@pytest.fixture
def database(new_database: Callable[[], str]) -> str:
    """A new, empty database for one test."""
    return new_database()


@pytest.fixture(scope="session", autouse=True)
def metric_reader() -> InMemoryMetricReader:
    """Every metric the tests' services record. Installed before anything else can set the
    process's one meter provider (a service's `telemetry.configure` then keeps this one)."""
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader


@pytest.fixture(autouse=True)
async def _stuck_tasks_reported() -> AsyncIterator[None]:
    """A test still running after STUCK_AFTER_S writes every asyncio task's stack to stderr, so
    that a hang shows where it waits before pytest-timeout ends it."""

    async def report() -> None:
        await asyncio.sleep(STUCK_AFTER_S)
        print(f"\n--- still running after {STUCK_AFTER_S:.0f} s; asyncio tasks:", file=sys.stderr)
        for task in asyncio.all_tasks():
            print(f"--- {task.get_name()}", file=sys.stderr)
            task.print_stack(limit=25, file=sys.stderr)

    reporter = asyncio.create_task(report())
    yield
    reporter.cancel()
