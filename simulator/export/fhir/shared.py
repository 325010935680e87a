"""Resources shared by many patients: Organization, Location, Practitioner, PractitionerRole
(fhir-export.md §4). Ids are stable (the provider's name-based id, or derived from it) so every
bundle and every run refers to the same resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.export.fhir.codes import NPI, SYNTHEA, TERMINOLOGY, US_CORE
from simulator.ids import derived_id
from simulator.providers.model import Clinician, Organization

HOME_LOCATION_ID = "bb1ad573-19b8-9cd8-68fb-0e6f684df992"
_SPECIALTY = {"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "208D00000X",
                          "display": "General Practice Physician"}],
              "text": "General Practice Physician"}
_UTILIZATION = "http://synthetichealth.github.io/synthea/utilization-{}-extension"


def location_id(org_id: str) -> str:
    return derived_id(org_id, "Location")


def role_id(clinician_id: str) -> str:
    return derived_id(clinician_id, "PractitionerRole")


def clinician_name(c: Clinician) -> str:
    return f"Dr. {c.first} {c.last}"


def _email(c: Clinician) -> str:
    return f"{c.first}.{c.last}@example.com".replace(" ", "")


def _address(o: Organization) -> dict[str, Any]:
    return {"line": [o.address], "city": o.city, "state": o.state, "postalCode": o.zip,
            "country": "US"}


def organization(o: Organization, encounters: int | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Organization",
        "id": o.id,
        "meta": {"profile": [US_CORE + "us-core-organization"]},
        "identifier": [{"system": SYNTHEA, "value": o.id}, {"system": NPI, "value": o.npi}],
        "active": True,
        "type": [{"coding": [{"system": TERMINOLOGY + "organization-type", "code": "prov",
                              "display": "Healthcare Provider"}], "text": "Healthcare Provider"}],
        "name": o.name,
        "telecom": [{"system": "phone", "value": o.phone or "(555) 555-5555"}],
        "address": [_address(o)],
    }
    if encounters is not None:
        r["extension"] = [{"url": _UTILIZATION.format("encounters"), "valueInteger": encounters}]
    return r


Ref = Callable[[str, str], str] | None  # how to reference another resource; None: by identifier


def location(o: Organization, ref: Ref = None) -> dict[str, Any]:
    lid = location_id(o.id)
    managing: dict[str, Any] = {"identifier": {"system": SYNTHEA, "value": o.id}, "display": o.name}
    if ref is not None:
        managing["reference"] = ref("Organization", o.id)
    return {
        "resourceType": "Location",
        "id": lid,
        "meta": {"profile": [US_CORE + "us-core-location"]},
        "identifier": [{"system": SYNTHEA, "value": lid}],
        "status": "active",
        "name": o.name,
        "telecom": [{"system": "phone", "value": o.phone or "(555) 555-5555"}],
        "address": _address(o),
        "position": {"latitude": o.lat, "longitude": o.lon},
        "managingOrganization": managing,
    }


def home_location() -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": HOME_LOCATION_ID,
        "identifier": [{"system": SYNTHEA, "value": HOME_LOCATION_ID}],
        "status": "active",
        "name": "Patient's Home",
        "description": "Patient's Home",
        "mode": "kind",
        "physicalType": {"coding": [{"system": TERMINOLOGY + "location-physical-type",
                                     "code": "ho", "display": "House"}]},
    }


def practitioner(c: Clinician, o: Organization, encounters: int | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": c.id,
        "meta": {"profile": [US_CORE + "us-core-practitioner"]},
        "identifier": [{"system": NPI, "value": c.npi}],
        "active": True,
        "name": [{"family": c.last, "given": [c.first], "prefix": ["Dr."]}],
        "telecom": [{"extension": [{"url": US_CORE + "us-core-direct", "valueBoolean": True}],
                     "system": "email", "value": _email(c), "use": "work"}],
        "address": [_address(o)],
        "gender": "female" if c.gender == "F" else "male",
    }
    if encounters is not None:
        r["extension"] = [{"url": _UTILIZATION.format("encounters"), "valueInteger": encounters}]
    return r


def practitioner_role(c: Clinician, o: Organization, ref: Ref = None) -> dict[str, Any]:
    rid = role_id(c.id)
    who: dict[str, Any] = {"identifier": {"system": NPI, "value": c.npi},
                           "display": clinician_name(c)}
    org: dict[str, Any] = {"identifier": {"system": SYNTHEA, "value": o.id}, "display": o.name}
    where: dict[str, Any] = {"identifier": {"system": SYNTHEA, "value": location_id(o.id)},
                             "display": o.name}
    if ref is not None:
        who["reference"] = ref("Practitioner", c.id)
        org["reference"] = ref("Organization", o.id)
        where["reference"] = ref("Location", location_id(o.id))
    return {
        "resourceType": "PractitionerRole",
        "id": rid,
        "meta": {"profile": [US_CORE + "us-core-practitionerrole"]},
        "identifier": [{"system": SYNTHEA, "value": rid}],
        "practitioner": who,
        "organization": org,
        "code": [_SPECIALTY],
        "specialty": [_SPECIALTY],
        "location": [where],
        "telecom": [{"system": "phone", "value": o.phone or "(555) 555-5555"},
                    {"system": "email", "value": _email(c)}],
    }
