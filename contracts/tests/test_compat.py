"""The compatibility check catches every change that breaks a consumer, and lets additions pass."""

from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from samverkan.contracts.compat import breaking_changes
from samverkan.contracts.referral import ReferralSent
from samverkan.contracts.schemas import event_schema

pytestmark = pytest.mark.unit


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Kind(StrEnum):
    A = "a"
    B = "b"


class OnlyA(StrEnum):
    A = "a"


class WithC(StrEnum):
    A = "a"
    B = "b"
    C = "c"


class Inner(Closed):
    name: str = Field(max_length=50)


class V1(Closed):
    """The committed version every variant below is compared with."""

    id: str
    count: int = Field(ge=0)
    kind: Kind
    note: str | None = None
    inner: Inner


def _variant(**fields: Any) -> dict[str, Any]:
    """V1 with some fields replaced (type, default) or removed (None)."""
    annotations = {k: v for k, v in V1.__annotations__.items() if k not in fields}
    namespace: dict[str, Any] = {k: V1.model_fields[k] for k in annotations}
    for name, spec in fields.items():
        if spec is not None:
            annotations[name] = spec[0]
            namespace[name] = spec[1] if len(spec) > 1 else ...
    model = type("V2", (Closed,), {"__annotations__": annotations, **namespace})
    return model.model_json_schema()


OLD = V1.model_json_schema()


class NarrowInner(Closed):
    name: str = Field(max_length=20)


class InnerLost(Closed):
    pass


@pytest.mark.parametrize(
    ("change", "new", "complaint"),
    [
        ("field removed", _variant(note=None), "$.note: field removed"),
        ("new required field", _variant(extra=(str,)), "$.extra: new required field"),
        ("optional made required", _variant(note=(str,)), "$.note: was optional and is now"),
        ("str narrowed to int", _variant(id=(int,)), "$.id: type string is no longer accepted"),
        ("enum value removed", _variant(kind=(OnlyA,)), "$.kind: value(s) ['b'] removed"),
        ("minimum raised", _variant(count=(int, Field(ge=1))), "$.count: minimum raised to 1"),
        ("nested maxLength lowered", _variant(inner=(NarrowInner,)), "$.inner.name: maxLength"),
        ("nested field removed", _variant(inner=(InnerLost,)), "$.inner.name: field removed"),
        ("pattern added", _variant(id=(str, Field(pattern="^x"))), "$.id: pattern changed"),
    ],
)
def test_a_breaking_change_is_caught_and_named(
    change: str, new: dict[str, Any], complaint: str
) -> None:
    problems = breaking_changes(OLD, new)
    assert any(p.startswith(complaint) for p in problems), (change, problems)


@pytest.mark.parametrize(
    ("change", "new"),
    [
        ("additive optional field", _variant(extra=(str | None, None))),
        ("enum value added", _variant(kind=(WithC,))),
        ("enum widened to any string", _variant(kind=(str,))),
        ("int widened to number", _variant(count=(float, Field(ge=0)))),
        ("minimum dropped", _variant(count=(int,))),
        ("required made optional", _variant(id=(str | None, None))),
        ("unchanged", OLD),
    ],
)
def test_a_backward_compatible_change_passes(change: str, new: dict[str, Any]) -> None:
    assert breaking_changes(OLD, new) == [], change


def test_documentation_changes_are_not_changes() -> None:
    new = _variant(count=(int, Field(ge=0, description="How many, counted twice.")))
    new["title"], new["x-note"] = "Renamed", "annotation"
    assert breaking_changes(OLD, new) == []


def test_a_real_event_schema_is_checked_through_its_definitions() -> None:
    old = event_schema(ReferralSent)
    new = event_schema(ReferralSent)
    del new["$defs"]["Child"]["properties"]["name"]
    new["$defs"]["Need"]["enum"].remove("psychosocial")
    new["required"].append("forwarded_from")
    problems = breaking_changes(old, new)
    assert "$.child.name: field removed" in problems
    assert "$.need: value(s) ['psychosocial'] removed" in problems
    assert "$.forwarded_from: was optional and is now required" in problems
    assert breaking_changes(old, old) == []
