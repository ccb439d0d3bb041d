"""Who may call what: every endpoint of every service against every kind of caller.

The table has one row per endpoint; `test_every_endpoint_has_a_row` fails when a service gains an
endpoint without one. Each row is called by eight identities: no token, an expired token, a token
signed with another key, a token of another principal, staff of another function (or of the wrong
role), an auditor, an admin, and the right caller. Refusals (401, 403) are problem+json and leak
nothing of the resources; the right caller gets the row's own answer, never 401 or 403.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any
from uuid import uuid4

import httpx
import pytest
from integration.node_services import PUBLIC, build, endpoints, services
from integration.test_directory_service import dataset
from integration.test_referral_api import give_consent, send
from integration.test_referral_harness import (
    CHILD,
    INTAKE,
    NURSE,
    UPH,
    Harness,
    harness,
    make_database,
)
from support import SECRET, unique

from samverkan.devnet.embedded import EmbeddedPostgres
from samverkan.runtime.auth import Role, issue_token

pytestmark = pytest.mark.integration

OTHER_FUNCTION = "kurator"  # staff of a function no resource here is for
ANOTHER_KEY = "another-issuer-secret-not-ours-0123456789"


class Identity(StrEnum):
    ANONYMOUS = "no token"
    EXPIRED = "expired token"
    FORGED = "token signed with another key"
    FOREIGN = "token of another principal"
    OTHER_FUNCTION = "other function or wrong role"
    AUDITOR = "auditor"
    ADMIN = "admin"
    RIGHT = "the right caller"


@dataclass(frozen=True)
class Row:
    """One endpoint: the role it needs, whose node is called, and what the right caller gets."""

    service: str
    method: str
    path: str
    role: Role
    ok: int
    other: int = 403  # staff of OTHER_FUNCTION, on staff routes (e.g. 404: not addressed to it)
    function: str | None = None  # the right caller's function, on staff routes
    at: str = "region"  # the referral service runs at the school and at the region
    body: dict[str, Any] | str | None = None  # a str names a body the fixture makes
    query: dict[str, Any] | None = None
    draft: bool = False  # {referral_id} is the school's draft, not the sent referral

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    def expected(self, identity: Identity) -> int:
        if identity in (Identity.ANONYMOUS, Identity.EXPIRED, Identity.FORGED):
            return 401
        if identity is Identity.OTHER_FUNCTION and self.role is Role.STAFF:
            return self.other
        if identity is Identity.RIGHT or identity.value == self.role.value:
            return self.ok
        return 403


def _staff(path: str, method: str, ok: int, function: str, other: int = 404, **kw: Any) -> Row:
    return Row("referral", method, path, Role.STAFF, ok, other, function, **kw)


def _region(path: str, method: str, ok: int, **kw: Any) -> Row:
    return _staff(path, method, ok, UPH, at="region", **kw)


def _school(path: str, method: str, ok: int, **kw: Any) -> Row:
    return _staff(path, method, ok, kw.pop("function", NURSE), at="school", **kw)


SCHEDULE = {
    "kind": "first-visit",
    "mode": "phone",
    "starts_at": "2026-12-01T09:00:00Z",
    "duration_minutes": 30,
    "participants": ["child"],
}
DRAFT = {"need": "medical-psychological", "child": CHILD, "reason": "Oro", "draft": True}
CONCERN = {"child": CHILD, "concern": "Oro", "guardians_informed": True}  # + recipient
ASK = {"need": "medical-psychological", "question": "Hur stöttar vi en elev med oro?"}
REFERRAL = "/referrals/{referral_id}"

# In order: rows change state (the referral is accepted before it is put on hold, …).
ROWS: list[Row] = [
    # The referral at the region (recipient): its moves, in the order of its life.
    _region("/referrals", "GET", 200, other=200),
    _region(REFERRAL, "GET", 200),
    _region(f"{REFERRAL}/accept", "POST", 200),
    _region(f"{REFERRAL}/contacts", "POST", 200, body=SCHEDULE),
    _region(f"{REFERRAL}/contacts/{{contact_id}}/no-show", "POST", 409),
    _region(f"{REFERRAL}/hold", "POST", 200, body={"reason_code": "sjukdom"}),
    _region(f"{REFERRAL}/resume", "POST", 200),
    _region(
        f"{REFERRAL}/reject", "POST", 409, body={"reason_code": "fel-niva", "reason_text": "y"}
    ),
    _region(f"{REFERRAL}/cancel", "POST", 409),
    _region(f"{REFERRAL}/complete", "POST", 200, body={"outcome": "sip-initiated"}),
    _region(f"{REFERRAL}/fail", "POST", 409, body={"reason_code": "ej-nadd"}),
    _region(
        f"{REFERRAL}/forward",
        "POST",
        409,
        body={"to": {"principal": "{region}", "function": "socionom"}, "reason_text": "x"},
    ),
    _region(
        "/consultations/{consultation_id}/answer",
        "POST",
        200,
        body={
            "answer": "Ring oss.",
            "referral_suggested": False,
        },
    ),
    # At the school (sender): drafts, its side of the referral, consents, concerns, consultations.
    _school("/referrals", "POST", 201, other=422, body=DRAFT),
    _school(f"{REFERRAL}/send", "POST", 422, body={}, draft=True),
    _school(f"{REFERRAL}/withdraw", "POST", 200, draft=True),
    _school(f"{REFERRAL}/cancellation-request", "POST", 200, body={"reason_code": "flyttat"}),
    _school(f"{REFERRAL}/reopen", "POST", 409, body={"reason": "Ny bedömning"}),
    _school("/consents", "GET", 200, other=200),
    _school("/consents/{consent_id}", "GET", 200),
    _school("/consents/{consent_id}/withdraw", "POST", 200, body={"withdrawn_by": "guardians"}),
    _school("/concerns", "GET", 200, other=200),
    _school("/concerns/{report_id}", "GET", 200),
    _school(
        "/concerns/{report_id}/feedback",
        "POST",
        200,
        function=INTAKE,
        body={"decision": "investigation-opened"},
    ),
    _school("/consultations", "POST", 201, other=422, body=ASK),
    _school("/consultations", "GET", 200, other=200),
    _school("/consultations/{consultation_id}", "GET", 200),
    # Filled in the fixture: a consent and a concern need a body naming this run's principals.
    _school("/consents", "POST", 201, other=201, body="consent"),
    _school("/concerns", "POST", 201, other=201, body="concern"),
    # The directory: the admin's document and keys; staff ask who their counterpart is.
    Row("directory", "PUT", "/admin/directory", Role.ADMIN, 200, body="directory"),
    Row("directory", "GET", "/admin/directory", Role.ADMIN, 200),
    Row("directory", "POST", "/admin/directory/republish", Role.ADMIN, 200),
    Row("directory", "GET", "/admin/directory/proposals", Role.ADMIN, 200),
    Row(
        "directory",
        "POST",
        "/admin/directory/keys/{key_id}/revoke",
        Role.ADMIN,
        422,
        body={"reason": "superseded"},
    ),
    Row(
        "directory",
        "GET",
        "/routing",
        Role.STAFF,
        404,
        other=404,
        function=UPH,
        query={"principal": "{school}", "function": NURSE, "need": "psychosocial"},
    ),
    # Notification: the admin's webhook subscriptions and delivery logs.
    Row(
        "notification",
        "POST",
        "/webhooks/subscriptions",
        Role.ADMIN,
        201,
        body={
            "principal": "{region}",
            "url": "https://hooks.example/samverkan",
            "event_types": ["se.samverkan.referral.sent.v1"],
        },
    ),
    Row("notification", "GET", "/webhooks/subscriptions", Role.ADMIN, 200),
    Row("notification", "GET", "/webhooks/subscriptions/{subscription_id}", Role.ADMIN, 200),
    Row(
        "notification",
        "GET",
        "/webhooks/subscriptions/{subscription_id}/deliveries",
        Role.ADMIN,
        200,
    ),
    Row("notification", "DELETE", "/webhooks/subscriptions/{subscription_id}", Role.ADMIN, 204),
    Row("notification", "GET", "/mail/deliveries", Role.ADMIN, 200),
    # Audit: auditors only.
    Row("audit", "GET", "/audit/entries", Role.AUDITOR, 200),
    Row("audit", "POST", "/audit/search", Role.AUDITOR, 200, body={}),
    Row("audit", "POST", "/audit/export", Role.AUDITOR, 200, body={}),
    Row("audit", "GET", "/audit/verify", Role.AUDITOR, 200),
    Row("audit", "GET", "/audit/checkpoint", Role.AUDITOR, 200),
    Row(
        "audit",
        "GET",
        "/audit/proofs/inclusion",
        Role.AUDITOR,
        200,
        query={"index": 0, "tree_size": 1},
    ),
    Row(
        "audit",
        "GET",
        "/audit/proofs/consistency",
        Role.AUDITOR,
        200,
        query={"first": 0, "second": 0},
    ),
]


@dataclass
class World:
    """Both referral nodes, the region's other services, and the resources the rows act on."""

    net: Harness
    clients: dict[str, httpx.AsyncClient]
    ids: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def principal(self, row: Row) -> str:
        return self.net.school.principal if row.at == "school" else self.net.region.principal

    def client(self, row: Row) -> httpx.AsyncClient:
        if row.service == "referral":
            return (self.net.school if row.at == "school" else self.net.region).client
        return self.clients[row.service]

    def fill(self, value: Any) -> Any:
        """The row's placeholders ({referral_id}, {region}, …) with this run's ids."""
        if isinstance(value, str):
            return value.format(**self.ids)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def headers(self, identity: Identity, row: Row) -> dict[str, str]:
        principal, function = self.principal(row), row.function
        roles, secret, ttl = [row.role], SECRET, timedelta(minutes=10)
        match identity:
            case Identity.ANONYMOUS:
                return {}
            case Identity.EXPIRED:
                ttl = timedelta(seconds=-30)
            case Identity.FORGED:
                secret = ANOTHER_KEY
            case Identity.FOREIGN:
                principal = unique("elsewhere")
            case Identity.OTHER_FUNCTION:
                roles, function = [Role.STAFF], OTHER_FUNCTION
            case Identity.AUDITOR | Identity.ADMIN:
                roles, function = [Role(identity.value)], None
        jwt = issue_token(
            secret,
            person="SE2120001231-matrix",
            principal=principal,
            function=function,
            roles=roles,
            ttl=ttl,
        )
        return {"Authorization": f"Bearer {jwt}"}

    def path(self, row: Row) -> str:
        draft = {"referral_id": self.ids["draft_id"]} if row.draft else {}
        return row.path.format(**{**self.ids, **draft})

    def body(self, row: Row) -> Any:
        return self.bodies[row.body] if isinstance(row.body, str) else self.fill(row.body)


