"""One example payload per event type, with fictional demo data: shown in the AsyncAPI document
and validated against the generated schemas by the tests."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from samverkan.contracts import catalogue as c
from samverkan.contracts import topics
from samverkan.contracts.envelope import CloudEvent

MUNICIPALITY, REGION = "sjostad-kommun", "vastra-regionen"
NURSE = {"principal": MUNICIPALITY, "function": "skolskoterska-ekbacken"}
UPH = {"principal": REGION, "function": "uph-hamnen"}
INTAKE = {"principal": MUNICIPALITY, "function": "mottagning-barn-unga"}
CHILD = {"personnummer": "201203151236", "name": "Alva Exempel"}  # invented, but valid
REFERRAL = UUID("0b9d5c3e-5f0a-4c1e-9a51-3f3a6a2d7e01")
CONSENT = UUID("5c1f2a9b-8d43-4e6f-a0b7-1d2e3f4a5b60")
REPORT = UUID("7e2d4c1b-3a59-4f08-b6c7-d8e9f0a1b2c3")
CONSULTATION = UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
NOTE = UUID("c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f")
CONTACT = UUID("d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6")
FORWARDED = UUID("e5f6a7b8-c9d0-4e1f-9a2b-3c4d5e6f7a8b")
T = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
DAY = date(2026, 11, 23)
NURSE_ID, UPH_ID = "SE2120001231-E000000000101", "SE2321000131-E000000000202"
COUNSELLOR_ID, SOCIAL_ID = "SE2120001231-E000000000102", "SE2120001231-E000000000303"
KEY = base64.b64encode(bytes(range(32))).decode()
SIGNATURE = base64.b64encode(bytes(range(64))).decode()
ROOT = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

_REFERRAL = {"referral_id": REFERRAL, "recipient": UPH}
_CONSENT = {"consent_id": CONSENT, "holder": NURSE}

EXAMPLES: dict[type[c.Event], dict[str, Any]] = {
    c.PrincipalPublished: {
        "principal": MUNICIPALITY,
        "name": "Sjöstads kommun",
        "kind": "municipality",
        "organisation_number": "212000-1231",
    },
    c.PrincipalRetired: {"principal": MUNICIPALITY, "retired_at": T},
    c.UnitPublished: {
        "principal": MUNICIPALITY,
        "unit": "ekbackens-skola",
        "name": "Ekbackens skola",
        "kind": "school",
        "area": "Sjöstad norra",
    },
    c.UnitRetired: {"principal": MUNICIPALITY, "unit": "ekbackens-skola", "retired_at": T},
    c.FunctionPublished: {
        "principal": MUNICIPALITY,
        "function": "skolskoterska-ekbacken",
        "name": "Skolsköterska",
        "unit": "ekbackens-skola",
        "unit_name": "Ekbackens skola",
        "unit_kind": "school",
        "mailbox": "elevhalsan.ekbacken@sjostad.example",
        "valid_from": date(2025, 1, 1),
    },
    c.FunctionRetired: {
        "principal": MUNICIPALITY,
        "function": "skolskoterska-ekbacken",
        "retired_at": T,
    },
    c.FormalisedContactPublished: {
        "principal": MUNICIPALITY,
        "contact": "ekbacken-skolskoterska-uph",
        "function": "skolskoterska-ekbacken",
        "counterpart_principal": REGION,
        "counterpart_function": "uph-hamnen",
        "need": "medical-psychological",
        "valid_from": date(2025, 1, 1),
    },
    c.FormalisedContactRetired: {
        "principal": MUNICIPALITY,
        "contact": "ekbacken-skolskoterska-uph",
        "retired_at": T,
    },
    c.PublicKeyPublished: {
        "principal": MUNICIPALITY,
        "key_id": "sjostad-2026-1",
        "algorithm": "ed25519",
        "public_key": KEY,
        "valid_from": T,
    },
    c.PublicKeyRevoked: {
        "principal": MUNICIPALITY,
        "key_id": "sjostad-2026-1",
        "reason": "superseded",
        "revoked_at": T,
    },
    c.ReferralSent: {
        "referral_id": REFERRAL,
        "sender": NURSE,
        "recipient": UPH,
        "need": "medical-psychological",
        "child": CHILD,
        "reason": "Nedstämdhet och sömnsvårigheter sedan i höstas; frånvaro ökar.",
        "consent": {
            "decided_by": "child-and-guardians",
            "purpose": "Bedömning och stöd i första linjen",
            "given_at": T,
            "consent_id": CONSENT,
        },
        "sent_at": T,
    },
    c.ReferralReceived: {**_REFERRAL, "received_at": T},
    c.ReferralAccepted: {**_REFERRAL, "accepted_by": UPH_ID, "accepted_at": T},
    c.ReferralRejected: {
        **_REFERRAL,
        "rejected_by": UPH_ID,
        "reason_code": "not-first-line",
        "reason_text": "Behovet kräver specialistpsykiatri (BUP).",
        "rejected_at": T,
    },
    c.ReferralForwarded: {
        **_REFERRAL,
        "forwarded_to": {"principal": REGION, "function": "socionom-hamnen"},
        "new_referral_id": FORWARDED,
        "forwarded_by": UPH_ID,
        "reason_text": "Psykosocialt behov: kurator/socionom tar det.",
        "forwarded_at": T,
    },
    c.ReferralSuperseded: {
        "referral_id": REFERRAL,
        "sender": NURSE,
        "superseded_by": FORWARDED,
        "cause": "forwarded",
        "superseded_at": T,
    },
    c.ReferralCancellationRequested: {
        "referral_id": REFERRAL,
        "sender": NURSE,
        "requested_by": NURSE_ID,
        "reason_code": "moved",
        "requested_at": T,
    },
    c.ReferralCancelled: {
        **_REFERRAL,
        "cause": "requested-by-sender",
        "cancelled_by": UPH_ID,
        "cancelled_at": T,
    },
    c.ReferralContactScheduled: {
        **_REFERRAL,
        "contact_id": CONTACT,
        "kind": "check-in-meeting",
        "mode": "video",
        "starts_at": datetime(2026, 11, 30, 13, 0, tzinfo=UTC),
        "duration_minutes": 30,
        "participants": ["child", "guardians", "sending-function", "recipient-function"],
        "video_link": "https://video.vastra.example/m/8c1f",
        "scheduled_by": UPH_ID,
        "scheduled_at": T,
    },
    c.ReferralNoShow: {**_REFERRAL, "contact_id": CONTACT, "recorded_by": UPH_ID, "recorded_at": T},
    c.ReferralPutOnHold: {
        **_REFERRAL,
        "reason_code": "waiting-for-guardian",
        "until": date(2026, 12, 14),
        "put_on_hold_by": UPH_ID,
        "put_on_hold_at": T,
    },
    c.ReferralResumed: {**_REFERRAL, "resumed_by": UPH_ID, "resumed_at": T},
    c.ReferralCompleted: {
        **_REFERRAL,
        "outcome": "sip-initiated",
        "completed_by": UPH_ID,
        "completed_at": T,
    },
    c.ReferralFailed: {
        **_REFERRAL,
        "reason_code": "child-not-reached",
        "failed_by": UPH_ID,
        "failed_at": T,
    },
    c.ConsentGiven: {
        **_CONSENT,
        "child": CHILD,
        "scope": {
            "recipients": [{"principal": REGION, "function": "uph-hamnen"}],
            "purpose": "Bedömning och stöd i första linjen",
            "data_categories": ["identity", "reason-for-referral", "health"],
            "valid_from": DAY,
            "valid_until": date(2027, 6, 30),
        },
        "decided_by": "child-and-guardians",
        "guardians_consenting": 2,
        "maturity": {"child_age": 14, "mature_enough_to_decide": True, "assessed_by": NURSE_ID},
        "recorded_by": NURSE_ID,
        "given_at": T,
    },
    c.ConsentWithdrawn: {
        **_CONSENT,
        "withdrawn_by": "guardians",
        "recorded_by": NURSE_ID,
        "withdrawn_at": T,
    },
    c.ConsentExpired: {**_CONSENT, "valid_until": date(2027, 6, 30), "expired_at": T},
    c.ConcernReportSubmitted: {
        "report_id": REPORT,
        "reporter": {"principal": MUNICIPALITY, "function": "skolkurator-ekbacken"},
        "recipient": INTAKE,
        "child": CHILD,
        "concern": "Eleven berättar om våld i hemmet.",
        "urgent": True,
        "guardians_informed": False,
        "reported_by": COUNSELLOR_ID,
        "submitted_at": T,
    },
    c.ConcernReportReceived: {"report_id": REPORT, "recipient": INTAKE, "received_at": T},
    c.ConcernFeedbackGiven: {
        "report_id": REPORT,
        "recipient": INTAKE,
        "reporter": {"principal": MUNICIPALITY, "function": "skolkurator-ekbacken"},
        "decision": "investigation-opened",
        "given_by": SOCIAL_ID,
        "given_at": T,
    },
    c.ConsultationRequested: {
        "consultation_id": CONSULTATION,
        "requester": NURSE,
        "counterpart": UPH,
        "need": "medical-psychological",
        "age_band": "13-15",
        "question": "En elev i åk 8 har slutat äta lunch och verkar orolig. Hur går vi vidare?",
        "requested_at": T,
    },
    c.ConsultationAnswered: {
        "consultation_id": CONSULTATION,
        "counterpart": UPH,
        "requester": NURSE,
        "answer": "Boka ett samtal med eleven; vid oro för ätstörning, remiss med samtycke.",
        "referral_suggested": True,
        "answered_at": T,
    },
    c.NotificationSent: {
        "notification_id": NOTE,
        "about_event": REFERRAL,
        "about_type": "se.samverkan.referral.sent.v1",
        "principal": REGION,
        "function": "uph-hamnen",
        "channel": "email",
        "sent_at": T,
    },
    c.NotificationFailed: {
        "notification_id": NOTE,
        "about_event": REFERRAL,
        "about_type": "se.samverkan.referral.sent.v1",
        "principal": REGION,
        "function": "uph-hamnen",
        "channel": "email",
        "attempt": 1,
        "will_retry": True,
        "reason": "SMTP 451: try again later",
        "failed_at": T,
    },
    c.ReferralOverdue: {
        "notification_id": NOTE,
        "referral_id": REFERRAL,
        "stage": "not-decided",
        "sender": NURSE,
        "recipient": UPH,
        "working_days": 5,
        "due_at": T,
        "detected_at": T,
    },
    c.CheckpointSigned: {
        "principal": MUNICIPALITY,
        "tree_size": 1024,
        "root_hash": ROOT,
        "key_id": "sjostad-2026-1",
        "signature": SIGNATURE,
        "signed_at": T,
    },
    c.CheckpointWitnessed: {
        "principal": MUNICIPALITY,
        "tree_size": 1024,
        "root_hash": ROOT,
        "witness": REGION,
        "witness_key_id": "vastra-2026-1",
        "cosignature": SIGNATURE,
        "witnessed_at": T,
    },
    c.CheckpointInconsistent: {
        "principal": MUNICIPALITY,
        "tree_size": 1024,
        "root_hash": ROOT,
        "previous_size": 1000,
        "previous_root_hash": ROOT,
        "witness": REGION,
        "reason": "the consistency proof from size 1000 does not verify",
        "detected_at": T,
    },
    c.AccessLogged: {
        "access_id": NOTE,
        "accessed_by": UPH_ID,
        "function": UPH,
        "action": "read",
        "resource_type": "referral",
        "resource_id": REFERRAL,
        "accessed_at": T,
    },
    c.DeadLettered: {
        "consumer_group": "vastra-regionen.referral",
        "topic": "samverkan.referral.v1",
        "partition": 2,
        "offset": 41,
        "key_b64": base64.b64encode(str(REFERRAL).encode()).decode(),
        "value_b64": base64.b64encode(b"{not json").decode(),
        "headers": {"ce_type": "se.samverkan.referral.sent.v1"},
        "reason": "invalid payload: (root): Invalid JSON",
        "dead_lettered_at": T,
    },
}


def example(event_class: type[c.Event]) -> c.Event:
    return event_class.model_validate(EXAMPLES[event_class])


# Events the region's nodes emit in the examples; the municipality's emit the rest.
FROM_REGION = {
    c.ReferralReceived, c.ReferralAccepted, c.ReferralRejected, c.ReferralForwarded,
    c.ReferralCancelled, c.ReferralContactScheduled, c.ReferralNoShow, c.ReferralPutOnHold,
    c.ReferralResumed, c.ReferralCompleted, c.ReferralFailed, c.ConsultationAnswered, c.NotificationSent,
    c.NotificationFailed, c.ReferralOverdue, c.CheckpointWitnessed, c.CheckpointInconsistent, c.AccessLogged, c.DeadLettered,
}  # fmt: skip
_SERVICE = {topics.DIRECTORY: "directory", topics.NOTIFICATION: "notification"}
_SERVICE |= {topics.AUDIT: "audit", topics.DEAD_LETTER: "referral"}
_FOR_EVERYONE = {topics.DIRECTORY, topics.AUDIT, topics.DEAD_LETTER}


def envelope(event_class: type[c.Event]) -> CloudEvent:
    """The example payload in a complete envelope, with fixed id and time."""
    source = REGION if event_class in FROM_REGION else MUNICIPALITY
    other = MUNICIPALITY if source == REGION or event_class.TOPIC == topics.CONCERN else REGION
    event = CloudEvent.wrap(
        example(event_class),
        principal=source,
        service=_SERVICE.get(event_class.TOPIC, "referral"),
        recipient=None if event_class.TOPIC in _FOR_EVERYONE else other,
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    return event.model_copy(update={"id": uuid5(NAMESPACE_URL, event_class.TYPE), "time": T})
