"""The staff API for referrals on real Postgres: every endpoint, every refusal, authorisation.

Events move between the two nodes through `Harness.deliver` (the real consumer handlers and
inbox, without a broker); test_referral_kafka.py covers the same moves over the real broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from integration.test_referral_harness import (
    CHILD,
    INTAKE,
    NURSE,
    SOCIONOM,
    UPH,
    Harness,
    harness,
)
from support import ThreadHops, unique

from samverkan.devnet.embedded import EmbeddedPostgres
from samverkan.runtime.auth import Role

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def net(postgres: EmbeddedPostgres | None) -> AsyncIterator[Harness]:
    async with harness(postgres, "", unique("school"), unique("region")) as h:
        yield h


def scope(region: str, function: str | None = UPH, **changes: Any) -> dict[str, Any]:
    today = date.today()
    return {
        "recipients": [{"principal": region, "function": function}],
        "purpose": "Bedömning och stöd",
        "data_categories": ["identity", "reason-for-referral"],
        "valid_from": today.isoformat(),
        "valid_until": (today + timedelta(days=60)).isoformat(),
        **changes,
    }


async def give_consent(net: Harness, function: str | None = UPH, **changes: Any) -> str:
    body = {
        "child": CHILD,
        "scope": scope(net.region.principal, function, **changes),
        "decided_by": "child-and-guardians",
        "guardians_consenting": 2,
    }
    r = await net.school.client.post("/consents", json=body, headers=net.school.as_(NURSE))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def send(net: Harness, **body: Any) -> httpx.Response:
    payload = {"need": "medical-psychological", "child": CHILD, "reason": "Oro", **body}
    return await net.school.client.post("/referrals", json=payload, headers=net.school.as_(NURSE))


async def sent_and_received(net: Harness, function: str | None = UPH) -> str:
    r = await send(net, consent_id=await give_consent(net, function))
    assert r.status_code == 201, r.text
    await net.deliver()
    return r.json()["id"]


async def uph(net: Harness, method: str, path: str, **kw: Any) -> httpx.Response:
    return await net.region.client.request(method, path, headers=net.region.as_(UPH), **kw)


async def nurse(net: Harness, method: str, path: str, **kw: Any) -> httpx.Response:
    return await net.school.client.request(method, path, headers=net.school.as_(NURSE), **kw)


def problem(r: httpx.Response, status: int, title: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["title"] == title and body["status"] == status and body["detail"]
    return body


async def test_a_referral_is_sent_only_under_a_covering_consent(net: Harness) -> None:
    problem(await send(net), 422, "Missing consent")
    unknown = problem(
        await send(net, consent_id="0b9d5c3e-5f0a-4c1e-9a51-3f3a6a2d7e01"), 422, "Missing consent"
    )
    assert "no consent" in unknown["detail"]
    elsewhere = await give_consent(net, SOCIONOM)
    detail = problem(await send(net, consent_id=elsewhere), 422, "Missing consent")["detail"]
    assert f"does not cover {net.region.principal}/{UPH}" in detail
    other_child = {"personnummer": "20100101-0006", "name": "Annan"}
    covering = await give_consent(net)
    r = await send(net, consent_id=covering, child=other_child)
    assert "another child" in problem(r, 422, "Missing consent")["detail"]
    r = await send(net, consent_id=covering)
    assert r.status_code == 201, r.text
    view = r.json()
    assert (view["status"], view["consent_id"], view["recipient"]["function"]) == (
        "requested",
        covering,
        UPH,
    )
    assert "child" not in view  # answers to POSTs carry no personal content
    sent = [e for e in await net.school.outbox("referral.sent.v1") if str(e.subject) == view["id"]]
    assert sent[0].recipientprincipal == net.region.principal
    assert sent[0].data.consent.consent_id is not None  # type: ignore[attr-defined]


async def test_an_inline_consent_is_recorded_for_exactly_that_referral(net: Harness) -> None:
    statement = {
        "decided_by": "child",
        "purpose": "stöd",
        "given_at": datetime.now(UTC).isoformat(),
    }
    r = await send(net, consent=statement)
    assert r.status_code == 201, r.text
    consent = await nurse(net, "GET", f"/consents/{r.json()['consent_id']}")
    assert consent.json()["scope"]["recipients"] == [
        {"principal": net.region.principal, "function": UPH}
    ]


async def test_invalid_personnummer_and_no_counterpart_are_refused(net: Harness) -> None:
    bad = {"personnummer": "20120315-1237", "name": "Alva"}
    body = problem(await send(net, child=bad, draft=True), 422, "Invalid request")
    assert body["errors"][0]["location"] == "body.child.personnummer"
    assert "check digit" in body["errors"][0]["message"] and "1237" not in str(body)
    r = await send(net, need="psychosocial", draft=True)
    assert "no formalised contact" in problem(r, 422, "No counterpart")["detail"]


async def test_the_whole_way_from_request_to_completion(net: Harness) -> None:
    rid = await sent_and_received(net)
    mine = await nurse(net, "GET", f"/referrals/{rid}")
    assert mine.json()["status"] == "received"  # the technical receipt, no person involved
    steps = [
        ("accept", {}, "accepted", None),
        (
            "contacts",
            {
                "kind": "first-visit",
                "mode": "video",
                "starts_at": "2026-12-01T09:00:00Z",
                "duration_minutes": 45,
                "participants": ["child", "guardians"],
                "video_link": "https://video.example/m/1",
            },
            "in-progress",
            "scheduled",
        ),
        ("hold", {"reason_code": "sjukdom", "until": "2026-12-10"}, "on-hold", None),
        ("resume", {}, "in-progress", None),
    ]
    for path, body, status, sub in steps:
        r = await uph(net, "POST", f"/referrals/{rid}/{path}", json=body)
        assert (r.status_code, r.json()["status"], r.json()["sub_status"]) == (200, status, sub)
    contact = (await uph(net, "GET", f"/referrals/{rid}")).json()["contacts"][0]["contact_id"]
    r = await uph(net, "POST", f"/referrals/{rid}/contacts/{contact}/no-show")
    assert r.json()["sub_status"] == "no-show"
    problem(await uph(net, "POST", f"/referrals/{rid}/complete", json={}), 422, "Invalid request")
    r = await uph(net, "POST", f"/referrals/{rid}/complete", json={"outcome": "sip-initiated"})
    assert r.json()["status"] == "completed"
    await net.deliver()
    view = (await nurse(net, "GET", f"/referrals/{rid}")).json()
    assert (view["status"], view["outcome"], view["decided_by"]) == (
        "completed",
        "sip-initiated",
        "SE2120001231-uph1",
    )
    assert [h["action"] for h in view["history"]][-3:] == ["resume", "no-show", "complete"]
    body = problem(await uph(net, "POST", f"/referrals/{rid}/accept"), 409, "Illegal transition")
    assert "completed" in body["detail"]


async def test_rejection_needs_a_reason_and_a_closed_referral_is_reopened_anew(
    net: Harness,
) -> None:
    rid = await sent_and_received(net)
    r = await uph(net, "POST", f"/referrals/{rid}/reject", json={"reason_code": "fel-niva"})
    problem(r, 422, "Invalid request")
    body = {"reason_code": "fel-niva", "reason_text": "Behöver specialistvård"}
    assert (await uph(net, "POST", f"/referrals/{rid}/reject", json=body)).status_code == 200
    await net.deliver()
    assert (await nurse(net, "GET", f"/referrals/{rid}")).json()["rejection_code"] == "fel-niva"
    problem(
        await uph(net, "POST", f"/referrals/{rid}/reopen", json={"reason": "x"}), 403, "Not allowed"
    )
    r = await nurse(net, "POST", f"/referrals/{rid}/reopen", json={"reason": "Ny bedömning"})
    assert r.status_code == 201 and r.json()["status"] == "draft", r.text
    new = r.json()["id"]
    await net.deliver()
    for side, who in ((net.school, nurse), (net.region, uph)):
        assert (await who(net, "GET", f"/referrals/{rid}")).json()["superseded_by"] == new, side
    problem(
        await nurse(net, "POST", f"/referrals/{rid}/reopen", json={"reason": "y"}),
        409,
        "Illegal transition",
    )


async def test_a_failed_referral_tells_the_sender(net: Harness) -> None:
    rid = await sent_and_received(net)
    await uph(net, "POST", f"/referrals/{rid}/accept")
    problem(
        await uph(net, "POST", f"/referrals/{rid}/fail", json={"reason_code": "ej-nadd"}),
        409,
        "Illegal transition",
    )
    await uph(
        net,
        "POST",
        f"/referrals/{rid}/contacts",
        json={
            "kind": "visit",
            "mode": "phone",
            "starts_at": "2026-12-01T09:00:00Z",
            "duration_minutes": 30,
            "participants": ["child"],
        },
    )
    r = await uph(net, "POST", f"/referrals/{rid}/fail", json={"reason_code": "ej-nadd"})
    assert r.json()["status"] == "failed"
    await net.deliver()
    assert (await nurse(net, "GET", f"/referrals/{rid}")).json()["status"] == "failed"


async def test_the_sender_asks_to_cancel_and_the_recipient_confirms(net: Harness) -> None:
    rid = await sent_and_received(net)
    problem(await uph(net, "POST", f"/referrals/{rid}/cancel"), 409, "Illegal transition")
    r = await uph(
        net, "POST", f"/referrals/{rid}/cancellation-request", json={"reason_code": "xyz"}
    )
    problem(r, 403, "Not allowed")
    r = await nurse(
        net,
        "POST",
        f"/referrals/{rid}/cancellation-request",
        json={"reason_code": "flyttat", "reason_text": "Familjen har flyttat"},
    )
    assert r.json()["sub_status"] == "cancellation-requested"
    await net.deliver()
    assert (await uph(net, "POST", f"/referrals/{rid}/cancel")).json()["status"] == "cancelled"
    await net.deliver()
    view = (await nurse(net, "GET", f"/referrals/{rid}")).json()
    assert (view["status"], view["cancellation"]) == ("cancelled", "requested-by-sender")


async def test_a_draft_awaits_consent_then_is_sent_or_withdrawn(net: Harness) -> None:
    r = await send(net, draft=True)
    assert (r.json()["status"], r.json()["sub_status"]) == ("draft", "awaiting-consent")
    draft = r.json()["id"]
    assert not [e for e in await net.school.outbox() if e.subject == draft]  # nothing left
    problem(await nurse(net, "POST", f"/referrals/{draft}/send", json={}), 422, "Missing consent")
    r = await nurse(
        net, "POST", f"/referrals/{draft}/send", json={"consent_id": await give_consent(net)}
    )
    assert r.json()["status"] == "requested"
    other = (await send(net, draft=True)).json()["id"]
    assert (await nurse(net, "POST", f"/referrals/{other}/withdraw")).json()[
        "status"
    ] == "cancelled"
    problem(await nurse(net, "POST", f"/referrals/{draft}/withdraw"), 409, "Illegal transition")


async def test_forwarding_within_the_consent_creates_a_superseding_referral(net: Harness) -> None:
    rid = await sent_and_received(net, function=None)  # the whole region is in scope
    unknown = {
        "to": {"principal": net.region.principal, "function": "finns-ej"},
        "reason_text": "x",
    }
    problem(
        await uph(net, "POST", f"/referrals/{rid}/forward", json=unknown), 422, "Unknown recipient"
    )
    outside = {"to": {"principal": net.school.principal, "function": INTAKE}, "reason_text": "x"}
    problem(
        await uph(net, "POST", f"/referrals/{rid}/forward", json=outside), 422, "Missing consent"
    )
    body = {
        "to": {"principal": net.region.principal, "function": SOCIONOM},
        "reason_text": "Psykosocialt behov",
    }
    r = await uph(net, "POST", f"/referrals/{rid}/forward", json=body)
    assert r.status_code == 201, r.text
    new = r.json()
    assert (new["forwarded_from"], new["status"], new["sender"]["function"]) == (
        rid,
        "requested",
        UPH,
    )
    await net.deliver()
    socionom = net.region.as_(SOCIONOM)
    inbox = await net.region.client.get("/referrals", headers=socionom)
    assert [i["id"] for i in inbox.json()["items"]] == [new["id"]]
    got = (await net.region.client.get(f"/referrals/{new['id']}", headers=socionom)).json()
    assert (got["direction"], got["status"], got["child"]["name"]) == (
        "incoming",
        "received",
        CHILD["name"],
    )
    original = (await nurse(net, "GET", f"/referrals/{rid}")).json()
    assert (original["status"], original["sub_status"], original["superseded_by"]) == (
        "cancelled",
        "superseded",
        new["id"],
    )
    superseded = await net.school.outbox("referral.superseded.v1")
    assert any(str(e.data.superseded_by) == new["id"] for e in superseded)  # type: ignore[attr-defined]


async def test_authorisation_matrix(net: Harness) -> None:
    rid = await sent_and_received(net)
    region, client = net.region.principal, net.region.client
    paths = [("GET", f"/referrals/{rid}"), ("POST", f"/referrals/{rid}/accept")]
    cases: list[tuple[dict[str, str], int]] = [
        ({}, 401),
        (net.region.as_(UPH, ttl=timedelta(seconds=-30)), 401),
        ({"Authorization": "Bearer not-a-jwt"}, 401),
        (net.school.as_(NURSE), 403),  # another principal's token
        (net.region.as_(None), 403),  # staff must act in a function
        (net.region.as_(UPH, roles=(Role.ADMIN,)), 403),
        (net.region.as_(SOCIONOM), 404),  # wrong function: it is not addressed to it
    ]
    for method, path in paths:
        for headers, status in cases:
            r = await client.request(method, path, headers=headers)
            assert r.status_code == status, (method, path, headers, r.text)
            assert r.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/referrals/{rid}", headers=net.region.as_(UPH))).status_code == 200
    r = await client.post(f"/referrals/{rid}/accept", headers=net.region.as_(UPH))
    assert (r.status_code, r.json()["status"]) == (200, "accepted")
    listed = await client.get("/referrals", headers=net.region.as_(SOCIONOM))
    assert rid not in {i["id"] for i in listed.json()["items"]}
    wrong_side = await net.school.client.post(
        f"/referrals/{rid}/accept", headers=net.school.as_(NURSE)
    )
    problem(wrong_side, 403, "Not allowed")
    assert region != net.school.principal


async def test_inbox_and_outbox_filter_by_status_and_page(net: Harness) -> None:
    ids = [await sent_and_received(net) for _ in range(3)]
    await uph(net, "POST", f"/referrals/{ids[0]}/accept")
    accepted = await uph(net, "GET", "/referrals", params={"status": "accepted"})
    assert ids[0] in {i["id"] for i in accepted.json()["items"]}
    assert all(i["status"] == "accepted" for i in accepted.json()["items"])
    both = await uph(
        net, "GET", "/referrals", params=[("status", "received"), ("status", "accepted")]
    )
    total = both.json()["total"]
    pages = [
        (
            await uph(
                net,
                "GET",
                "/referrals",
                params=[
                    ("status", "received"),
                    ("status", "accepted"),
                    ("limit", 2),
                    ("offset", o),
                ],
            )
        ).json()
        for o in range(0, total, 2)
    ]
    seen = [i["id"] for p in pages for i in p["items"]]
    assert len(seen) == len(set(seen)) == total and set(ids) <= set(seen)
    assert all("child" not in i and "reason" not in i for i in pages[0]["items"])
    sent = await nurse(net, "GET", "/referrals", params={"box": "sent", "limit": 1})
    assert sent.json()["limit"] == 1 and len(sent.json()["items"]) == 1
    assert sent.json()["items"][0]["direction"] == "outgoing"
    problem(await nurse(net, "GET", "/referrals", params={"limit": 0}), 422, "Invalid request")


async def test_every_read_of_personal_content_is_access_logged(net: Harness) -> None:
    rid = await sent_and_received(net)
    before = len(await net.region.outbox("audit.access-logged.v1"))
    await uph(net, "GET", "/referrals")
    assert len(await net.region.outbox("audit.access-logged.v1")) == before  # lists: no content
    await uph(net, "GET", f"/referrals/{rid}")
    logged = (await net.region.outbox("audit.access-logged.v1"))[before:]
    assert len(logged) == 1
    entry = logged[0]
    assert (str(entry.data.resource_id), entry.data.resource_type) == (rid, "referral")  # type: ignore[attr-defined]
    assert entry.data.function.function == UPH and entry.recipientprincipal == net.region.principal  # type: ignore[attr-defined]
    assert CHILD["name"] not in entry.value().decode()


async def test_idempotency_key_replays_and_refuses_reuse(net: Harness) -> None:
    consent = await give_consent(net)
    payload = {
        "need": "medical-psychological",
        "child": CHILD,
        "reason": "Oro",
        "consent_id": consent,
    }
    headers = {**net.school.as_(NURSE), "Idempotency-Key": unique("key")}
    first = await net.school.client.post("/referrals", json=payload, headers=headers)
    again = await net.school.client.post("/referrals", json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    rows = await net.school.node.pool.fetchval(
        "SELECT count(*) FROM referrals WHERE consent_id = $1", consent
    )
    assert rows == 1
    other = await net.school.client.post(
        "/referrals", json={**payload, "reason": "Annan"}, headers=headers
    )
    problem(other, 422, "Idempotency key reused")
    someone_else = {
        **net.school.as_(NURSE, person="SE2120001231-other"),
        "Idempotency-Key": headers["Idempotency-Key"],
    }
    r = await net.school.client.post("/referrals", json=payload, headers=someone_else)
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]  # keys are per caller
    await net.deliver()
    rid = first.json()["id"]
    accept = {**net.region.as_(UPH), "Idempotency-Key": unique("key")}
    one = await net.region.client.post(f"/referrals/{rid}/accept", headers=accept)
    two = await net.region.client.post(f"/referrals/{rid}/accept", headers=accept)
    assert (one.status_code, two.status_code) == (200, 200)  # the retry is not a 409
    assert (
        len([e for e in await net.region.outbox("referral.accepted.v1") if str(e.subject) == rid])
        == 1
    )
    long_key = {**net.region.as_(UPH), "Idempotency-Key": "k" * 300}
    problem(
        await net.region.client.post(f"/referrals/{rid}/resume", headers=long_key),
        422,
        "Invalid idempotency key",
    )


async def test_requests_take_no_worker_thread(
    net: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI runs a synchronous dependency (or endpoint) on a worker thread: a hop there and
    back on every request. Authentication, the staff member and the context are all async."""
    hops = ThreadHops(monkeypatch)
    referral = await sent_and_received(net)  # a consent and a referral posted, as staff
    assert (await uph(net, "GET", f"/referrals/{referral}")).status_code == 200
    assert (await uph(net, "POST", f"/referrals/{referral}/accept")).status_code == 200
    assert hops.count == 0
