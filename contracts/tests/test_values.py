"""Personnummer and organisation numbers are validated once, in the contracts."""

import pytest
from pydantic import TypeAdapter, ValidationError

from samverkan.contracts.values import OrganisationNumber, Personnummer, normalise_personnummer

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
