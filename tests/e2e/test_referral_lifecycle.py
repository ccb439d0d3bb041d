"""Two principals, every service a process: consent withdrawal purging what the region holds,
a forwarded referral, and a report of concern between two secrecy domains of one municipality."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from samverkan.devnet import scenario
from samverkan.devnet.network import Network
from samverkan.devnet.scenario import MUNICIPALITY, REGION, Staff, wait_for
from samverkan.runtime.auth import Role

pytestmark = pytest.mark.e2e

NURSE, UPH = scenario.SCHOOL_NURSE, scenario.UPH_TEAM
SOCIONOM, COUNSELLOR, INTAKE = "socionom-hamnen", "skolkurator-ekbacken", "mottagning-barn-unga"


@pytest.fixture(scope="module")
def net(kafka_bootstrap: str) -> Iterator[Network]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
        with Network() as network:
            for principal in network.principals.values():
                admin = Staff(principal, None, f"admin@{principal.id}", [Role.ADMIN])
                body = scenario.dataset(principal.id)
                admin.call("PUT", "directory", "/admin/directory", json=body).raise_for_status()
            yield network


def staff(net: Network, principal: str, function: str) -> Staff:
    return Staff(net.principals[principal], function, f"SE2120001231-{function[:6]}", [Role.STAFF])


def sees(who: Staff, path: str, ok: Any) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        r = who.call("GET", "referral", path)
        return r.json() if r.status_code == 200 and ok(r.json()) else None

    return wait_for(f"{who.function} to see {path}", probe)


def rows(net: Network, principal: str, query: str) -> list[dict[str, Any]]:
    dsn = net.principals[principal].services["referral"].env["SAMVERKAN_REFERRAL_DATABASE_URL"]

    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [dict(r) for r in await conn.fetch(query)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_withdrawn_consent_reaches_the_forwarded_referral_and_purges_it(net: Network) -> None:
    nurse, uph = staff(net, MUNICIPALITY, NURSE), staff(net, REGION, UPH)
    socionom = staff(net, REGION, SOCIONOM)
    today = date.today()
    consent = nurse.call("POST", "referral", "/consents", json={
        "child": scenario.CHILD,
        "scope": {"recipients": [{"principal": REGION}], "purpose": "Stöd i första linjen",
                  "data_categories": ["identity", "reason-for-referral"],
                  "valid_from": today.isoformat(),
                  "valid_until": (today + timedelta(days=90)).isoformat()},
        "decided_by": "child-and-guardians", "guardians_consenting": 2,
    })  # fmt: skip
    assert consent.status_code == 201, consent.text
    cid = consent.json()["id"]
    body = {
        "need": "medical-psychological",
        "child": scenario.CHILD,
        "reason": "Oro för nedstämdhet",
        "consent_id": cid,
    }

    def sent() -> dict[str, Any] | None:
        r = nurse.call(
            "POST", "referral", "/referrals", json=body, headers={"Idempotency-Key": f"e2e-{cid}"}
        )
        if r.status_code == 422 and r.json()["title"] == "No counterpart":
            return None  # the referral service's directory copy is still catching up
        assert r.status_code == 201, r.text
        return r.json()

    rid = wait_for("the referral to be routed", sent)["id"]
    sees(uph, f"/referrals/{rid}", lambda v: v["status"] == "received")
    forward = {
        "to": {"principal": REGION, "function": SOCIONOM},
        "reason_text": "Psykosocialt behov: kurator/socionom passar bättre",
    }
    r = uph.call("POST", "referral", f"/referrals/{rid}/forward", json=forward)
    assert r.status_code == 201, r.text
    new = r.json()["id"]
    assert sees(socionom, f"/referrals/{new}", lambda v: v["status"] == "received")["child"]
    original = sees(nurse, f"/referrals/{rid}", lambda v: v["superseded_by"] == new)
    assert (original["status"], original["sub_status"]) == ("cancelled", "superseded")

    r = nurse.call(
        "POST", "referral", f"/consents/{cid}/withdraw", json={"withdrawn_by": "guardians"}
    )
    assert r.status_code == 200 and r.json()["state"] == "withdrawn", r.text
    purged = sees(socionom, f"/referrals/{new}", lambda v: v["purged_at"] is not None)
    assert (purged["status"], purged["cancellation"]) == ("cancelled", "consent-withdrawn")
    assert purged["child"] is None and purged["reason"] is None
    stored = rows(
        net, REGION, "SELECT id::text, direction, child, reason, purged_at FROM referrals"
    )
    assert {r["id"] for r in stored} == {rid, new}
    assert all(r["child"] is None and r["reason"] is None and r["purged_at"] for r in stored)
    r = socionom.call("POST", "referral", f"/referrals/{new}/accept")
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    kept = rows(net, MUNICIPALITY, "SELECT child FROM referrals")
    assert kept and all(r["child"] is not None for r in kept)  # the school's own record stays
    auditor = Staff(net.principals[REGION], None, "revisor@region", [Role.AUDITOR])

    def audited() -> list[dict[str, Any]] | None:
        r = auditor.call("GET", "audit", "/audit/entries", params={"subject": cid})
        types = {e["type"] for e in r.json()}
        return r.json() if "se.samverkan.consent.withdrawn.v1" in types else None

    assert wait_for("the region's audit to record the withdrawal", audited)
    reads = auditor.call("GET", "audit", "/audit/entries", params={"subject": new}).json()
    assert any(e["type"] == "se.samverkan.audit.access-logged.v1" for e in reads)
    for mail in net.mail.messages:
        raw = mail.raw.decode(errors="replace")
        assert scenario.CHILD["name"] not in raw and "20120315" not in raw


def test_report_of_concern_between_school_and_social_services(net: Network) -> None:
    counsellor = staff(net, MUNICIPALITY, COUNSELLOR)
    intake = staff(net, MUNICIPALITY, INTAKE)
    report = {
        "recipient": {"principal": MUNICIPALITY, "function": INTAKE},
        "child": scenario.CHILD,
        "concern": "Eleven berättar om oro hemma.",
        "urgent": True,
        "guardians_informed": False,
    }

    def submitted() -> dict[str, Any] | None:
        r = counsellor.call("POST", "referral", "/concerns", json=report)
        if r.status_code == 422 and r.json()["title"] == "Unknown recipient":
            return None
        assert r.status_code == 201, r.text
        return r.json()

    rid = wait_for("the report to be accepted", submitted)["id"]
    seen = sees(intake, f"/concerns/{rid}", lambda v: v["state"] == "received")
    assert (
        seen["child"]["name"] == scenario.CHILD["name"] and seen["legal_basis"] == "duty-to-report"
    )
    assert sees(counsellor, f"/concerns/{rid}", lambda v: v["received_at"] is not None)
    r = intake.call(
        "POST", "referral", f"/concerns/{rid}/feedback", json={"decision": "investigation-opened"}
    )
    assert r.status_code == 200, r.text
    mine = sees(counsellor, f"/concerns/{rid}", lambda v: v["decision"] is not None)
    assert mine["decision"] == "investigation-opened"
    assert httpx.codes.is_success(intake.call("GET", "referral", "/concerns").status_code)
