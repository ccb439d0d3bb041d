"""Two principals, all services as processes: a referral from school to health centre and back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from samverkan.devnet import scenario
from samverkan.devnet.network import Network

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def outcome_and_net(
    kafka_bootstrap: str, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[tuple[scenario.Outcome, Network]]:
    monkeypatch_module.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    with Network() as net:
        yield scenario.run(net, say=lambda _: None), net


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _rows(dsn: str, query: str) -> list[dict]:
    async def fetch() -> list[dict]:
        conn = await asyncpg.connect(dsn)
        try:
            return [dict(r) for r in await conn.fetch(query)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_both_sides_agree_the_referral_is_accepted(outcome_and_net) -> None:  # type: ignore[no-untyped-def]
    outcome, _ = outcome_and_net
    assert outcome.sender_view["status"] == "accepted"
    assert outcome.sender_view["direction"] == "outgoing"
    assert outcome.recipient_view["status"] == "accepted"
    assert outcome.recipient_view["direction"] == "incoming"
    assert outcome.recipient_view["child"]["name"] == scenario.CHILD["name"]
    assert outcome.recipient_view["recipient"] == {
        "principal": scenario.REGION,
        "function": scenario.UPH_TEAM,
    }


def test_each_node_stored_its_own_copy(outcome_and_net) -> None:  # type: ignore[no-untyped-def]
    outcome, net = outcome_and_net
    for principal, direction in (
        (scenario.MUNICIPALITY, "outgoing"),
        (scenario.REGION, "incoming"),
    ):
        dsn = net.principals[principal].services["referral"].env["SAMVERKAN_REFERRAL_DATABASE_URL"]
        rows = _rows(dsn, "SELECT id::text, direction, status FROM referrals")
        assert rows == [{"id": outcome.referral_id, "direction": direction, "status": "accepted"}]


def test_one_mail_to_the_functional_mailbox_without_personal_data(outcome_and_net) -> None:  # type: ignore[no-untyped-def]
    outcome, net = outcome_and_net
    # The sender's mailbox may also hear that the referral was accepted; the UPH team's once.
    [mail] = [m for m in net.mail.messages if m.rcpt_tos == ("uph.hamnen@vastra.example",)]
    assert outcome.referral_id in mail.body
    pnr = scenario.CHILD["personnummer"]
    for sent in net.mail.messages:
        raw = sent.raw.decode(errors="replace")
        for secret in (pnr, pnr.replace("-", ""), scenario.CHILD["name"], "nedstämdhet"):
            assert secret not in raw


def test_audit_trails_hold_each_event_once_and_verify(outcome_and_net) -> None:  # type: ignore[no-untyped-def]
    outcome, net = outcome_and_net
    for principal, trail in outcome.trails.items():
        # Reads of the referral are access-logged under its id too (Patientdatalagen).
        kinds = sorted(e["type"] for e in trail if ".referral." in e["type"])
        assert kinds == sorted(
            f"se.samverkan.referral.{k}.v1" for k in ("sent", "received", "accepted")
        ), principal
        assert outcome.audit[principal]["ok"] is True
        dsn = net.principals[principal].services["audit"].env["SAMVERKAN_AUDIT_DATABASE_URL"]
        stored = _rows(dsn, "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_log")[0]
        assert stored["n"] == stored["d"] >= 3
        raw = _rows(
            dsn,
            "SELECT personnummer_pseudonym FROM audit_log WHERE personnummer_pseudonym IS NOT NULL",
        )
        assert raw and all(
            scenario.CHILD["personnummer"][:8] not in r["personnummer_pseudonym"] for r in raw
        )
