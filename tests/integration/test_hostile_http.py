"""Hostile HTTP input against every service: malformed JSON, a wrong content type, bodies over the
limit (declared or chunked), invalid personnummer and injection-shaped strings. Each is answered
with a precise 4xx problem+json (or, for a harmless string, a normal answer), never a 5xx.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from integration.node_services import SERVICES, Service, services
from integration.test_referral_harness import make_database
from support import token, unique

from samverkan.devnet.embedded import EmbeddedPostgres
from samverkan.runtime.auth import Role

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024  # the services here run with this body limit


@dataclass(frozen=True)
class Target:
    """A body-taking endpoint of a service, its caller, a valid body and where strings go."""

    method: str
    path: str
    role: Role
    body: dict[str, Any]
    text_field: str  # a free string field of the body that hostile strings are put in
    function: str | None = None


TARGETS = {
    "directory": Target(
        "POST", "/admin/directory/keys/key-1/revoke", Role.ADMIN, {"reason": "superseded"}, "reason"
    ),
    "referral": Target(
        "POST",
        "/referrals",
        Role.STAFF,
        {
            "need": "medical-psychological",
            "child": {"personnummer": "20120315-1236", "name": "Alva"},
            "reason": "Oro",
            "draft": True,
        },
        "reason",
        function="skolskoterska",
    ),
    "notification": Target(
        "POST",
        "/webhooks/subscriptions",
        Role.ADMIN,
        {"principal": "{me}", "url": "https://hooks.example/x", "event_types": ["x"]},
        "url",
    ),
    "audit": Target("POST", "/audit/search", Role.AUDITOR, {"limit": 5}, "subject"),
}

INJECTIONS = {
    "sql": "x'; DROP TABLE inbox; --",
    "crlf": "a\r\nX-Injected: yes\r\n\r\n<html>",
    "control chars": "a\u0000b\u0007c\u202ed\u200b",
    "very long": "å" * 200_000,
}


@dataclass
class Node:
    me: str
    running: dict[str, Service] = field(default_factory=dict)

    def call(self, service: str, **kw: Any) -> Any:
        target = TARGETS[service]
        headers = {**token(self.me, target.function, target.role), **kw.pop("headers", {})}
        client = self.running[service].client
        return client.request(target.method, target.path, headers=headers, **kw)

    def body(self, service: str, **changes: Any) -> dict[str, Any]:
        body = {
            k: v.format(me=self.me) if isinstance(v, str) else v
            for k, v in TARGETS[service].body.items()
        }
        return {**body, **changes}


@pytest.fixture(scope="module")
async def node(postgres: EmbeddedPostgres | None) -> AsyncIterator[Node]:
    me = unique("kommun")
    databases = functools.partial(make_database, postgres)
    async with services(me, databases, http_max_body_bytes=LIMIT) as running:
        yield Node(me, running)


def problem(r: httpx.Response, status: int, title: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["detail"]
    if title:
        assert body["title"] == title, body
    return body


@pytest.mark.parametrize("service", SERVICES)
async def test_malformed_json_is_an_invalid_request(node: Node, service: str) -> None:
    r = await node.call(
        service, content=b'{"reason": "x",', headers={"content-type": "application/json"}
    )
    body = problem(r, 422, "Invalid request")
    assert body["errors"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("service", SERVICES)
async def test_a_body_that_is_not_json_is_refused(node: Node, service: str) -> None:
    r = await node.call(
        service, content=b"<xml>not json</xml>", headers={"content-type": "text/xml"}
    )
    problem(r, 415, "Unsupported media type")


@pytest.mark.parametrize("service", SERVICES)
async def test_a_body_over_the_limit_is_refused_before_it_is_read(node: Node, service: str) -> None:
    oversized = b'{"x": "' + b"a" * LIMIT + b'"}'
    declared = await node.call(
        service, content=oversized, headers={"content-type": "application/json"}
    )
    assert (
        f"larger than {LIMIT} bytes" in problem(declared, 413, "Request body too large")["detail"]
    )

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the body streams in
        for i in range(0, len(oversized), 8192):
            yield oversized[i : i + 8192]

    chunked = await node.call(
        service, content=chunks(), headers={"content-type": "application/json"}
    )
    problem(chunked, 413, "Request body too large")
    just_fits = await node.call(service, json=node.body(service))
    assert just_fits.status_code < 500 and just_fits.status_code != 413


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", INJECTIONS)
async def test_injection_shaped_strings_are_refused_or_kept_inert(
    node: Node, service: str, kind: str
) -> None:
    field_ = TARGETS[service].text_field
    r = await node.call(service, json=node.body(service, **{field_: INJECTIONS[kind]}))
    assert r.status_code < 500, r.text[:500]
    assert "X-Injected" not in r.headers
    if r.status_code >= 400:
        problem(r, r.status_code)
    inbox = await node.running[service].node.pool.fetchval("SELECT count(*) FROM inbox")
    assert inbox is not None  # the table the SQL-shaped string names is still there


@pytest.mark.parametrize("kind", INJECTIONS)
async def test_injection_shaped_query_parameters_never_fail_the_service(
    node: Node, kind: str
) -> None:
    value = INJECTIONS[kind][:4000]  # a URL is bounded (httpx's too); bodies carry longer ones
    auditor = token(node.me, None, Role.AUDITOR)
    client = node.running["audit"].client
    r = await client.get("/audit/entries", params={"subject": value}, headers=auditor)
    assert r.status_code < 500, r.text[:500]
    if r.status_code >= 400:
        problem(r, r.status_code)
    staff = token(node.me, "skolskoterska", Role.STAFF)
    query = {"principal": value, "function": "uph", "need": "psychosocial"}
    r = await node.running["directory"].client.get("/routing", params=query, headers=staff)
    assert r.status_code < 500, r.text[:500]
    problem(r, r.status_code)


async def test_an_invalid_personnummer_is_refused_without_echoing_it(node: Node) -> None:
    child = {"personnummer": "20120315-1237", "name": "Alva"}
    r = await node.call("referral", json=node.body("referral", child=child))
    body = problem(r, 422, "Invalid request")
    assert body["errors"][0]["location"] == "body.child.personnummer"
    assert "1237" not in r.text
    auditor = token(node.me, None, Role.AUDITOR)
    r = await node.running["audit"].client.post(
        "/audit/search", json={"personnummer": "20120315-1237"}, headers=auditor
    )
    assert problem(r, 422, "Invalid request")["errors"][0]["location"] == "body.personnummer"
    assert "1237" not in r.text
