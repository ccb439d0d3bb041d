"""Directory events: each principal publishes its own entries; every node builds the full map.

An entry is upserted by its *-published event and removed by its *-retired event; both share a
key, so the last event per key is the entry's state. Public, and replayed from the beginning.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from samverkan.contracts import topics
from samverkan.contracts.events import DataClassification, Event
from samverkan.contracts.parties import Need
from samverkan.contracts.values import (
    Ed25519PublicKey,
    HsaId,
    OrganisationNumber,
    ShortText,
    Slug,
)


class PrincipalKind(StrEnum):
    MUNICIPALITY = "municipality"
    REGION = "region"
    INDEPENDENT_SCHOOL_OPERATOR = "independent-school-operator"


class UnitKind(StrEnum):
    SCHOOL = "school"
    HEALTH_CENTRE = "health-centre"
    SOCIAL_SERVICES_OFFICE = "social-services-office"


class _Directory(Event):
    TOPIC = topics.DIRECTORY
    CLASSIFICATION = DataClassification.PUBLIC


class PrincipalPublished(_Directory):
    """A principal (huvudman) as its own directory describes it: emitted by that principal's
    directory service when the entry is created or changed (an upsert)."""

    TYPE = "se.samverkan.directory.principal-published.v1"
    KEY = "principal:{principal}"

    principal: Slug
    name: ShortText
    kind: PrincipalKind
    organisation_number: OrganisationNumber


class PrincipalRetired(_Directory):
    """Emitted by a principal's directory service when the principal leaves the network."""

    TYPE = "se.samverkan.directory.principal-retired.v1"
    KEY = "principal:{principal}"

    principal: Slug
    retired_at: datetime


class UnitPublished(_Directory):
    """A unit (a school, health centre or social-services office) of the principal: emitted by the
    principal's directory service when the entry is created or changed (an upsert)."""

    TYPE = "se.samverkan.directory.unit-published.v1"
    KEY = "unit:{principal}/{unit}"

    principal: Slug
    unit: Slug
    name: ShortText
    kind: UnitKind
    hsa_id: HsaId | None = None
    area: ShortText | None = Field(
        default=None, description="Geographical area, for following up equality by area."
    )
    uph_assignment: bool = Field(
        default=False,
        description="A health centre holding the additional assignment Ungas psykiska hälsa (UPH).",
    )


class UnitRetired(_Directory):
    """Emitted by the principal's directory service when a unit closes or leaves the network."""

    TYPE = "se.samverkan.directory.unit-retired.v1"
    KEY = "unit:{principal}/{unit}"

    principal: Slug
    unit: Slug
    retired_at: datetime


class FunctionPublished(_Directory):
    """A function (role with a functional mailbox, funktionsbrevlåda) at one of the principal's
    units: emitted by the principal's directory service when created or changed (an upsert)."""

    TYPE = "se.samverkan.directory.function-published.v1"
    KEY = "function:{principal}/{function}"

    principal: Slug
    function: Slug
    name: ShortText
    unit: Slug
    unit_name: ShortText
    unit_kind: UnitKind
    mailbox: ShortText
    valid_from: date
    valid_to: date | None = None


class FunctionRetired(_Directory):
    """Emitted by the principal's directory service when a function is removed; referrals can no
    longer be addressed to it."""

    TYPE = "se.samverkan.directory.function-retired.v1"
    KEY = "function:{principal}/{function}"

    principal: Slug
    function: Slug
    retired_at: datetime


class FormalisedContactPublished(_Directory):
    """One side of a formalised contact: for `need`, the counterpart of the principal's function
    is `counterpart_function` at `counterpart_principal`. Emitted by the function's principal when
    created or changed (an upsert).

    A contact one principal publishes is a proposal; the counterpart principal confirms it by
    publishing the mirrored side (its function → the proposer's function, same need). Only a
    confirmed contact routes, on the days both sides and both functions are valid. A contact
    between two functions of one principal needs no mirror. If one function has confirmed, valid
    contacts to two different counterparts for one need, routing refuses (no silent choice).
    """

    TYPE = "se.samverkan.directory.formalised-contact-published.v1"
    KEY = "contact:{principal}/{contact}"

    principal: Slug
    contact: Slug
    function: Slug
    counterpart_principal: Slug
    counterpart_function: Slug
    need: Need
    valid_from: date
    valid_to: date | None = None


class FormalisedContactRetired(_Directory):
    """Emitted by the principal's directory service when a formalised contact ends."""

    TYPE = "se.samverkan.directory.formalised-contact-retired.v1"
    KEY = "contact:{principal}/{contact}"

    principal: Slug
    contact: Slug
    retired_at: datetime


class PublicKeyPublished(_Directory):
    """A principal's Ed25519 public key: emitted by its directory service when a signing key is
    taken into use. Every consumer verifies that principal's events against its keys."""

    TYPE = "se.samverkan.directory.public-key-published.v1"
    KEY = "key:{principal}/{key_id}"

    principal: Slug
    key_id: Slug
    algorithm: Literal["ed25519"]
    public_key: Ed25519PublicKey
    valid_from: datetime
    valid_to: datetime | None = None


class KeyRevocationReason(StrEnum):
    SUPERSEDED = "superseded"  # rotated: a newer key signs from now on
    COMPROMISED = "compromised"
    RETIRED = "retired"


class PublicKeyRevoked(_Directory):
    """Emitted by a principal's directory service when one of its keys must no longer be trusted.

    Events signed with the key after `revoked_at` are rejected; when the key was compromised,
    also those signed after `compromised_since`.
    """

    TYPE = "se.samverkan.directory.public-key-revoked.v1"
    KEY = "key:{principal}/{key_id}"

    principal: Slug
    key_id: Slug
    reason: KeyRevocationReason
    compromised_since: datetime | None = None
    revoked_at: datetime
