"""The referral service's features over the real broker: two nodes, real Kafka, real Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from integration.test_referral_api import give_consent, send
from integration.test_referral_harness import INTAKE, NURSE, SOCIONOM, UPH, Harness, Side, harness
from support import eventually, unique

from samverkan.devnet.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def net(postgres: EmbeddedPostgres | None, kafka_bootstrap: str) -> AsyncIterator[Harness]:
    async with harness(postgres, kafka_bootstrap, unique("school"), unique("region")) as h:
        yield h


async def seen(side: Side, function: str, path: str, ok: Callable[[dict[str, Any]], bool]) -> dict:
    async def probe() -> dict | None:
        r: httpx.Response = await side.client.get(path, headers=side.as_(function))
        return r.json() if r.status_code == 200 and ok(r.json()) else None

    return await eventually(f"{side.principal}/{function} to see {path}", probe)


async def test_lifecycle_and_forwarding_cross_the_broker(net: Harness) -> None:
    rid = (await send(net, consent_id=await give_consent(net, None))).json()["id"]
    await seen(net.region, UPH, f"/referrals/{rid}", lambda v: v["status"] == "received")
    await seen(net.school, NURSE, f"/referrals/{rid}", lambda v: v["status"] == "received")
    uph = net.region.as_(UPH)
    assert (await net.region.client.post(f"/referrals/{rid}/accept", headers=uph)).is_success
    await seen(net.school, NURSE, f"/referrals/{rid}", lambda v: v["status"] == "accepted")
    body = {"to": {"principal": net.region.principal, "function": SOCIONOM}, "reason_text": "x"}
    new = (await net.region.client.post(f"/referrals/{rid}/forward", json=body, headers=uph)).json()
    await seen(net.region, SOCIONOM, f"/referrals/{new['id']}", lambda v: v["status"] == "received")
    mine = await seen(
        net.school, NURSE, f"/referrals/{rid}", lambda v: v["superseded_by"] == new["id"]
    )
    assert (mine["status"], mine["sub_status"]) == ("cancelled", "superseded")


async def test_withdrawal_and_expiry_purge_the_recipients_copy_over_the_broker(
    net: Harness,
) -> None:
    withdrawn = await give_consent(net)
    expiring = await give_consent(net, valid_until=(date.today() + timedelta(days=1)).isoformat())
    first = (await send(net, consent_id=withdrawn)).json()["id"]
    second = (await send(net, consent_id=expiring)).json()["id"]
    for rid in (first, second):
        await seen(net.region, UPH, f"/referrals/{rid}", lambda v: v["status"] == "received")
    await net.school.client.post(
        f"/consents/{withdrawn}/withdraw",
        headers=net.school.as_(NURSE),
        json={"withdrawn_by": "guardians"},
    )
    gone = await seen(net.region, UPH, f"/referrals/{first}", lambda v: v["purged_at"] is not None)
    assert (gone["status"], gone["child"], gone["reason"]) == ("cancelled", None, None)
    await seen(
        net.school, NURSE, f"/referrals/{first}", lambda v: v["cancellation"] == "consent-withdrawn"
    )
    net.clock.advance(timedelta(days=3))  # the expiry loop notices on its next round
    try:
        gone = await seen(
            net.region, UPH, f"/referrals/{second}", lambda v: v["purged_at"] is not None
        )
        assert (gone["sub_status"], gone["child"]) == ("consent-expired", None)
    finally:
        net.clock.advance(timedelta(days=-3))


async def test_report_of_concern_within_one_principal_over_the_broker(net: Harness) -> None:
    body = {
        "recipient": {"principal": net.school.principal, "function": INTAKE},
        "child": {"personnummer": "20120315-1236", "name": "Alva Exempel"},
        "concern": "Oro",
        "urgent": False,
        "guardians_informed": True,
    }
    r = await net.school.client.post("/concerns", json=body, headers=net.school.as_(NURSE))
    rid = r.json()["id"]
    await seen(net.school, INTAKE, f"/concerns/{rid}", lambda v: v["state"] == "received")
    await net.school.client.post(
        f"/concerns/{rid}/feedback",
        headers=net.school.as_(INTAKE),
        json={"decision": "investigation-already-ongoing"},
    )
    mine = await seen(net.school, NURSE, f"/concerns/{rid}", lambda v: v["decision"] is not None)
    assert mine["decision"] == "investigation-already-ongoing" and mine["received_at"]


async def test_consultation_over_the_broker(net: Harness) -> None:
    ask = {"need": "medical-psychological", "question": "Hur stöttar vi en elev med oro?"}
    cid = (
        await net.school.client.post("/consultations", json=ask, headers=net.school.as_(NURSE))
    ).json()["id"]
    await seen(net.region, UPH, f"/consultations/{cid}", lambda v: v["side"] == "counterpart")
    await net.region.client.post(
        f"/consultations/{cid}/answer",
        headers=net.region.as_(UPH),
        json={"answer": "Ring oss.", "referral_suggested": False},
    )
    mine = await seen(net.school, NURSE, f"/consultations/{cid}", lambda v: v["answer"] is not None)
    assert mine["answer"] == "Ring oss."
