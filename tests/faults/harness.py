"""Load, healing and the exactly-once checks shared by the fault tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from samverkan.contracts.parties import FunctionRef, Need
from samverkan.devnet import scenario
from samverkan.devnet.network import Network, ServiceProcess
from samverkan.runtime import directory_view

MUNICIPALITY, REGION = scenario.MUNICIPALITY, scenario.REGION


def query(dsn: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def dsn(net: Network, principal: str, service: str) -> str:
    process = net.principals[principal].services[service]
    return process.env[f"SAMVERKAN_{service.upper()}_DATABASE_URL"]


def prepare(net: Network) -> None:
    scenario.publish_directories(net)
    scenario.wait_routable(scenario.school_nurse(net))
    # The referral service routes by its own copy of the directory, built from the directory's
    # events: until it has caught up, a referral is refused (422 No counterpart).
    scenario.wait_for(
        "the referral service's directory copy to route the school nurse",
        lambda: _referral_service_routes(net),
    )


def _referral_service_routes(net: Network) -> bool:
    async def routes() -> bool:
        conn = await asyncpg.connect(dsn(net, MUNICIPALITY, "referral"))
        try:
            nurse = FunctionRef(principal=MUNICIPALITY, function=scenario.SCHOOL_NURSE)
            today = datetime.now(UTC).date()  # as the service's own clock
            await directory_view.counterpart(conn, nurse, Need(scenario.NEED), today)
        except directory_view.AmbiguousRoute:
            raise  # waiting cannot mend it
        except directory_view.NoRoute as exc:
            print(f"the referral service routes no counterpart yet: {exc}")  # shown on a failure
            return False
        finally:
            await conn.close()
        return True

    return asyncio.run(routes())


def send(net: Network, count: int, between: Callable[[int], None] = lambda _: None) -> list[str]:
    """Send `count` referrals as the school nurse; return the ids the service accepted (201).

    A request cut off by a crash was not accepted; the client would retry it (with an
    Idempotency-Key), which is not what these tests are about.
    """
    nurse = scenario.school_nurse(net)
    accepted = []
    for i in range(count):
        between(i)
        try:
            r = nurse.call("POST", "referral", "/referrals", json=scenario.referral_body())
        except httpx.TransportError as exc:
            print(f"referral {i}: not answered ({type(exc).__name__})")  # shown if the test fails
            continue
        if r.status_code == 201:
            accepted.append(r.json()["id"])
        else:
            print(f"referral {i}: {r.status_code} {r.text[:200]}")
    return accepted


class Healer:
    """Restarts killed processes without their fault, and counts how often it had to."""

    def __init__(self, net: Network, *, skip: tuple[ServiceProcess, ...] = ()) -> None:
        self.net = net
        self.skip = skip
        self.restarts: list[str] = []

    def __call__(self, _: int = 0) -> None:
        for process in self.net.processes():
            if process not in self.skip and not process.alive:
                self.restarts.append(f"{process.principal}/{process.service}")
                process.restart(SAMVERKAN_FAULT_POINT=None, SAMVERKAN_FAULT_AFTER=None)
                process.wait_ready()


def arm(process: ServiceProcess, point: str, after: int) -> None:
    process.restart(SAMVERKAN_FAULT_POINT=point, SAMVERKAN_FAULT_AFTER=str(after))
    # The fault may fire while the service catches up at start: the healer restarts it then.
    with contextlib.suppress(RuntimeError):
        process.wait_ready()


def assert_exactly_once(net: Network, accepted: list[str], heal: Callable[[], None]) -> None:
    """Every accepted referral reached the region once, was acknowledged once, mailed once, and
    audited once on both sides; nothing was dead-lettered; both audit chains verify."""
    assert accepted, "the load produced no accepted referral; the test would prove nothing"
    sent = {
        r["id"]
        for r in query(
            dsn(net, MUNICIPALITY, "referral"),
            "SELECT id::text FROM referrals WHERE direction = 'outgoing'",
        )
    }
    assert set(accepted) <= sent

    def region_has_all() -> bool:
        heal()
        got = {
            r["id"] for r in query(dsn(net, REGION, "referral"), "SELECT id::text FROM referrals")
        }
        return got >= sent

    scenario.wait_for("the region to hold every committed referral", region_has_all, timeout=120)
    region = query(dsn(net, REGION, "referral"), "SELECT id::text, direction FROM referrals")
    assert {r["id"] for r in region} == sent, "the region holds a referral nobody sent"
    assert {r["direction"] for r in region} == {"incoming"}

    receipts = Counter(
        r["key"]
        for r in query(
            dsn(net, REGION, "referral"),
            "SELECT convert_from(key, 'UTF8') AS key FROM outbox WHERE headers::text LIKE $1",
            "%referral.received%",
        )
    )
    assert set(receipts) == sent and set(receipts.values()) == {1}, "a receipt was made twice"

    def sender_sees_receipts() -> bool:
        heal()
        rows = query(dsn(net, MUNICIPALITY, "referral"), "SELECT status FROM referrals")
        return all(r["status"] == "received" for r in rows)

    scenario.wait_for("the sender to see every receipt", sender_sees_receipts, timeout=120)

    # Mail is at most once by design: a crash during an SMTP call leaves the delivery recorded as
    # `sending` (later `uncertain`), never sent twice and never silently lost.
    def deliveries() -> dict[str, list[dict[str, Any]]]:
        rows = query(
            dsn(net, REGION, "notification"),
            "SELECT status, body FROM deliveries WHERE kind = 'referral-arrived'",
        )
        return {rid: [r for r in rows if rid in r["body"]] for rid in sent}

    def mails_settled() -> bool:
        heal()
        mailed = {rid for rid in sent if any(rid in m.body for m in net.mail.messages)}
        for rid, rows in deliveries().items():
            if len(rows) != 1 or rows[0]["status"] not in ("sent", "sending", "uncertain"):
                return False
            if rows[0]["status"] == "sent" and rid not in mailed:
                return False
        return True

    scenario.wait_for("a recorded delivery per referral", mails_settled, timeout=120)
    # One snapshot of the deliveries, then the mails: a delivery is marked sent only after the mail
    # server took the mail, so every `sent` in the snapshot has its mail among those read after it
    # (read the other way round, a delivery in flight could finish in between and look lost).
    snapshot = deliveries()
    per_referral = Counter(rid for m in net.mail.messages for rid in sent if rid in m.body)
    assert set(per_referral.values()) <= {1}, "a mail went twice"
    # A delivery still `sending` or `uncertain` may or may not have reached the mail server.
    uncertain = {rid for rid, rows in snapshot.items() if rows[0]["status"] != "sent"}
    assert set(per_referral) | uncertain == sent, "a referral was neither mailed nor recorded"

    for principal in (MUNICIPALITY, REGION):

        def audited(principal: str = principal) -> bool:
            heal()
            rows = query(
                dsn(net, principal, "audit"),
                "SELECT subject, type FROM audit_log WHERE type LIKE 'se.samverkan.referral.%'",
            )
            return len(rows) >= 2 * len(sent)

        scenario.wait_for(f"{principal}'s audit of every referral event", audited, timeout=120)
        rows = query(dsn(net, principal, "audit"), "SELECT subject, type FROM audit_log")
        kinds = Counter(
            (r["subject"], r["type"].split(".")[3])
            for r in rows
            if r["type"].startswith("se.samverkan.referral.")
        )
        for rid in sent:
            assert kinds[(rid, "sent")] == 1 and kinds[(rid, "received")] == 1, (principal, rid)
        assert not [r for r in rows if "dead-lettered" in r["type"]], f"dead letters at {principal}"
        staff = scenario.Staff(net.principals[principal], None, "revisor", [scenario.Role.AUDITOR])
        verdict = staff.call("GET", "audit", "/audit/verify").json()
        assert verdict["ok"], verdict
