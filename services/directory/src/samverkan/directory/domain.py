"""The directory document a principal maintains about itself, and the events it publishes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, model_validator

from samverkan.contracts import Event
from samverkan.contracts.directory import (
    FormalisedContactPublished,
    FunctionPublished,
    PrincipalKind,
    PrincipalPublished,
    UnitKind,
)
from samverkan.contracts.referral import Need
from samverkan.contracts.values import OrganisationNumber, ShortText, Slug


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrincipalEntry(_Strict):
    principal: Slug
    name: ShortText
    kind: PrincipalKind
    organisation_number: OrganisationNumber


class FunctionEntry(_Strict):
    function: Slug
    name: ShortText
    unit: Slug
    unit_name: ShortText
    unit_kind: UnitKind
    mailbox: ShortText
    valid_from: date
    valid_to: date | None = None


class ContactEntry(_Strict):
    contact: Slug
    function: Slug
    counterpart_principal: Slug
    counterpart_function: Slug
    need: Need
    valid_from: date
    valid_to: date | None = None


class DirectoryDocument(_Strict):
    """Everything one principal says about itself; imported whole by its admin."""

    principal: PrincipalEntry
    functions: list[FunctionEntry]
    contacts: list[ContactEntry] = []

    @model_validator(mode="after")
    def _contacts_start_at_own_functions(self) -> DirectoryDocument:
        own = {f.function for f in self.functions}
        unknown = sorted({c.function for c in self.contacts} - own)
        if unknown:
            raise ValueError(
                f"contacts refer to functions not in this document: {', '.join(unknown)}"
            )
        return self

    def events(self) -> list[Event]:
        """The document as directory events, in an order a reader can apply one by one."""
        pid = self.principal.principal
        return [
            PrincipalPublished(**self.principal.model_dump()),
            *(FunctionPublished(principal=pid, **f.model_dump()) for f in self.functions),
            *(FormalisedContactPublished(principal=pid, **c.model_dump()) for c in self.contacts),
        ]
