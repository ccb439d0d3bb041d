"""The mCSD export of the demo dataset validates against the FHIR R4 resource models."""

from __future__ import annotations

import json
from datetime import date
from importlib.resources import files
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from samverkan.directory import mcsd
from samverkan.directory.domain import DirectoryDocument

pytestmark = pytest.mark.unit


def demo(principal: str) -> DirectoryDocument:
    text = files("samverkan.devnet").joinpath("data", f"{principal}.json").read_text()
    return DirectoryDocument.model_validate_json(text)


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


@pytest.mark.parametrize("principal", ["sjostad-kommun", "vastra-regionen"])
def test_the_export_is_a_valid_fhir_bundle_with_every_entry(principal: str) -> None:
    document = demo(principal)
    bundle = mcsd.bundle(document, date(2026, 3, 1))
    parsed = Bundle.model_validate(json.loads(json.dumps(bundle)))  # as an integrator reads it
    assert parsed.type == "collection"
    assert len(resources(bundle, "Organization")) == 1 + len(document.units)
    assert len(resources(bundle, "PractitionerRole")) == len(document.functions)
    assert len(resources(bundle, "Endpoint")) == len(document.functions)
    assert len(resources(bundle, "OrganizationAffiliation")) == len(document.contacts)
    # mCSD: every Organization has a name and a type; every Endpoint an address and a status.
    assert all(o["name"] and o["type"] for o in resources(bundle, "Organization"))
    assert all(e["status"] in {"active", "off"} for e in resources(bundle, "Endpoint"))
    ids = [e["fullUrl"] for e in bundle["entry"]]
    assert len(ids) == len(set(ids))
    referenced = {
        ref["reference"]
        for r in resources(bundle, "PractitionerRole")
        for ref in [r["organization"], *r["endpoint"]]
    }
    assert referenced <= set(ids), "every reference resolves inside the bundle"


def test_functions_are_roles_without_a_person_reachable_by_their_mailbox() -> None:
    bundle = mcsd.bundle(demo("vastra-regionen"), date(2026, 3, 1))
    role = next(
        r
        for r in resources(bundle, "PractitionerRole")
        if r["identifier"][0]["value"] == "vastra-regionen/uph-hamnen"
    )
    assert "practitioner" not in role
    assert role["telecom"] == [
        {"system": "email", "value": "uph.hamnen@vastra.example", "use": "work"}
    ]
    assert role["active"] is True
    assert role["healthcareService"], "the UPH team belongs to the UPH service"
    [service] = [
        s
        for s in resources(bundle, "HealthcareService")
        if s["id"] == role["healthcareService"][0]["reference"].removeprefix("urn:uuid:")
    ]
    assert "Ungas psykiska hälsa" in service["name"]


def test_a_broken_export_would_not_validate() -> None:
    bundle = mcsd.bundle(demo("vastra-regionen"), date(2026, 3, 1))
    del resources(bundle, "Endpoint")[0]["address"]
    with pytest.raises(ValidationError, match="address"):
        Bundle.model_validate(bundle)
