"""Consents on real Postgres: recording, reading, withdrawal and expiry reaching the recipient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from integration.test_referral_api import give_consent, problem, send
from integration.test_referral_harness import CHILD, NURSE, UPH, Harness, harness
from support import eventually, unique

from samverkan.devnet.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def net(postgres: EmbeddedPostgres | None) -> AsyncIterator[Harness]:
    async with harness(postgres, "", unique("school"), unique("region")) as h:
        yield h


def consent_body(net: Harness, **changes: Any) -> dict[str, Any]:
    today = date.today()
    return {
        "child": CHILD,
        "scope": {
            "recipients": [{"principal": net.region.principal, "function": UPH}],
            "purpose": "Bedömning",
            "data_categories": ["identity", "reason-for-referral", "health"],
            "valid_from": today.isoformat(),
            "valid_until": (today + timedelta(days=30)).isoformat(),
        },
        "decided_by": "child",
        "guardians_consenting": 0,
        "maturity": {"child_age": 15, "mature_enough_to_decide": True, "assessed_by": "SE1-sk"},
        **changes,
    }


async def test_a_consent_records_who_decided_and_reaches_its_recipients(net: Harness) -> None:
    post = net.school.client.post
    r = await post(
        "/consents", json=consent_body(net, maturity=None), headers=net.school.as_(NURSE)
    )
    assert "maturity" in problem(r, 422, "Invalid consent")["detail"]
    r = await post("/consents", json=consent_body(net), headers=net.school.as_(NURSE))
    assert r.status_code == 201 and "child" not in r.json()
    cid = r.json()["id"]
    given = [e for e in await net.school.outbox("consent.given.v1") if e.subject == cid]
    assert [e.recipientprincipal for e in given] == [net.region.principal]
    await net.deliver()
    copy = await net.region.node.pool.fetchrow(
        "SELECT held_here, state FROM consents WHERE id = $1", given[0].data.consent_id
    )  # type: ignore[attr-defined]
    assert dict(copy) == {"held_here": False, "state": "active"}
    view = (await net.school.client.get(f"/consents/{cid}", headers=net.school.as_(NURSE))).json()
    assert view["maturity"]["mature_enough_to_decide"] and view["decided_by"] == "child"
    logged = await net.school.outbox("audit.access-logged.v1")
    assert any(e.data.resource_type == "consent" and str(e.data.resource_id) == cid for e in logged)  # type: ignore[attr-defined]
    other = net.school.as_("skolkurator")
    problem(await net.school.client.get(f"/consents/{cid}", headers=other), 404, "Not found")
    listed = await net.school.client.get("/consents", headers=net.school.as_(NURSE))
    assert cid in {c["id"] for c in listed.json()["items"]}


async def test_withdrawal_cancels_and_purges_the_recipients_copy(net: Harness) -> None:
    cid = await give_consent(net)
    rid = (await send(net, consent_id=cid)).json()["id"]
    await net.deliver()
    uph, nurse = net.region.as_(UPH), net.school.as_(NURSE)
    await net.region.client.post(f"/referrals/{rid}/accept", headers=uph)
    await net.deliver()
    r = await net.school.client.post(
        f"/consents/{cid}/withdraw",
        json={"withdrawn_by": "guardians"},
        headers=net.school.as_("skolkurator"),
    )
    problem(r, 404, "Not found")
    r = await net.school.client.post(
        f"/consents/{cid}/withdraw", json={"withdrawn_by": "guardians"}, headers=nurse
    )
    assert r.json()["state"] == "withdrawn"
    await net.deliver()
    theirs = (await net.region.client.get(f"/referrals/{rid}", headers=uph)).json()
    assert (theirs["status"], theirs["sub_status"], theirs["cancellation"]) == (
        "cancelled",
        "consent-withdrawn",
        "consent-withdrawn",
    )
    assert theirs["child"] is None and theirs["reason"] is None and theirs["purged_at"]
    assert theirs["id"] == rid and theirs["sent_at"] and theirs["history"]  # the tombstone
    stored = await net.region.node.pool.fetchrow(
        "SELECT child, reason FROM referrals WHERE id = $1::uuid", rid
    )
    assert dict(stored) == {"child": None, "reason": None}
    problem(
        await net.region.client.post(
            f"/referrals/{rid}/contacts",
            headers=uph,
            json={
                "kind": "visit",
                "mode": "phone",
                "starts_at": "2026-12-01T09:00:00Z",
                "duration_minutes": 30,
                "participants": ["child"],
            },
        ),
        409,
        "Illegal transition",
    )
    mine = (await net.school.client.get(f"/referrals/{rid}", headers=nurse)).json()
    assert (mine["status"], mine["cancellation"], mine["child"]["name"]) == (
        "cancelled",
        "consent-withdrawn",
        CHILD["name"],
    )
    problem(
        await net.school.client.post(
            f"/consents/{cid}/withdraw", json={"withdrawn_by": "child"}, headers=nurse
        ),
        409,
        "Illegal transition",
    )
    problem(await send(net, consent_id=cid), 422, "Missing consent")


async def test_a_withdrawal_that_overtakes_its_referral_still_purges_it(net: Harness) -> None:
    cid = await give_consent(net)
    rid = (await send(net, consent_id=cid)).json()["id"]
    await net.school.client.post(
        f"/consents/{cid}/withdraw", json={"withdrawn_by": "child"}, headers=net.school.as_(NURSE)
    )
    # Deliver only the withdrawal first: the two travel on different topics, in any order.
    withdrawal = (await net.school.outbox("consent.withdrawn.v1"))[-1]
    async with net.region.node.uow() as tx:
        await net.region.handlers[withdrawal.type](tx, withdrawal)
    await net.deliver()
    theirs = (await net.region.client.get(f"/referrals/{rid}", headers=net.region.as_(UPH))).json()
    assert (theirs["status"], theirs["child"]) == ("cancelled", None)
    mine = (await net.school.client.get(f"/referrals/{rid}", headers=net.school.as_(NURSE))).json()
    assert mine["status"] == "cancelled"


async def test_expiry_works_like_withdrawal(net: Harness) -> None:
    today = date.today()
    cid = await give_consent(net, valid_until=(today + timedelta(days=1)).isoformat())
    rid = (await send(net, consent_id=cid)).json()["id"]
    await net.deliver()
    net.clock.advance(timedelta(days=3))
    try:

        async def expired() -> bool:
            r = await net.school.client.get(f"/consents/{cid}", headers=net.school.as_(NURSE))
            return r.json()["state"] == "expired"

        await eventually("the expiry loop to expire the consent", expired)  # it runs every 0.2 s
        await net.deliver()
        theirs = (
            await net.region.client.get(f"/referrals/{rid}", headers=net.region.as_(UPH))
        ).json()
        assert (theirs["status"], theirs["sub_status"], theirs["child"]) == (
            "cancelled",
            "consent-expired",
            None,
        )
        expired_events = [
            e for e in await net.school.outbox("consent.expired.v1") if e.subject == cid
        ]
        assert len(expired_events) == 1
    finally:
        net.clock.advance(timedelta(days=-3))
