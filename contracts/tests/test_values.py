"""Personnummer, organisation numbers and anonymous text are validated once, in the contracts."""

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from samverkan.contracts import CloudEvent, InvalidEvent
from samverkan.contracts.consultation import ConsultationRequested
from samverkan.contracts.examples import envelope
from samverkan.contracts.values import (
    AnonymousText,
    OrganisationNumber,
    Personnummer,
    normalise_personnummer,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("20120315-1236", "201203151236"),
        ("201203151236", "201203151236"),
        ("20120375-1233", "201203751233"),  # samordningsnummer: day 15 + 60
    ],
)
def test_valid_numbers_are_normalised(given: str, canonical: str) -> None:
    assert normalise_personnummer(given) == canonical


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("20120315-1235", "check digit"),
        ("20120230-1236", "birth date"),
        ("120315-1236", "12 digits"),
        ("2012031512a6", "12 digits"),
    ],
)
def test_invalid_numbers_say_what_is_wrong(given: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        normalise_personnummer(given)


def test_organisation_number_check_digit() -> None:
    adapter = TypeAdapter(OrganisationNumber)
    assert adapter.validate_python("2120001231") == "212000-1231"
    with pytest.raises(ValidationError):
        adapter.validate_python("212000-1232")


def test_personnummer_type_rejects_without_echoing_value() -> None:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(Personnummer).validate_python("20120315-1235")
    assert "check digit" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "Eleven 20120315-1236 är orolig",
        "gäller 120315-1236",
        "gäller 1203151236.",
        "201203151236",
        "pnr 120315 1236",
        "samordningsnummer 20120375-1233",
        "fel kontrollsiffra 20120315-1235",  # not a valid number, still identifying
    ],
)
def test_anonymous_text_refuses_anything_shaped_like_a_personnummer(text: str) -> None:
    with pytest.raises(ValidationError, match="shaped like a personnummer"):
        TypeAdapter(AnonymousText).validate_python(text)
    schema = TypeAdapter(AnonymousText).json_schema()
    assert re.search(schema["not"]["pattern"], text), "the JSON Schema must refuse it too"


@pytest.mark.parametrize(
    "text",
    [
        "En elev i åk 8 har varit frånvarande 3 dagar i veckan sedan 2026-09-01.",
        "Ring 031-123 45 67 om det brådskar.",
        "Gäller 12 elever, ålder 13-15.",
    ],
)
def test_anonymous_text_keeps_ordinary_numbers(text: str) -> None:
    assert TypeAdapter(AnonymousText).validate_python(text) == text
    schema = TypeAdapter(AnonymousText).json_schema()
    assert not re.search(schema["not"]["pattern"], text)


def test_refused_anonymous_text_is_not_echoed_in_the_dead_letter_reason() -> None:
    event = envelope(ConsultationRequested)
    value = event.value().replace(b"En elev i", b"Alva 20120315-1236 i")
    with pytest.raises(InvalidEvent, match="question") as info:
        CloudEvent.from_kafka(value, event.headers())
    assert "20120315" not in str(info.value) and "Alva" not in str(info.value)
