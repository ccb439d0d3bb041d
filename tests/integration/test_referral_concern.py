"""Reports of concern and consultations on real Postgres, within one principal and across."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from integration.test_referral_api import problem
from integration.test_referral_harness import CHILD, INTAKE, NURSE, UPH, Harness, harness
from support import unique

from samverkan.contracts.envelope import LegalBasis
from samverkan.devnet.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def net(postgres: EmbeddedPostgres | None) -> AsyncIterator[Harness]:
    async with harness(postgres, "", unique("school"), unique("region")) as h:
        yield h


def report(principal: str, **changes: Any) -> dict[str, Any]:
    return {
        "recipient": {"principal": principal, "function": INTAKE},
        "child": CHILD,
        "concern": "Eleven berättar om våld i hemmet.",
        "urgent": True,
        "guardians_informed": False,
        **changes,
    }


@pytest.mark.parametrize("across", [False, True], ids=["same-principal", "across-principals"])
async def test_a_report_of_concern_is_confirmed_and_answered(net: Harness, across: bool) -> None:
    social = net.region if across else net.school
    nurse = net.school.as_(NURSE)
    r = await net.school.client.post("/concerns", json=report(social.principal), headers=nurse)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert (r.json()["state"], r.json()["legal_basis"]) == ("submitted", "duty-to-report")
    submitted = [e for e in await net.school.outbox("concern.submitted.v1") if e.subject == rid]
    assert submitted[0].legalbasis is LegalBasis.DUTY_TO_REPORT
    assert submitted[0].recipientprincipal == social.principal
    await net.deliver()
    intake = social.as_(INTAKE)
    inbox = (await social.client.get("/concerns", headers=intake)).json()["items"]
    assert rid in {i["id"] for i in inbox} and all("child" not in i for i in inbox)
    seen = (await social.client.get(f"/concerns/{rid}", headers=intake)).json()
    assert (seen["side"], seen["child"]["name"], seen["state"]) == (
        "recipient",
        "Alva Exempel",
        "received",
    )
    logged = await social.outbox("audit.access-logged.v1")
    assert any(str(e.data.resource_id) == rid for e in logged)  # type: ignore[attr-defined]
    mine = (await net.school.client.get(f"/concerns/{rid}", headers=nurse)).json()
    assert mine["state"] == "received" and mine["received_at"]  # social services' receipt
    problem(
        await net.school.client.post(
            f"/concerns/{rid}/feedback", headers=nurse, json={"decision": "investigation-opened"}
        ),
        403,
        "Not allowed",
    )
    r = await social.client.post(
        f"/concerns/{rid}/feedback", headers=intake, json={"decision": "investigation-opened"}
    )
    assert r.json()["state"] == "feedback-given"
    problem(
        await social.client.post(
            f"/concerns/{rid}/feedback",
            headers=intake,
            json={"decision": "investigation-not-opened"},
        ),
        409,
        "Illegal transition",
    )
    await net.deliver()
    mine = (await net.school.client.get(f"/concerns/{rid}", headers=nurse)).json()
    assert (mine["state"], mine["decision"]) == ("feedback-given", "investigation-opened")
    sent = await net.school.client.get(
        "/concerns", params={"box": "sent", "state": "feedback-given"}, headers=nurse
    )
    assert rid in {i["id"] for i in sent.json()["items"]}
    other = net.school.as_("skolkurator")
    problem(await net.school.client.get(f"/concerns/{rid}", headers=other), 404, "Not found")


async def test_a_report_needs_a_known_recipient_and_a_valid_personnummer(net: Harness) -> None:
    nurse = net.school.as_(NURSE)
    unknown = report(
        net.school.principal, recipient={"principal": net.school.principal, "function": "finns-ej"}
    )
    r = await net.school.client.post("/concerns", json=unknown, headers=nurse)
    problem(r, 422, "Unknown recipient")
    bad = report(net.school.principal, child={"personnummer": "20121315-1236", "name": "X"})
    body = problem(
        await net.school.client.post("/concerns", json=bad, headers=nurse), 422, "Invalid request"
    )
    assert "birth date" in body["errors"][0]["message"]


async def test_a_consultation_is_anonymous_and_answered(net: Harness) -> None:
    nurse, uph = net.school.as_(NURSE), net.region.as_(UPH)
    ask = {
        "need": "medical-psychological",
        "age_band": "13-15",
        "question": "En elev i åk 8 har slutat äta lunch. Hur kan vi tänka?",
    }
    leaked = {**ask, "question": "Gäller elev 120315-1236, vad gör vi?"}
    body = problem(
        await net.school.client.post("/consultations", json=leaked, headers=nurse),
        422,
        "Personal data in anonymous text",
    )
    assert "personnummer" in body["detail"] and "1236" not in body["detail"]
    assert not await net.school.outbox("consultation.requested.v1")
    r = await net.school.client.post("/consultations", json=ask, headers=nurse)
    assert r.status_code == 201 and r.json()["counterpart"]["function"] == UPH, r.text
    cid = r.json()["id"]
    await net.deliver()
    inbox = (await net.region.client.get("/consultations", headers=uph)).json()["items"]
    assert [i["question"] for i in inbox if i["id"] == cid] == [ask["question"]]
    answer = {"answer": "Boka ett avstämningsmöte med oss.", "referral_suggested": True}
    problem(
        await net.region.client.post(
            f"/consultations/{cid}/answer", json=answer, headers=net.region.as_("socionom")
        ),
        404,
        "Not found",
    )
    r = await net.region.client.post(f"/consultations/{cid}/answer", json=answer, headers=uph)
    assert r.json()["answered_at"]
    await net.deliver()
    mine = (await net.school.client.get(f"/consultations/{cid}", headers=nurse)).json()
    assert (mine["answer"], mine["referral_suggested"]) == (answer["answer"], True)
    answered = await net.school.client.get(
        "/consultations", headers=nurse, params={"box": "sent", "answered": True}
    )
    assert cid in {i["id"] for i in answered.json()["items"]}
