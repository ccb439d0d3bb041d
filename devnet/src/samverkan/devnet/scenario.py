"""The walking-skeleton scenario over real HTTP: the steps the demo prints and the e2e test checks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, TypeVar

import httpx

from samverkan.devnet.network import Network, Principal
from samverkan.runtime.auth import Role

MUNICIPALITY = "sjostad-kommun"
REGION = "vastra-regionen"
SCHOOL_NURSE = "skolskoterska-ekbacken"
UPH_TEAM = "uph-hamnen"
NEED = "medical-psychological"

# Fictional child. The personnummer is valid (date and check digit) but invented.
CHILD = {"personnummer": "20120315-1236", "name": "Alva Exempel"}

T = TypeVar("T")


def dataset(principal: str) -> dict[str, Any]:
    return json.loads(files("samverkan.devnet").joinpath("data", f"{principal}.json").read_text())


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Staff:
    """An HTTP client acting as one person in one function of one principal."""

    principal: Principal
    function: str | None
    person: str
    roles: list[Role]
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        token = self.principal.token(person=self.person, function=self.function, roles=self.roles)
        self.client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def call(self, method: str, service: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, self.principal.url(service) + path, **kwargs)


@dataclass
class Outcome:
    referral_id: str
    mails: list[Any]
    audit: dict[str, dict[str, Any]]
    trails: dict[str, list[dict[str, Any]]]
    sender_view: dict[str, Any]
    recipient_view: dict[str, Any]
    steps: list[tuple[datetime, str, str, str]]


def school_nurse(net: Network) -> Staff:
    return Staff(net.principals[MUNICIPALITY], SCHOOL_NURSE, "SE2120001231-sk0001", [Role.STAFF])


def uph_team(net: Network) -> Staff:
    return Staff(net.principals[REGION], UPH_TEAM, "SE2321004562-ps0042", [Role.STAFF])


def publish_directories(net: Network) -> dict[str, int]:
    """Each principal's admin imports its directory document; returns entries published."""
    published = {}
    for principal in net.principals.values():
        admin = Staff(principal, None, f"admin@{principal.id}", [Role.ADMIN])
        response = admin.call("PUT", "directory", "/admin/directory", json=dataset(principal.id))
        response.raise_for_status()
        published[principal.id] = response.json()["published"]
    return published


def wait_routable(nurse: Staff) -> dict[str, Any]:
    """Wait until the nurse's directory routes her to a counterpart for the demo's need."""

    def routed() -> dict[str, Any] | None:
        params = {"principal": MUNICIPALITY, "function": SCHOOL_NURSE, "need": NEED}
        r = nurse.call("GET", "directory", "/routing", params=params)
        return r.json() if r.status_code == 200 else None

    return wait_for("the directory to route the school nurse", routed)


def referral_body() -> dict[str, Any]:
    return {
        "need": NEED,
        "child": CHILD,
        "reason": "Oro för nedstämdhet och frånvaro sedan höstlovet; eleven vill ha stöd.",
        "consent": {
            "decided_by": "child-and-guardians",
            "purpose": "Bedömning och stöd från första linjen (UPH)",
            "given_at": datetime.now(UTC).isoformat(),
        },
    }


def run(net: Network, say: Callable[[str], None] = print) -> Outcome:
    steps: list[tuple[datetime, str, str, str]] = []

    def step(principal: str, service: str, what: str) -> None:
        steps.append((datetime.now(UTC), principal, service, what))
        say(f"  {principal:<16} {service:<13} {what}")

    municipality, region = net.principals[MUNICIPALITY], net.principals[REGION]
    nurse, uph = school_nurse(net), uph_team(net)
    for principal, published in publish_directories(net).items():
        step(principal, "directory", f"published {published} entries")
    counterpart = wait_routable(nurse)
    step(
        MUNICIPALITY,
        "directory",
        f"counterpart of {SCHOOL_NURSE}: {counterpart['principal']}/{counterpart['function']}",
    )

    def sent() -> dict[str, Any] | None:
        # The referral service builds its own directory copy from events; it may lag a moment.
        r = nurse.call("POST", "referral", "/referrals", json=referral_body())
        if r.status_code == 422 and r.json().get("title") == "No counterpart":
            return None
        r.raise_for_status()
        return r.json()

    referral = wait_for("the referral service to accept the referral", sent)
    rid = referral["id"]
    step(MUNICIPALITY, "referral", f"school nurse sent referral {rid} → {UPH_TEAM}")

    def in_inbox() -> dict[str, Any] | None:
        r = uph.call("GET", "referral", f"/referrals/{rid}")
        return r.json() if r.status_code == 200 else None

    wait_for("the referral in the UPH team's inbox", in_inbox)
    step(REGION, "referral", "referral stored in the UPH team's inbox; receipt sent")

    def sender_sees(status: str) -> Callable[[], dict[str, Any] | None]:
        def probe() -> dict[str, Any] | None:
            r = nurse.call("GET", "referral", f"/referrals/{rid}")
            return r.json() if r.status_code == 200 and r.json()["status"] == status else None

        return probe

    wait_for("the municipality to see the receipt", sender_sees("received"))
    step(MUNICIPALITY, "referral", "sender sees status 'received' (technical receipt)")

    mails = net.mail.wait_for(1, timeout=60)
    step(REGION, "notification", f"mail to {', '.join(mails[0].rcpt_tos)}: {mails[0].subject!r}")

    uph.call("POST", "referral", f"/referrals/{rid}/accept").raise_for_status()
    step(REGION, "referral", "UPH team accepted the referral")
    sender_view = wait_for("the municipality to see the acceptance", sender_sees("accepted"))
    step(MUNICIPALITY, "referral", f"sender sees status 'accepted' by {sender_view['decided_by']}")

    audit: dict[str, dict[str, Any]] = {}
    trails: dict[str, list[dict[str, Any]]] = {}
    for principal in (municipality, region):
        auditor = Staff(principal, None, f"revisor@{principal.id}", [Role.AUDITOR])

        def trail(auditor: Staff = auditor) -> list[dict[str, Any]] | None:
            r = auditor.call("GET", "audit", "/audit/entries", params={"subject": rid})
            r.raise_for_status()
            types = {e["type"].split(".")[3] for e in r.json()}
            return r.json() if {"sent", "received", "accepted"} <= types else None

        trails[principal.id] = wait_for(f"{principal.id}'s audit trail", trail)
        result = auditor.call("GET", "audit", "/audit/verify").json()
        audit[principal.id] = result
        step(
            principal.id, "audit", f"chain of {result['entries']} entries verified: {result['ok']}"
        )

    recipient_view = uph.call("GET", "referral", f"/referrals/{rid}").json()
    return Outcome(rid, mails, audit, trails, sender_view, recipient_view, steps)
