"""The directory document a principal maintains about itself, and the events that announce it."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, model_validator

from samverkan.contracts import Event
from samverkan.contracts.directory import (
    FormalisedContactPublished,
    FormalisedContactRetired,
    FunctionPublished,
    FunctionRetired,
    PrincipalKind,
    PrincipalPublished,
    PrincipalRetired,
    UnitKind,
    UnitPublished,
    UnitRetired,
)
from samverkan.contracts.referral import Need
from samverkan.contracts.values import HsaId, OrganisationNumber, ShortText, Slug


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrincipalEntry(_Strict):
    principal: Slug
    name: ShortText
    kind: PrincipalKind
    organisation_number: OrganisationNumber


class UnitEntry(_Strict):
    unit: Slug
    name: ShortText
    kind: UnitKind
    hsa_id: HsaId | None = None
    area: ShortText | None = None
    uph_assignment: bool = False


class FunctionEntry(_Strict):
    """A function (role) with its functional mailbox, bound to a unit, not to a person."""

    function: Slug
    name: ShortText
    unit: Slug
    mailbox: ShortText
    valid_from: date
    valid_to: date | None = None


class ContactEntry(_Strict):
    """This principal's side of a formalised contact (a proposal, or the confirmation of one)."""

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
    units: list[UnitEntry]
    functions: list[FunctionEntry]
    contacts: list[ContactEntry] = []

    @model_validator(mode="after")
    def _consistent(self) -> DirectoryDocument:
        problems = [
            *_duplicates("unit", [u.unit for u in self.units]),
            *_duplicates("function", [f.function for f in self.functions]),
            *_duplicates("contact", [c.contact for c in self.contacts]),
        ]
        units = {u.unit for u in self.units}
        functions = {f.function for f in self.functions}
        for f in self.functions:
            if f.unit not in units:
                problems.append(f"function {f.function} is at unknown unit {f.unit}")
        for entry in [*self.functions, *self.contacts]:
            if entry.valid_to is not None and entry.valid_to < entry.valid_from:
                problems.append(f"{_name(entry)} ends before it starts")
        for c in self.contacts:
            if c.function not in functions:
                problems.append(f"contact {c.contact} starts at unknown function {c.function}")
            own = c.counterpart_principal == self.principal.principal
            if own and c.counterpart_function not in functions:
                problems.append(
                    f"contact {c.contact} leads to unknown function {c.counterpart_function}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def events(self) -> list[Event]:
        """The document as directory events, in an order a reader can apply one by one."""
        pid = self.principal.principal
        units = {u.unit: u for u in self.units}
        return [
            PrincipalPublished(**self.principal.model_dump()),
            *(UnitPublished(principal=pid, **u.model_dump()) for u in self.units),
            *(
                FunctionPublished(
                    principal=pid,
                    unit_name=units[f.unit].name,
                    unit_kind=units[f.unit].kind,
                    **f.model_dump(),
                )
                for f in self.functions
            ),
            *(FormalisedContactPublished(principal=pid, **c.model_dump()) for c in self.contacts),
        ]

    @classmethod
    def from_events(cls, events: list[Event]) -> DirectoryDocument:
        """The document these (current, published) entries describe: the inverse of events()."""
        by_type: dict[type[Event], list[Event]] = {}
        for event in sorted(events, key=lambda e: e.key()):
            by_type.setdefault(type(event), []).append(event)
        principal = by_type.get(PrincipalPublished, [])
        if not principal:
            raise LookupError("nothing has been imported yet")
        return cls(
            principal=PrincipalEntry.model_validate(principal[0].model_dump()),
            units=[_entry(UnitEntry, e) for e in by_type.get(UnitPublished, [])],
            functions=[_entry(FunctionEntry, e) for e in by_type.get(FunctionPublished, [])],
            contacts=[_entry(ContactEntry, e) for e in by_type.get(FormalisedContactPublished, [])],
        )


def retirement(entry: Event, at: datetime) -> Event | None:
    """The event that retires a published entry, or None if it is not a retirable entry."""
    match entry:
        case PrincipalPublished():
            return PrincipalRetired(principal=entry.principal, retired_at=at)
        case UnitPublished():
            return UnitRetired(principal=entry.principal, unit=entry.unit, retired_at=at)
        case FunctionPublished():
            return FunctionRetired(
                principal=entry.principal, function=entry.function, retired_at=at
            )
        case FormalisedContactPublished():
            return FormalisedContactRetired(
                principal=entry.principal, contact=entry.contact, retired_at=at
            )
    return None


# Retire what depends on an entry before the entry itself.
_RETIRE_ORDER = (FormalisedContactPublished, FunctionPublished, UnitPublished, PrincipalPublished)


def changes(current: dict[str, Event], document: DirectoryDocument, at: datetime) -> list[Event]:
    """What to publish so that the published state becomes `document`: every new or changed entry,
    then a retirement for every entry the document no longer has (keys are not in documents)."""
    wanted = {event.key(): event for event in document.events()}
    published = [event for key, event in wanted.items() if current.get(key) != event]
    gone = [
        event
        for key, event in current.items()
        if key not in wanted and isinstance(event, _RETIRE_ORDER)
    ]
    gone.sort(key=lambda e: (_RETIRE_ORDER.index(type(e)), e.key()))  # type: ignore[arg-type]
    retired = [r for r in (retirement(e, at) for e in gone) if r is not None]
    return published + retired


def _entry(cls: type[_Strict], event: Event) -> _Strict:
    return cls.model_validate(event.model_dump(include=set(cls.model_fields)))


def _duplicates(what: str, ids: list[str]) -> list[str]:
    return [f"{what} {i} appears {n} times" for i, n in Counter(ids).items() if n > 1]


def _name(entry: FunctionEntry | ContactEntry) -> str:
    if isinstance(entry, FunctionEntry):
        return f"function {entry.function}"
    return f"contact {entry.contact}"
