"""The directory document: what it refuses, and the events that make the published state equal it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from samverkan.contracts.directory import (
    FormalisedContactPublished,
    FormalisedContactRetired,
    FunctionPublished,
    FunctionRetired,
    UnitRetired,
)
from samverkan.directory.domain import DirectoryDocument, changes

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def document(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "principal": {
            "principal": "sjostad-kommun",
            "name": "Sjöstads kommun",
            "kind": "municipality",
            "organisation_number": "212000-1231",
        },
        "units": [
            {"unit": "skolan", "name": "Skolan", "kind": "school"},
            {"unit": "soc", "name": "Socialtjänsten", "kind": "social-services-office"},
        ],
        "functions": [
            {"function": "skolskoterska", "name": "Skolsköterska", "unit": "skolan", "mailbox": "sk@x.example",
             "valid_from": "2025-01-01"},
            {"function": "kurator", "name": "Skolkurator", "unit": "skolan",
             "mailbox": "ku@x.example", "valid_from": "2025-01-01"},
            {"function": "mottagning", "name": "Mottagning", "unit": "soc",
             "mailbox": "mo@x.example", "valid_from": "2025-01-01"},
        ],
        "contacts": [
            {"contact": "sk-uph", "function": "skolskoterska", "counterpart_principal": "vastra-regionen",
             "counterpart_function": "uph", "need": "medical-psychological",
             "valid_from": "2025-01-01"},
            {"contact": "ku-soc", "function": "kurator", "counterpart_principal": "sjostad-kommun",
             "counterpart_function": "mottagning", "need": "psychosocial",
             "valid_from": "2025-01-01"},
        ],
    }  # fmt: skip
    body.update(changes)
    return body


def test_functions_carry_their_units_name_and_kind() -> None:
    events = DirectoryDocument.model_validate(document()).events()
    nurse = next(
        e for e in events if isinstance(e, FunctionPublished) and e.function == "skolskoterska"
    )
    assert (nurse.unit_name, nurse.unit_kind.value) == ("Skolan", "school")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda d: d["functions"][0].update(unit="nowhere"),
            "function skolskoterska is at unknown unit",
        ),
        (lambda d: d["contacts"][0].update(function="nobody"), "starts at unknown function"),
        (
            lambda d: d["contacts"][1].update(counterpart_function="nobody-here"),
            "leads to unknown function",
        ),
        (lambda d: d["units"].append(d["units"][0]), "unit skolan appears 2 times"),
        (lambda d: d["functions"][0].update(valid_to="2024-12-31"), "ends before it starts"),
    ],
)
def test_an_inconsistent_document_is_refused_naming_the_problem(change, problem) -> None:  # type: ignore[no-untyped-def]
    body = document()
    change(body)
    with pytest.raises(ValidationError, match=problem):
        DirectoryDocument.model_validate(body)


def test_importing_the_same_document_twice_publishes_nothing_the_second_time() -> None:
    doc = DirectoryDocument.model_validate(document())
    first = changes({}, doc, AT)
    assert len(first) == 1 + 2 + 3 + 2
    current = {e.key(): e for e in first}
    assert changes(current, doc, AT) == []


def test_a_changed_entry_is_republished_and_removed_entries_are_retired_dependents_first() -> None:
    old = DirectoryDocument.model_validate(document())
    current = {e.key(): e for e in old.events()}
    body = document()
    body["units"] = body["units"][:1]
    body["functions"] = [body["functions"][0] | {"valid_to": "2026-06-30"}, body["functions"][1]]
    body["contacts"] = body["contacts"][:1]
    events = changes(current, DirectoryDocument.model_validate(body), AT)

    assert [type(e) for e in events] == [
        FunctionPublished,
        FormalisedContactRetired,
        FunctionRetired,
        UnitRetired,
    ]
    assert events[0].valid_to == date(2026, 6, 30)  # type: ignore[attr-defined]
    assert events[1].contact == "ku-soc"  # type: ignore[attr-defined]
    assert events[2].function == "mottagning"  # type: ignore[attr-defined]
    assert all(getattr(e, "retired_at", AT) == AT for e in events)


def test_the_document_is_rebuilt_from_its_events() -> None:
    doc = DirectoryDocument.model_validate(document())
    rebuilt = DirectoryDocument.from_events(list(reversed(doc.events())))
    assert rebuilt.principal == doc.principal
    for part in ("units", "functions", "contacts"):
        assert sorted(getattr(rebuilt, part), key=repr) == sorted(getattr(doc, part), key=repr)
    contact = next(e for e in doc.events() if isinstance(e, FormalisedContactPublished))
    assert contact.principal == "sjostad-kommun"