def _consent(region: str) -> dict[str, Any]:
    scope = {
        "recipients": [{"principal": region, "function": UPH}],
        "purpose": "Bedömning och stöd",
        "data_categories": ["identity"],
        "valid_from": "2025-01-01",
        "valid_until": "2099-01-01",
    }
    return {
        "child": CHILD,
        "scope": scope,
        "decided_by": "child-and-guardians",
        "guardians_consenting": 2,
    }


@pytest.fixture(scope="module")
async def world(postgres: EmbeddedPostgres | None) -> AsyncIterator[World]:
    school, region = unique("school"), unique("region")
    databases = functools.partial(make_database, postgres)
    names = ("directory", "notification", "audit")
    async with (
        harness(postgres, "", school, region) as net,
        services(region, databases, names=names) as others,
    ):
        world = World(net, {name: s.client for name, s in others.items()})
        world.ids.update(school=school, region=region, contact_id=str(uuid4()), key_id="no-such")
        world.ids["referral_id"] = (await send(net, consent_id=await give_consent(net))).json()[
            "id"
        ]
        world.ids["draft_id"] = (await send(net, draft=True)).json()["id"]
        world.ids["consent_id"] = await give_consent(net)
        nurse = net.school.as_(NURSE)
        concern = {**CONCERN, "recipient": {"principal": school, "function": INTAKE}}
        r = await net.school.client.post("/concerns", json=concern, headers=nurse)
        world.ids["report_id"] = r.json()["id"]
        r = await net.school.client.post("/consultations", json=ASK, headers=nurse)
        world.ids["consultation_id"] = r.json()["id"]
        await net.deliver()
        world.bodies.update(
            consent=_consent(region),
            concern=concern,
            directory=dataset(
                {"vastra-regionen": region, "sjostad-kommun": school}, "vastra-regionen"
            ),
        )
        [subscribe] = [
            r for r in ROWS if r.path == "/webhooks/subscriptions" and r.method == "POST"
        ]
        r = await world.clients["notification"].post(
            subscribe.path,
            json=world.body(subscribe),
            headers=world.headers(Identity.RIGHT, subscribe),
        )
        world.ids["subscription_id"] = r.json()["id"]
        yield world


