"""Export of the directory as an IHE mCSD (FHIR R4) Bundle: Organization, HealthcareService,
PractitionerRole (a function: a role with no practitioner), Endpoint and OrganizationAffiliation.

- the principal and each unit are Organizations (a unit is `partOf` its principal);
- a unit holding the UPH assignment offers the HealthcareService "Ungas psykiska hälsa";
- each function is a PractitionerRole without a practitioner, since the contact is bound to the
  function and not to a person; its functional mailbox is an e-mail telecom and an Endpoint;
- each formalised contact is an OrganizationAffiliation: this principal's unit and the
  counterpart principal, the need as its code, and the two functions as extensions.
Resource ids are name-based UUIDs, stable across exports and unique across principals.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from samverkan.contracts.directory import PrincipalKind, UnitKind
from samverkan.directory.domain import ContactEntry, DirectoryDocument, FunctionEntry, UnitEntry

BASE = "https://samverkan.example/fhir"
PRINCIPAL_SYSTEM = f"{BASE}/sid/principal"
UNIT_SYSTEM = f"{BASE}/sid/unit"
FUNCTION_SYSTEM = f"{BASE}/sid/function"
CONTACT_SYSTEM = f"{BASE}/sid/formalised-contact"
NEED_SYSTEM = f"{BASE}/CodeSystem/need"
FUNCTION_EXTENSION = f"{BASE}/StructureDefinition/formalised-contact-function"
COUNTERPART_EXTENSION = f"{BASE}/StructureDefinition/formalised-contact-counterpart-function"
ORGANISATION_NUMBER_SYSTEM = "urn:oid:2.5.4.97"  # organisationsnummer
HSA_SYSTEM = "urn:oid:1.2.752.29.4.19"  # HSA-id
_ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
_CONNECTION_TYPE = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
_UNIT_TYPE = {
    UnitKind.SCHOOL: ("edu", "Educational Institute"),
    UnitKind.HEALTH_CENTRE: ("prov", "Healthcare Provider"),
    UnitKind.SOCIAL_SERVICES_OFFICE: ("govt", "Government"),
}
_PRINCIPAL_LABEL = {
    PrincipalKind.MUNICIPALITY: "kommun",
    PrincipalKind.REGION: "region",
    PrincipalKind.INDEPENDENT_SCHOOL_OPERATOR: "enskild huvudman",
}
_NEED_LABEL = {
    "medical-psychological": "Medicinskt/psykologiskt behov",
    "psychosocial": "Psykosocialt behov",
}
_NAMESPACE = uuid.UUID("6f1b0d0e-5a4d-4c8e-9a57-5a3b7e2d1c40")


def bundle(document: DirectoryDocument, today: date) -> dict[str, Any]:
    """The document as an mCSD collection Bundle; `today` decides which entries are active."""
    pid = document.principal.principal
    resources = [_principal(document)]
    resources += [_unit(pid, u) for u in document.units]
    resources += [_uph_service(pid, u) for u in document.units if u.uph_assignment]
    units = {u.unit: u for u in document.units}
    for f in document.functions:
        resources += [_function(pid, f, units[f.unit], today), _endpoint(pid, f, today)]
    resources += [_contact(pid, c, today) for c in document.contacts]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": _url(r["resourceType"], r["id"]), "resource": r} for r in resources],
    }


def _id(kind: str, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join((kind, *parts))))


def _url(resource_type: str, resource_id: str) -> str:
    return f"urn:uuid:{resource_id}"


def _ref(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": _url(resource_type, resource_id), "type": resource_type}


def _active(valid_from: date, valid_to: date | None, today: date) -> bool:
    return valid_from <= today and (valid_to is None or today <= valid_to)


def _period(valid_from: date, valid_to: date | None) -> dict[str, str]:
    period = {"start": valid_from.isoformat()}
    if valid_to is not None:
        period["end"] = valid_to.isoformat()
    return period


def _principal(document: DirectoryDocument) -> dict[str, Any]:
    p = document.principal
    return {
        "resourceType": "Organization",
        "id": _id("principal", p.principal),
        "identifier": [
            {
                "use": "official",
                "system": ORGANISATION_NUMBER_SYSTEM,
                "value": p.organisation_number,
            },
            {"system": PRINCIPAL_SYSTEM, "value": p.principal},
        ],
        "active": True,
        "type": [
            {
                "coding": [{"system": _ORG_TYPE, "code": "govt", "display": "Government"}],
                "text": _PRINCIPAL_LABEL[p.kind],
            }
        ],
        "name": p.name,
    }


def _unit(pid: str, u: UnitEntry) -> dict[str, Any]:
    code, display = _UNIT_TYPE[u.kind]
    identifiers = [{"system": UNIT_SYSTEM, "value": f"{pid}/{u.unit}"}]
    if u.hsa_id:
        identifiers.append({"use": "official", "system": HSA_SYSTEM, "value": u.hsa_id})
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": _id("unit", pid, u.unit),
        "identifier": identifiers,
        "active": True,
        "type": [
            {
                "coding": [{"system": _ORG_TYPE, "code": code, "display": display}],
                "text": u.kind.value,
            }
        ],
        "name": u.name,
        "partOf": _ref("Organization", _id("principal", pid)),
    }
    if u.area:
        resource["address"] = [{"use": "work", "district": u.area, "country": "SE"}]
    return resource


def _uph_service(pid: str, u: UnitEntry) -> dict[str, Any]:
    return {
        "resourceType": "HealthcareService",
        "id": _id("uph", pid, u.unit),
        "active": True,
        "providedBy": _ref("Organization", _id("unit", pid, u.unit)),
        "type": [{"text": "Ungas psykiska hälsa (UPH)"}],
        "name": f"Ungas psykiska hälsa, {u.name}",
        "comment": "Första linjens vård för barn och ungas psykiska hälsa (tilläggsuppdrag).",
    }


def _function(pid: str, f: FunctionEntry, unit: UnitEntry, today: date) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": _id("function", pid, f.function),
        "identifier": [{"system": FUNCTION_SYSTEM, "value": f"{pid}/{f.function}"}],
        "active": _active(f.valid_from, f.valid_to, today),
        "period": _period(f.valid_from, f.valid_to),
        "organization": _ref("Organization", _id("unit", pid, f.unit)),
        "code": [{"text": f.name}],
        "telecom": [{"system": "email", "value": f.mailbox, "use": "work"}],
        "endpoint": [_ref("Endpoint", _id("endpoint", pid, f.function))],
    }
    if unit.uph_assignment:
        resource["healthcareService"] = [_ref("HealthcareService", _id("uph", pid, unit.unit))]
    return resource


def _endpoint(pid: str, f: FunctionEntry, today: date) -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "id": _id("endpoint", pid, f.function),
        "status": "active" if _active(f.valid_from, f.valid_to, today) else "off",
        "connectionType": {"system": _CONNECTION_TYPE, "code": "secure-email"},
        "name": f"Funktionsbrevlåda: {f.name}",
        "managingOrganization": _ref("Organization", _id("unit", pid, f.unit)),
        "period": _period(f.valid_from, f.valid_to),
        # Notifications only: a reference and a link, never personal data.
        "payloadType": [{"text": "Avisering utan personuppgifter"}],
        "address": f"mailto:{f.mailbox}",
    }


def _contact(pid: str, c: ContactEntry, today: date) -> dict[str, Any]:
    return {
        "resourceType": "OrganizationAffiliation",
        "id": _id("contact", pid, c.contact),
        "identifier": [{"system": CONTACT_SYSTEM, "value": f"{pid}/{c.contact}"}],
        "active": _active(c.valid_from, c.valid_to, today),
        "period": _period(c.valid_from, c.valid_to),
        "organization": _ref("Organization", _id("principal", pid)),
        "participatingOrganization": {
            "type": "Organization",
            "identifier": {"system": PRINCIPAL_SYSTEM, "value": c.counterpart_principal},
        },
        "code": [
            {
                "coding": [{"system": NEED_SYSTEM, "code": c.need.value}],
                "text": _NEED_LABEL.get(c.need.value, c.need.value),
            }
        ],
        "extension": [
            {
                "url": FUNCTION_EXTENSION,
                "valueReference": _ref("PractitionerRole", _id("function", pid, c.function)),
            },
            {
                "url": COUNTERPART_EXTENSION,
                "valueIdentifier": {
                    "system": FUNCTION_SYSTEM,
                    "value": f"{c.counterpart_principal}/{c.counterpart_function}",
                },
            },
        ],
    }
