"""The events the benches send: real contract payloads, each in a trace of its own as a node's
events are, so sizes and parsing costs are the real ones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

from samverkan.contracts import CloudEvent
from samverkan.contracts.directory import FunctionPublished, PublicKeyPublished, UnitKind
from samverkan.contracts.envelope import DataClassification, LegalBasis
from samverkan.contracts.referral import Need, ReferralSent
from samverkan.runtime.signing import Signer, generate_key
from samverkan.runtime.telemetry import event_traceparent

SCHOOL = "bench-skola"
REGION = "bench-region"
NURSE = "skolskoterska"
UPH = "uph"
CHILD = {"personnummer": "20120315-1236", "name": "Alva Exempel"}
REASON = "Oro för nedstämdhet och frånvaro sedan höstlovet; eleven vill ha stöd."
START = date(2025, 1, 1)
KEY_ID = "bench-key"
# Each principal's signing key for this run: services verify every event, as in production.
KEYS = {principal: generate_key() for principal in (SCHOOL, REGION)}
SIGNERS = {principal: Signer(key, KEY_ID) for principal, key in KEYS.items()}


def referral_body() -> dict[str, object]:
    """The body of POST /referrals, as the school nurse sends it."""
    return {
        "need": Need.MEDICAL_PSYCHOLOGICAL.value,
        "child": CHILD,
        "reason": REASON,
        "consent": {
            "decided_by": "child-and-guardians",
            "purpose": "Bedömning och stöd från första linjen (UPH)",
            "given_at": datetime.now(UTC).isoformat(),
        },
    }


def referral_sent(school: str = SCHOOL, region: str = REGION) -> CloudEvent:
    """A referral from the school nurse to the region's UPH team, as the sender's outbox holds it."""
    now = datetime.now(UTC)
    body = referral_body()
    data = ReferralSent(
        referral_id=uuid4(),
        sender={"principal": school, "function": NURSE},
        recipient={"principal": region, "function": UPH},
        need=Need.MEDICAL_PSYCHOLOGICAL,
        child=CHILD,
        reason=REASON,
        consent=body["consent"],
        sent_at=now,
    )
    return CloudEvent.wrap(
        data,
        principal=school,
        service="referral",
        recipient=region,
        legalbasis=LegalBasis.CONSENT,
        classification=DataClassification.PERSONAL,
        traceparent=event_traceparent(),
    )


def function(principal: str, name: str, unit_kind: UnitKind = UnitKind.SCHOOL) -> CloudEvent:
    """A directory entry: one function of `principal`."""
    data = FunctionPublished(
        principal=principal,
        function=name,
        name=f"Funktion {name}",
        unit="enheten",
        unit_name="Enheten",
        unit_kind=unit_kind,
        mailbox=f"{name}@{principal}.example",
        valid_from=START,
    )
    return CloudEvent.wrap(
        data,
        principal=principal,
        service="directory",
        classification=DataClassification.PUBLIC,
        traceparent=event_traceparent(),
    )


def directory_seed(school: str = SCHOOL, region: str = REGION) -> list[CloudEvent]:
    """The entries a region node needs to accept referrals to its UPH team from the school nurse."""
    return [function(school, NURSE), function(region, UPH, UnitKind.HEALTH_CENTRE)]


def record_size(event: CloudEvent) -> int:
    """Bytes of a Kafka record's key, value and headers (the size the raw baseline sends)."""
    headers = sum(len(k) + len(v) for k, v in signed_headers(event))
    return len(event.key()) + len(event.value()) + headers


def public_keys() -> list[CloudEvent]:
    """Each principal's key, as its directory announces it."""
    return [
        CloudEvent.wrap(
            PublicKeyPublished(
                principal=principal,
                key_id=KEY_ID,
                algorithm="ed25519",
                public_key=signer.public_key_b64(),
                valid_from=datetime(2025, 1, 1, tzinfo=UTC),
            ),
            principal=principal,
            service="directory",
            traceparent=event_traceparent(),
        )
        for principal, signer in SIGNERS.items()
    ]


def signed_headers(event: CloudEvent) -> list[tuple[str, bytes]]:
    """The record headers with the source principal's signature, as its outbox relay sends them."""
    return SIGNERS[event.sourceprincipal].sign(event.headers(), event.value())