def test_every_endpoint_has_a_row() -> None:
    """A new endpoint without a row fails here; so does a row for an endpoint that is gone."""
    tabled = {(r.service, r.method, r.path) for r in ROWS}
    served = set()
    for service in ("directory", "referral", "notification", "audit"):
        _, app = build(service, principal="matrix-check", dsn="postgresql://unused/x", kafka="x:1")
        served |= {(service, m, p) for m, p in endpoints(app) if (m, p) not in PUBLIC}
    assert not served - tabled, f"endpoints without a row: {sorted(served - tabled)}"
    assert not tabled - served, f"rows for no endpoint: {sorted(tabled - served)}"
    assert len(ROWS) == len(tabled), "an endpoint has two rows"


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_authorisation(world: World, row: Row) -> None:
    client, path = world.client(row), world.path(row)
    body, query = world.body(row), world.fill(row.query)
    # What the caller did not name itself must not come back to it.
    secrets = [v for k, v in world.ids.items() if k.endswith("_id") and v not in path]
    secrets.append(CHILD["name"])
    for identity in Identity:
        if identity.value == row.role.value:
            continue  # the admin (or auditor) of an admin (auditor) route is the right caller
        r = await client.request(
            row.method, path, json=body, params=query, headers=world.headers(identity, row)
        )
        expected = row.expected(identity)
        assert r.status_code == expected, f"{identity}: {r.status_code} {r.text[:300]}"
        if expected in (401, 403):
            assert r.headers["content-type"] == "application/problem+json", identity
            problem = r.json()
            assert problem["status"] == expected and problem["title"] and problem["detail"]
        if identity is not Identity.RIGHT and r.content:
            shown = r.json()
            if isinstance(shown, dict):
                shown.pop("instance", None)  # the request's own path
            leaked = [s for s in secrets if s in str(shown)]
            assert not leaked, f"{identity} was shown {leaked}"
