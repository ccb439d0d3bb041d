"""Schemathesis against each service's own OpenAPI document, in-process on real Postgres.

Cases are generated (derandomized, so a run is reproducible) from every operation, sent with a
token that holds every role, and each answer must be no 5xx and conform to the document: a
documented status code, content type and body schema.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from integration.node_services import SERVICES, Service, services
from integration.test_referral_harness import make_database
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support import token, unique

from samverkan.devnet.embedded import EmbeddedPostgres
from samverkan.runtime.auth import Role

pytestmark = pytest.mark.integration

EXAMPLES = 8  # per operation: about 50 operations, a few seconds per service
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
async def running(postgres: EmbeddedPostgres | None) -> AsyncIterator[dict[str, Service]]:
    databases = functools.partial(make_database, postgres)
    async with services(unique("kommun"), databases) as found:
        yield found


def _cases(operation: Any) -> list[Any]:
    """Draw the operation's cases up front: Hypothesis runs synchronously, the app does not."""
    drawn: list[Any] = []

    @_SETTINGS
    @hypothesis.given(case=operation.as_strategy())
    def draw(case: Any) -> None:
        drawn.append(case)

    draw()
    return drawn


def _request(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The requests-shaped arguments Schemathesis prepares, for httpx."""
    request = {
        k: kwargs[k] for k in ("method", "url", "headers", "params", "cookies") if k in kwargs
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, bytes | str) else None
    return request


@pytest.mark.parametrize("service", SERVICES)
async def test_every_answer_conforms_to_the_openapi_document(
    running: dict[str, Service], service: str
) -> None:
    app, client, node = running[service].app, running[service].client, running[service].node
    schema = schemathesis.openapi.from_dict(app.openapi())
    everyone = token(node.principal, "skolskoterska", Role.STAFF, Role.ADMIN, Role.AUDITOR)
    failures, sent = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/readyz":
            continue  # answers 503 here, by design: no broker runs (documented, tested elsewhere)
        for case in _cases(operation):
            kwargs = case.as_transport_kwargs(base_url="http://service", headers=everyone)
            response = await client.request(**_request(kwargs))
            sent += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
                continue
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as exc:
                failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:600]}")
    assert sent >= EXAMPLES
    assert not failures, "\n".join(failures[:20])
