"""The CloudEvents Kafka binary-mode envelope: round trip and precise rejection."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from samverkan.contracts import CloudEvent, InvalidEvent, topics
from samverkan.contracts.envelope import DataClassification, LegalBasis
from samverkan.contracts.referral import ReferralReceived

pytestmark = pytest.mark.unit


def _event() -> CloudEvent:
    data = ReferralReceived(
        referral_id=uuid4(),
        recipient={"principal": "vastra-regionen", "function": "uph-hamnen"},
        received_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    )
    return CloudEvent.wrap(
        data,
        principal="vastra-regionen",
        service="referral",
        recipient="sjostad-kommun",
        legalbasis=LegalBasis.CONSENT,
    )


def test_round_trip_keeps_every_attribute() -> None:
    event = _event()
    parsed = CloudEvent.from_kafka(event.value(), event.headers())
    assert parsed == event
    assert event.topic == topics.REFERRAL
    assert event.key() == str(event.data.referral_id).encode()  # type: ignore[attr-defined]
    headers = dict(event.headers())
    assert headers["ce_type"] == b"se.samverkan.referral.received.v1"
    assert headers["ce_source"] == b"urn:samverkan:vastra-regionen:referral"
    assert headers["ce_recipientprincipal"] == b"sjostad-kommun"
    assert headers["content-type"] == b"application/json"
    assert parsed.dataclassification is DataClassification.INTERNAL


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, v: ({**h, "ce_type": b"se.samverkan.nope.v1"}, v), "unknown event type"),
        (lambda h, v: ({k: x for k, x in h.items() if k != "ce_id"}, v), "ce_id"),
        (lambda h, v: ({**h, "ce_specversion": b"0.3"}, v), "ce_specversion"),
        (lambda h, v: ({**h, "content-type": b"text/plain"}, v), "content-type"),
        (lambda h, v: (h, b"{not json"), "invalid payload"),
        (lambda h, v: (h, b'{"referral_id": "x"}'), "referral_id"),
        (lambda h, v: (h, b"x" * (600 * 1024)), "more than"),
    ],
)
def test_invalid_records_are_rejected_with_a_reason(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    event = _event()
    headers, value = mutate(dict(event.headers()), event.value())
    with pytest.raises(InvalidEvent, match=reason):
        CloudEvent.from_kafka(value, headers)


def test_schema_errors_do_not_echo_values() -> None:
    event = _event()
    bad = event.value().replace(b"uph-hamnen", b"Alva Exempel 20120315-1236")
    with pytest.raises(InvalidEvent) as info:
        CloudEvent.from_kafka(bad, event.headers())
    assert "Alva" not in str(info.value) and "20120315" not in str(info.value)
