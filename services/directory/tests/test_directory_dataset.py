"""The demo dataset holds every formalised contact the seeds describe, and each is confirmed."""

from __future__ import annotations

from importlib.resources import files

import pytest

from samverkan.contracts.directory import UnitKind
from samverkan.directory.domain import DirectoryDocument

pytestmark = pytest.mark.unit

MUNICIPALITY, REGION = "sjostad-kommun", "vastra-regionen"


def demo(principal: str) -> DirectoryDocument:
    text = files("samverkan.devnet").joinpath("data", f"{principal}.json").read_text()
    return DirectoryDocument.model_validate_json(text)


def test_one_municipality_with_three_schools_and_social_services_and_a_region_with_two_uph_centres() -> (
    None
):
    municipality, region = demo(MUNICIPALITY), demo(REGION)
    kinds = [u.kind for u in municipality.units]
    assert kinds.count(UnitKind.SCHOOL) == 3
    assert kinds.count(UnitKind.SOCIAL_SERVICES_OFFICE) == 1
    assert [u.kind for u in region.units] == [UnitKind.HEALTH_CENTRE] * 2
    assert all(u.uph_assignment for u in region.units)


def test_every_nurse_and_counsellor_has_the_contacts_of_the_model_each_confirmed() -> None:
    municipality, region = demo(MUNICIPALITY), demo(REGION)
    functions = {
        (p.principal.principal, f.function): f for p in (municipality, region) for f in p.functions
    }
    sides = {
        (p.principal.principal, c.function, c.counterpart_principal, c.counterpart_function, c.need)
        for p in (municipality, region)
        for c in p.contacts
    }
    schools = [u.unit for u in municipality.units if u.kind is UnitKind.SCHOOL]
    for school in schools:
        staff = [f for f in municipality.functions if f.unit == school]
        names = sorted(f.name for f in staff)
        assert names == ["Skolkurator", "Skolsköterska"], school
        for f in staff:
            targets = {
                functions[(cp, cf)].name
                for (p, fn, cp, cf, need) in sides
                if (p, fn) == (MUNICIPALITY, f.function)
            }
            expected = (
                {"UPH-team (Ungas psykiska hälsa)"}
                if f.name == "Skolsköterska"
                else {"Kurator/socionom", "Mottagning barn och unga"}
            )
            assert targets == expected, f.function
    for p, fn, cp, cf, need in sides:
        if p == MUNICIPALITY and cp == REGION:
            assert (cp, cf, p, fn, need) in sides, f"{fn} → {cf} is not confirmed by the region"


def test_the_ids_the_demo_and_tests_use_are_stable() -> None:
    municipality, region = demo(MUNICIPALITY), demo(REGION)
    ids = {f.function for f in municipality.functions} | {f.function for f in region.functions}
    assert {
        "skolskoterska-ekbacken",
        "skolkurator-ekbacken",
        "mottagning-barn-unga",
        "uph-hamnen",
        "socionom-hamnen",
    } <= ids
    nurse = next(c for c in municipality.contacts if c.function == "skolskoterska-ekbacken")
    assert (nurse.counterpart_principal, nurse.counterpart_function, nurse.need.value) == (
        REGION,
        "uph-hamnen",
        "medical-psychological",
    )
