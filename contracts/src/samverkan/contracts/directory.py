"""Directory events: each principal publishes its own entries; every node builds the full map."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from samverkan.contracts import topics
from samverkan.contracts.events import Event
from samverkan.contracts.referral import Need
from samverkan.contracts.values import OrganisationNumber, ShortText, Slug


class PrincipalKind(StrEnum):
    MUNICIPALITY = "municipality"
    REGION = "region"
    INDEPENDENT_SCHOOL_OPERATOR = "independent-school-operator"


class UnitKind(StrEnum):
    SCHOOL = "school"
    HEALTH_CENTRE = "health-centre"
    SOCIAL_SERVICES_OFFICE = "social-services-office"


class PrincipalPublished(Event):
    """A principal (huvudman) as its own directory describes it."""

    TYPE = "se.samverkan.directory.principal-published.v1"
    TOPIC = topics.DIRECTORY

    principal: Slug
    name: ShortText
    kind: PrincipalKind
    organisation_number: OrganisationNumber

    def key(self) -> str:
        return f"principal:{self.principal}"


class FunctionPublished(Event):
    """A function (role with a functional mailbox, funktionsbrevlåda) at one of the principal's units."""

    TYPE = "se.samverkan.directory.function-published.v1"
    TOPIC = topics.DIRECTORY

    principal: Slug
    function: Slug
    name: ShortText
    unit: Slug
    unit_name: ShortText
    unit_kind: UnitKind
    mailbox: ShortText
    valid_from: date
    valid_to: date | None = None

    def key(self) -> str:
        return f"function:{self.principal}/{self.function}"


class FormalisedContactPublished(Event):
    """A formalised contact: for `need`, the counterpart of a school function is a function elsewhere."""

    TYPE = "se.samverkan.directory.formalised-contact-published.v1"
    TOPIC = topics.DIRECTORY

    principal: Slug
    contact: Slug
    function: Slug
    counterpart_principal: Slug
    counterpart_function: Slug
    need: Need
    valid_from: date
    valid_to: date | None = None

    def key(self) -> str:
        return f"contact:{self.principal}/{self.contact}"
