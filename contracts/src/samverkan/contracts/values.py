"""Shared value types, validated once: personnummer/samordningsnummer, ids, organisation numbers."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

_PNR = re.compile(r"^(\d{4})(\d{2})(\d{2})[-+]?(\d{3})(\d)$")
# Anything shaped like a personnummer or samordningsnummer, with or without century or separator,
# valid or not: in anonymous text even a mistyped number is a number that identifies someone.
PERSONNUMMER_SHAPED = r"(^|[^0-9])([0-9]{2})?[0-9]{6}[-+ ]?[0-9]{4}([^0-9]|$)"
_PNR_SHAPED = re.compile(PERSONNUMMER_SHAPED)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def normalise_personnummer(value: str) -> str:
    """Return the canonical 12-digit form YYYYMMDDNNNC, or raise ValueError saying what is wrong.

    Samordningsnummer (co-ordination numbers) are accepted: their day is the birth day plus 60.
    """
    match = _PNR.match(value.strip())
    if not match:
        raise ValueError("personnummer must be 12 digits, YYYYMMDD-NNNC")
    year, month, day, serial, check = match.groups()
    real_day = int(day) - 60 if int(day) > 60 else int(day)
    try:
        date(int(year), int(month), real_day)
    except ValueError:
        raise ValueError("personnummer has no valid birth date") from None
    if not luhn_ok(f"{year[2:]}{month}{day}{serial}{check}"):
        raise ValueError("personnummer check digit is wrong")
    return f"{year}{month}{day}{serial}{check}"


def _organisation_number(value: str) -> str:
    digits = value.replace("-", "")
    if not re.fullmatch(r"\d{10}", digits) or not luhn_ok(digits):
        raise ValueError("organisation number must be NNNNNN-NNNN with a valid check digit")
    return f"{digits[:6]}-{digits[6:]}"


def _no_personnummer(value: str) -> str:
    if _PNR_SHAPED.search(value):
        raise ValueError("anonymous text must not contain anything shaped like a personnummer")
    return value


Personnummer = Annotated[
    str,
    AfterValidator(normalise_personnummer),
    Field(
        description="Personnummer or samordningsnummer, YYYYMMDDNNNC (date and Luhn check "
        "digit are validated; producers send the 12 digits without separator).",
        json_schema_extra={"pattern": r"^[0-9]{8}[-+]?[0-9]{4}$"},
    ),
]
OrganisationNumber = Annotated[
    str,
    AfterValidator(_organisation_number),
    Field(
        description="Swedish organisation number NNNNNN-NNNN (Luhn check digit validated).",
        json_schema_extra={"pattern": r"^[0-9]{6}-?[0-9]{4}$"},
    ),
]

# Principal, unit and function ids are stable slugs chosen by the owning principal.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,62}[a-z0-9]$")]
# HSA-style ids: a country code, an organisation part and a local part, e.g. SE2321000131-E000000000001.
HsaId = Annotated[str, StringConstraints(pattern=r"^SE[0-9A-Z]{10,12}-[0-9A-Za-z]{1,31}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
FreeText = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]
# The person who acted: the HSA-style id (`sub` of the staff token), never a name.
PersonId = ShortText
# Text that crosses principals without consent (consultations): must not identify a child.
AnonymousText = Annotated[
    FreeText,
    AfterValidator(_no_personnummer),
    Field(json_schema_extra={"not": {"pattern": PERSONNUMMER_SHAPED}}),
]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$", max_length=2000)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
# Ed25519 keys are 32 bytes and signatures 64 bytes, in standard base64 with padding.
Ed25519PublicKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")]
Ed25519Signature = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{86}==$")]
