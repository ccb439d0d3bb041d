"""The catalogue: every event documented, typed, routed and keyed by the same rules."""

import inspect
import re

import pytest

from samverkan.contracts import CloudEvent, topics
from samverkan.contracts.catalogue import EVENT_CLASSES, EVENT_TYPES
from samverkan.contracts.examples import EXAMPLES, envelope, example

pytestmark = pytest.mark.unit

TYPE = re.compile(r"^se\.samverkan\.(?P<domain>[a-z]+)\.[a-z]+(-[a-z]+)*\.v(?P<major>[1-9]\d*)$")
TOPIC = re.compile(r"^samverkan\.(?P<domain>[a-z]+)\.v(?P<major>[1-9]\d*)$")


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_each_event_says_when_it_is_emitted_and_by_whom(cls) -> None:  # type: ignore[no-untyped-def]
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    assert "emitted" in doc.lower(), f"{cls.__name__} must say when and by whom it is emitted"


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_type_and_topic_name_the_same_domain_and_major_version(cls) -> None:  # type: ignore[no-untyped-def]
    event_type, topic = TYPE.match(cls.TYPE), TOPIC.match(cls.TOPIC)
    assert event_type and topic, (cls.TYPE, cls.TOPIC)
    assert event_type["major"] == topic["major"]
    assert cls.TOPIC in topics.ALL


def test_types_and_names_are_unique_and_every_topic_is_used_and_described() -> None:
    assert len(EVENT_TYPES) == len(EVENT_CLASSES)
    assert len({cls.__name__ for cls in EVENT_CLASSES}) == len(EVENT_CLASSES)
    assert {cls.TOPIC for cls in EVENT_CLASSES} == set(topics.ALL) == set(topics.DESCRIPTIONS)


def test_the_issue_catalogue_is_complete() -> None:
    names = {t.split(".", 2)[2] for t in EVENT_TYPES}
    wanted = {
        *(f"referral.{e}.v1" for e in ("sent", "received", "accepted", "rejected", "forwarded")),
        *(f"referral.{e}.v1" for e in ("cancellation-requested", "cancelled", "superseded")),
        *(f"referral.{e}.v1" for e in ("contact-scheduled", "no-show", "completed", "failed")),
        *(f"referral.{e}.v1" for e in ("put-on-hold", "resumed")),
        *(f"consent.{e}.v1" for e in ("given", "withdrawn", "expired")),
        *(f"concern.{e}.v1" for e in ("submitted", "received", "feedback-given")),
        *(f"consultation.{e}.v1" for e in ("requested", "answered")),
        *(
            f"directory.{entity}-{change}.v1"
            for entity in ("principal", "unit", "function", "formalised-contact")
            for change in ("published", "retired")
        ),
        "directory.public-key-published.v1",
        "directory.public-key-revoked.v1",
        *(f"notification.{e}.v1" for e in ("sent", "failed", "referral-overdue")),
        *(
            f"audit.{e}.v1"
            for e in (
                "checkpoint-signed",
                "checkpoint-witnessed",
                "checkpoint-inconsistent",
                "access-logged",
            )
        ),
        "deadletter.dead-lettered.v1",
    }
    assert names == wanted


def test_events_of_one_aggregate_share_a_key() -> None:
    by_topic = {
        topics.REFERRAL: "{referral_id}",
        topics.CONSENT: "{consent_id}",
        topics.CONCERN: "{report_id}",
        topics.CONSULTATION: "{consultation_id}",
        topics.NOTIFICATION: "{notification_id}",
    }
    for cls in EVENT_CLASSES:
        assert by_topic.get(cls.TOPIC, cls.KEY) == cls.KEY, cls.__name__
    directory = {cls.__name__: cls.KEY for cls in EVENT_CLASSES if cls.TOPIC == topics.DIRECTORY}
    for entity in ("Principal", "Unit", "Function", "FormalisedContact"):
        assert directory[f"{entity}Published"] == directory[f"{entity}Retired"]
    assert directory["PublicKeyPublished"] == directory["PublicKeyRevoked"]
    prefixes = {key.split(":")[0] for key in directory.values()}
    assert prefixes == {"principal", "unit", "function", "contact", "key"}


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_example_round_trips_through_the_kafka_envelope(cls) -> None:  # type: ignore[no-untyped-def]
    event = envelope(cls)
    parsed = CloudEvent.from_kafka(event.value(), event.headers())
    assert parsed == event
    assert parsed.data == example(cls)
    assert event.key() == cls.KEY.format_map(dict(event.data)).encode()
    assert parsed.dataclassification is cls.CLASSIFICATION
    assert parsed.legalbasis is cls.LEGAL_BASIS


def test_every_event_has_an_example() -> None:
    assert set(EXAMPLES) == set(EVENT_CLASSES)


def test_names_services_import_still_exist() -> None:
    from samverkan.contracts import directory, referral

    for name in ("ReferralSent", "ReferralReceived", "ReferralAccepted", "ReferralRejected"):
        assert getattr(referral, name).TOPIC == topics.REFERRAL
    for name in ("FunctionRef", "Child", "ConsentStatement", "Need", "Decider"):
        assert hasattr(referral, name)
    for name in ("PrincipalPublished", "FunctionPublished", "FormalisedContactPublished"):
        assert getattr(directory, name).TOPIC == topics.DIRECTORY
