"""FHIR R4 validation tooling: official R4 schema, R4B models, US Core 6.1.0 required elements."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.export.fhir_validate import (
    PROFILES,
    R4B_TOLERATED,
    R4B_UNCHECKED,
    SCHEMA_PATH,
    FhirValidator,
    _Ctx,
    _SchemaCompiler,
    load_schema,
    shape,
    validator,
)

US = "http://hl7.org/fhir/us/core/StructureDefinition/"
PID = "0b1f1e2a-1111-4222-8333-444455556666"
EID = "1c2d3e4f-1111-4222-8333-444455556666"
PAT = {"reference": f"urn:uuid:{PID}"}
ENC = {"reference": f"urn:uuid:{EID}"}
WHEN = "2020-03-04T10:11:12+00:00"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"


def _id(n: int) -> str:
    return f"{n:08x}-1111-4222-8333-444455556666"


def cc(system: str, code: str, display: str = "x") -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def meta(profile: str) -> dict[str, Any]:
    return {"profile": [US + profile]}


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient", "id": PID, "meta": meta("us-core-patient"),
        "text": {"status": "generated",
                 "div": '<div xmlns="http://www.w3.org/1999/xhtml">Generated</div>'},
        "extension": [{
            "url": US + "us-core-race",
            "extension": [
                {"url": "ombCategory", "valueCoding": {
                    "system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3",
                    "display": "White"}},
                {"url": "text", "valueString": "White"},
            ],
        }, {"url": US + "us-core-birthsex", "valueCode": "F"}],
        "identifier": [{"system": "https://github.com/synthetichealth/synthea", "value": PID}],
        "name": [{"use": "official", "family": "Smith", "given": ["Ann"], "prefix": ["Ms."]}],
        "telecom": [{"system": "phone", "value": "555-123-4567", "use": "home"}],
        "gender": "female", "birthDate": "1980-05-17",
        "address": [{"line": ["1 Main St"], "city": "Boston", "state": "MA",
                     "postalCode": "02101", "country": "US"}],
        "maritalStatus": cc("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "M"),
        "multipleBirthBoolean": False,
        "communication": [{"language": cc("urn:ietf:bcp:47", "en-US")}],
    }


def encounter() -> dict[str, Any]:
    return {
        "resourceType": "Encounter", "id": EID, "meta": meta("us-core-encounter"),
        "identifier": [{"use": "official", "system": "https://github.com/synthetichealth/synthea",
                        "value": EID}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [cc(SNOMED, "185349003")],
        "subject": dict(PAT, display="Ms. Ann Smith"),
        "period": {"start": WHEN, "end": "2020-03-04T10:41:12+00:00"},
        "location": [{"location": {
            "reference": "Location?identifier=https://github.com/synthetichealth/synthea|abc",
            "display": "Clinic"}}],
    }


def vital(profile: str, loinc: str, value: float, unit: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": _id(10), "meta": meta(profile),
        "status": "final", "category": [cc(OBS_CAT, "vital-signs")],
        "code": cc(LOINC, loinc), "subject": PAT, "encounter": ENC,
        "effectiveDateTime": WHEN, "issued": "2020-03-04T10:11:12.345+00:00",
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def blood_pressure() -> dict[str, Any]:
    bp = vital("us-core-blood-pressure", "85354-9", 0, "mm[Hg]")
    del bp["valueQuantity"]
    bp["id"] = _id(11)
    bp["component"] = [
        {"code": cc(LOINC, code),
         "valueQuantity": {"value": v, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}}
        for code, v in (("8462-4", 80), ("8480-6", 120))
    ]
    return bp


def lab() -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": _id(12), "meta": meta("us-core-observation-lab"),
        "status": "final", "category": [cc(OBS_CAT, "laboratory")],
        "code": cc(LOINC, "2339-0"), "subject": PAT, "encounter": ENC,
        "effectiveDateTime": WHEN, "valueQuantity": {"value": 95.2, "unit": "mg/dL",
                                                     "system": UCUM, "code": "mg/dL"},
    }


def condition() -> dict[str, Any]:
    return {
        "resourceType": "Condition", "id": _id(13),
        "meta": meta("us-core-condition-encounter-diagnosis"),
        "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical",
                             "active"),
        "verificationStatus": cc(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"),
        "category": [cc("http://terminology.hl7.org/CodeSystem/condition-category",
                        "encounter-diagnosis")],
        "code": cc(SNOMED, "444814009"), "subject": PAT, "encounter": ENC,
        "onsetDateTime": WHEN, "recordedDate": WHEN,
    }


def medication_request() -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest", "id": _id(14),
        "meta": meta("us-core-medicationrequest"), "status": "active", "intent": "order",
        "medicationCodeableConcept": cc("http://www.nlm.nih.gov/research/umls/rxnorm", "313782"),
        "subject": PAT, "encounter": ENC, "authoredOn": WHEN,
        "dosageInstruction": [{
            "sequence": 1, "asNeededBoolean": False,
            "timing": {"repeat": {"frequency": 1, "period": 1.0, "periodUnit": "d"}},
            "doseAndRate": [{"type": cc(
                "http://terminology.hl7.org/CodeSystem/dose-rate-type", "ordered"),
                "doseQuantity": {"value": 1.0}}],
        }],
    }


def immunization() -> dict[str, Any]:
    return {
        "resourceType": "Immunization", "id": _id(15), "meta": meta("us-core-immunization"),
        "status": "completed", "vaccineCode": cc("http://hl7.org/fhir/sid/cvx", "140"),
        "patient": PAT, "encounter": ENC, "occurrenceDateTime": WHEN, "primarySource": True,
    }


def procedure() -> dict[str, Any]:
    return {
        "resourceType": "Procedure", "id": _id(16), "meta": meta("us-core-procedure"),
        "status": "completed", "code": cc(SNOMED, "430193006"), "subject": PAT,
        "encounter": ENC, "performedPeriod": {"start": WHEN, "end": WHEN},
    }


def diagnostic_report() -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport", "id": _id(17),
        "meta": meta("us-core-diagnosticreport-lab"), "status": "final",
        "category": [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB")],
        "code": cc(LOINC, "51990-0"), "subject": PAT, "encounter": ENC,
        "effectiveDateTime": WHEN, "issued": "2020-03-04T10:11:12.345+00:00",
        "result": [{"reference": f"urn:uuid:{_id(12)}", "display": "Glucose"}],
    }


def document_reference() -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference", "id": _id(18),
        "meta": meta("us-core-documentreference"), "status": "current",
        "type": cc(LOINC, "34117-2"),
        "category": [cc("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                        "clinical-note")],
        "subject": PAT, "date": "2020-03-04T10:11:12.000+00:00",
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                    "data": "SGVsbG8="}}],
        "context": {"encounter": [ENC], "period": {"start": WHEN}},
    }


def care_plan() -> dict[str, Any]:
    return {
        "resourceType": "CarePlan", "id": _id(19), "meta": meta("us-core-careplan"),
        "text": {"status": "generated",
                 "div": '<div xmlns="http://www.w3.org/1999/xhtml">Care Plan</div>'},
        "status": "active", "intent": "order",
        "category": [cc("http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                        "assess-plan"), cc(SNOMED, "734163000")],
        "subject": PAT, "encounter": ENC, "period": {"start": WHEN},
        "activity": [{"detail": {"status": "in-progress", "code": cc(SNOMED, "229065009")}}],
    }


def organization() -> dict[str, Any]:
    return {
        "resourceType": "Organization", "id": _id(20), "meta": meta("us-core-organization"),
        "identifier": [{"system": "https://github.com/synthetichealth/synthea", "value": "o1"}],
        "active": True, "name": "Clinic",
        "telecom": [{"system": "phone", "value": "(555) 555-5555"}],
    }


def practitioner() -> dict[str, Any]:
    return {
        "resourceType": "Practitioner", "id": _id(21), "meta": meta("us-core-practitioner"),
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "9999912345"}],
        "active": True, "name": [{"family": "Doe", "given": ["Jo"], "prefix": ["Dr."]}],
        "gender": "male",
    }


def location() -> dict[str, Any]:
    return {
        "resourceType": "Location", "id": _id(22), "meta": meta("us-core-location"),
        "status": "active", "name": "Clinic", "position": {"latitude": 42.1, "longitude": -71.2},
        "managingOrganization": {"identifier": {
            "system": "https://github.com/synthetichealth/synthea", "value": "o1"}},
    }


def provenance() -> dict[str, Any]:
    return {
        "resourceType": "Provenance", "id": _id(23), "meta": meta("us-core-provenance"),
        "target": [PAT], "recorded": "2020-03-04T10:11:12.345+00:00",
        "agent": [{"type": cc(
            "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author"),
            "who": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|99"},
            "onBehalfOf": {"reference": f"Organization/{_id(20)}"}}],
    }


def explanation_of_benefit() -> dict[str, Any]:
    # No US Core profile; `contained` exercises the schema's resource dispatch.
    return {
        "resourceType": "ExplanationOfBenefit", "id": _id(24),
        "contained": [{"resourceType": "Coverage", "id": "coverage", "status": "active",
                       "beneficiary": PAT, "payor": [{"display": "Medicare"}]}],
        "status": "active", "type": cc("http://terminology.hl7.org/CodeSystem/claim-type",
                                       "professional"),
        "use": "claim", "patient": PAT, "created": WHEN, "insurer": {"display": "Medicare"},
        "provider": {"reference": f"Organization/{_id(20)}"}, "outcome": "complete",
        "insurance": [{"focal": True, "coverage": {"reference": "#coverage"}}],
        "total": [{"category": cc(
            "http://terminology.hl7.org/CodeSystem/adjudication", "submitted"),
            "amount": {"value": 129.16, "currency": "USD"}}],
    }


VALID = {
    "patient": patient, "encounter": encounter, "blood_pressure": blood_pressure,
    "heart_rate": lambda: vital("us-core-heart-rate", "8867-4", 72, "/min"),
    "body_weight": lambda: vital("us-core-body-weight", "29463-7", 70.5, "kg"),
    "lab": lab, "condition": condition, "medication_request": medication_request,
    "immunization": immunization, "procedure": procedure,
    "diagnostic_report": diagnostic_report, "document_reference": document_reference,
    "care_plan": care_plan, "organization": organization, "practitioner": practitioner,
    "location": location, "provenance": provenance,
    "explanation_of_benefit": explanation_of_benefit,
}


@pytest.fixture(scope="module")
def v() -> FhirValidator:
    return validator()


def only(messages: list[str], check: str) -> list[str]:
    return [m for m in messages if m.startswith(check + ":")]


# ---------------------------------------------------------------------------------------------
# The shipped schema is the official R4 4.0.1 file


def test_shipped_schema_is_the_official_r4_4_0_1_file() -> None:
    raw = gzip.decompress(SCHEMA_PATH.read_bytes())
    # The digest recorded in data-sources/fhir_r4_schema/README.md.
    assert hashlib.sha256(raw).hexdigest() == (
        "2230406893b4cf002a4ee1e5e2bbeca22ac5d2d4931b3e9ef7b9594bbc376a01")
    doc = load_schema()
    assert doc["id"] == "http://hl7.org/fhir/json-schema/4.0"
    assert "4.0.1" in doc["definitions"]["CapabilityStatement"]["properties"]["fhirVersion"][
        "enum"]
    assert doc["definitions"]["Encounter"]["properties"]["class"]["$ref"].endswith("/Coding")
    assert "reportedBoolean" in doc["definitions"]["MedicationRequest"]["properties"]
    # R4B/R5-only resources are absent.
    assert not {"Citation", "SubscriptionTopic", "ActorDefinition"} & set(
        doc["discriminator"]["mapping"])


# ---------------------------------------------------------------------------------------------
# Valid resources pass all three checks


@pytest.mark.parametrize("name", sorted(VALID))
def test_minimal_valid_resources_pass(v: FhirValidator, name: str) -> None:
    assert v.validate(VALID[name]()) == []


def test_valid_transaction_bundle_passes(v: FhirValidator) -> None:
    resources = [patient(), encounter(), condition(), lab(), diagnostic_report()]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{r['id']}", "resource": r,
         "request": {"method": "POST", "url": r["resourceType"]}} for r in resources]}
    assert v.validate_bundle(bundle) == []


# ---------------------------------------------------------------------------------------------
# Each kind of mistake is reported with the resource path


def test_wrong_type_is_reported_by_schema_and_models(v: FhirValidator) -> None:
    p = patient()
    p["gender"] = 1
    messages = v.validate(p)
    assert any(m.startswith("schema: Patient.gender:") for m in messages)
    assert any(m.startswith("r4b: Patient.gender:") for m in messages)


def test_unknown_element_is_named(v: FhirValidator) -> None:
    o = lab()
    o["valueQuantity"]["precision"] = 2
    assert "schema: Observation.valueQuantity: unknown element 'precision'" in v.validate(o)


def test_bad_code_in_required_binding(v: FhirValidator) -> None:
    o = lab()
    o["status"] = "done"
    [message] = only(v.validate(o), "schema")
    assert message.startswith("schema: Observation.status: 'done' is not one of")
    assert "entered-in-error" in message


@pytest.mark.parametrize("field,value", [
    ("birthDate", "1980-13-01"),
    ("birthDate", "17/05/1980"),
    ("birthDate", "2019-02-29"),  # the pattern allows it; "Dates SHALL be valid dates"
])
def test_invalid_date(v: FhirValidator, field: str, value: str) -> None:
    p = patient()
    p[field] = value
    assert f"schema: Patient.{field}: {value!r} is not a valid FHIR date" in v.validate(p)


def test_calendar_check_accepts_real_dates(v: FhirValidator) -> None:
    p = patient()
    p["birthDate"] = "2020-02-29"
    p["deceasedDateTime"] = "2021-12-31T23:59:59+00:00"
    assert v.validate(p) == []
    p["deceasedDateTime"] = "2021-04-31T10:00:00+00:00"
    assert only(v.validate(p), "schema") == [
        "schema: Patient.deceasedDateTime: '2021-04-31T10:00:00+00:00' is not a valid FHIR "
        "dateTime"]


def test_datetime_with_time_needs_a_zone(v: FhirValidator) -> None:
    o = lab()
    o["effectiveDateTime"] = "2020-03-04T10:11:12"
    messages = v.validate(o)
    assert any(m.startswith("schema: Observation.effectiveDateTime: '2020-03-04T10:11:12' is "
                            "not a valid FHIR dateTime") for m in messages)


def test_reference_shapes(v: FhirValidator) -> None:
    o = lab()
    o["subject"] = {"reference": "Patient 12"}
    assert any(m.startswith("schema: Observation.subject.reference: 'Patient 12' is not a "
                            "literal reference") for m in v.validate(o))
    o["subject"] = f"urn:uuid:{PID}"  # a bare string where a Reference object belongs
    assert any(m.startswith("r4b: Observation.subject") for m in v.validate(o))
    o["subject"] = {"reference": 12}
    assert any(m.startswith("schema: Observation.subject.reference: expected string")
               for m in v.validate(o))


@pytest.mark.parametrize("reference", [
    f"urn:uuid:{PID}", "Patient/abc-1.2", "http://example.org/fhir/Patient/1/_history/2",
    "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|123", "urn:oid:1.2.3",
])
def test_accepted_reference_forms(v: FhirValidator, reference: str) -> None:
    o = lab()
    o["subject"] = {"reference": reference}
    assert v.validate(o) == []


def test_two_choice_values_are_rejected_by_models(v: FhirValidator) -> None:
    o = lab()
    o["valueString"] = "high"
    assert any(m.startswith("r4b: Observation:") and "valueQuantity" in m
               for m in v.validate(o))


@pytest.mark.parametrize("build,mutate,expected", [
    (encounter, lambda r: r.pop("class"), "us-core: Encounter.class: missing"),
    (patient, lambda r: r["identifier"][0].pop("system"),
     "us-core: Patient.identifier[0].system: missing"),
    (condition, lambda r: r.pop("category"), "us-core: Condition.category: missing"),
    (condition, lambda r: r["category"][0]["coding"][0].update(code="problem-list-item"),
     "us-core: Condition.category: no element with "
     "http://terminology.hl7.org/CodeSystem/condition-category#encounter-diagnosis"),
    (lambda: vital("us-core-heart-rate", "8867-4", 72, "/min"),
     lambda r: r.pop("effectiveDateTime"), "us-core: Observation.effective[x]: missing"),
    (lambda: vital("us-core-heart-rate", "8867-4", 72, "/min"),
     lambda r: r["valueQuantity"].pop("unit"), "us-core: Observation.valueQuantity.unit: missing"),
    (lambda: vital("us-core-heart-rate", "8867-4", 72, "/min"),
     lambda r: r.update(category=[cc(OBS_CAT, "exam")]),
     "us-core: Observation.category: no element with " + OBS_CAT + "#vital-signs"),
    (lambda: vital("us-core-heart-rate", "8867-4", 72, "/min"),
     lambda r: r["valueQuantity"].update(code="beats/min"),
     "us-core: Observation.valueQuantity.code: 'beats/min' not allowed"),
    (blood_pressure, lambda r: r["component"].pop(0),
     "us-core: Observation.component: no element with http://loinc.org#8462-4 (slice "
     "diastolic"),
    (blood_pressure, lambda r: r["component"][1]["valueQuantity"].update(code="mmHg"),
     "us-core: Observation.component[1].valueQuantity.code: 'mmHg' not allowed"),
    (blood_pressure, lambda r: r["component"][1].pop("valueQuantity"),
     "us-core: Observation.component[1]: vs-3"),
    (lab, lambda r: r.pop("valueQuantity"), "us-core: Observation: us-core-2"),
    (diagnostic_report, lambda r: r["category"][0]["coding"][0].update(code="RAD"),
     "us-core: DiagnosticReport.category: no element with "
     "http://terminology.hl7.org/CodeSystem/v2-0074#LAB"),
    (medication_request, lambda r: r.pop("medicationCodeableConcept"),
     "us-core: MedicationRequest.medication[x]: missing"),
    (care_plan, lambda r: r["activity"][0]["detail"].pop("status"),
     "us-core: CarePlan.activity[0].detail.status: missing"),
    (practitioner, lambda r: r["name"][0].pop("family"),
     "us-core: Practitioner.name[0].family: missing"),
    (location, lambda r: r.pop("name"), "us-core: Location.name: missing"),
    (provenance, lambda r: r["agent"][0].pop("who"), "us-core: Provenance.agent[0].who: missing"),
    (patient, lambda r: r["name"][0].update(family=None, given=None),
     "us-core: Patient.name[0]: us-core-6"),
])
def test_missing_us_core_requirements(v: FhirValidator, build: Any, mutate: Any,
                                      expected: str) -> None:
    resource = build()
    assert v.validate(resource) == []
    mutate(resource)
    messages = only(v.validate(resource), "us-core")
    assert any(m.startswith(expected) for m in messages), messages


def test_vital_sign_value_may_be_absent_with_a_reason(v: FhirValidator) -> None:
    o = vital("us-core-body-weight", "29463-7", 70.5, "kg")
    del o["valueQuantity"]
    assert any("vs-2" in m for m in v.validate(o))
    o["dataAbsentReason"] = cc("http://terminology.hl7.org/CodeSystem/data-absent-reason",
                               "unknown")
    assert v.validate(o) == []


def test_profile_claims_are_checked_against_the_table(v: FhirValidator) -> None:
    o = lab()
    o["meta"]["profile"].append(US + "us-core-observation-social-history")  # US Core 5 only
    assert ("us-core: Observation.meta.profile: us-core-observation-social-history is not a "
            "US Core 6.1.0 profile we check") in v.validate(o)
    o = lab()
    o["meta"]["profile"] = [US + "us-core-patient"]
    assert "us-core: Observation.meta.profile: us-core-patient constrains Patient" in (
        v.validate(o))
    o["meta"]["profile"] = ["http://example.org/StructureDefinition/other"]
    assert v.validate(o) == []  # other IGs are not ours to judge


def test_every_profile_is_for_a_resource_type_of_r4_and_has_a_source() -> None:
    types = set(load_schema()["discriminator"]["mapping"])
    for name, profile in PROFILES.items():
        assert profile.resource_type in types, name
        assert profile.source.startswith("https://hl7.org/fhir/us/core/STU6.1/"), name


# ---------------------------------------------------------------------------------------------
# Bundles


def test_bundle_messages_name_entry_and_resource(v: FhirValidator) -> None:
    good, bad = condition(), lab()
    bad["status"] = "done"
    bad["encounter"] = {"reference": "urn:uuid:99999999-1111-4222-8333-444455556666"}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"urn:uuid:{PID}", "resource": patient()},
        {"fullUrl": f"urn:uuid:{EID}", "resource": encounter()},
        {"fullUrl": f"urn:uuid:{good['id']}", "resource": good},
        {"fullUrl": f"urn:uuid:{good['id']}", "resource": bad},
    ]}
    messages = v.validate_bundle(bundle)
    prefix = f"entry[3] Observation/{bad['id']}: "
    assert any(m.startswith(prefix + "schema: Observation.status: 'done'") for m in messages)
    assert any(m.startswith(prefix + "bundle: bdl-7") for m in messages)
    assert (prefix + "bundle: Observation.encounter.reference: urn:uuid:99999999-1111-4222-8333-"
            "444455556666 matches no fullUrl in the bundle") in messages
    assert len(messages) == 3, messages


def test_bdl_7_allows_versions_of_one_resource(v: FhirValidator) -> None:
    first, second = lab(), lab()
    first["meta"]["versionId"], second["meta"]["versionId"] = "1", "2"
    entries = [{"fullUrl": f"urn:uuid:{PID}", "resource": patient()},
               {"fullUrl": f"urn:uuid:{EID}", "resource": encounter()},
               {"fullUrl": f"urn:uuid:{first['id']}", "resource": first},
               {"fullUrl": f"urn:uuid:{first['id']}", "resource": second}]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    assert v.validate_bundle(bundle) == []
    second["meta"]["versionId"] = "1"
    assert [m for m in v.validate_bundle(bundle) if "bdl-7" in m] == [
        f"entry[3] Observation/{first['id']}: bundle: bdl-7 fullUrl urn:uuid:{first['id']} "
        "repeats entry[2]"]


def test_bundle_structure_itself_is_validated(v: FhirValidator) -> None:
    bundle = {"resourceType": "Bundle", "type": "transactionx",
              "entry": [{"fullUrl": f"urn:uuid:{PID}", "resource": patient(),
                         "request": {"method": "POST"}}]}
    messages = v.validate_bundle(bundle)
    assert any(m.startswith("Bundle: schema: Bundle.type: 'transactionx'") for m in messages)
    # The JSON schema never requires primitives (they may come as `_url` extensions only);
    # the R4B models do.
    assert any(m.startswith("Bundle: r4b: Bundle.entry[0].request.url:") for m in messages)


# ---------------------------------------------------------------------------------------------
# R4B vs R4


def test_r4_modifier_extension_in_timing_repeat_is_tolerated(v: FhirValidator) -> None:
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    assert ("TimingRepeat", "modifierExtension") in R4B_TOLERATED
    m = medication_request()
    m["dosageInstruction"][0]["timing"]["repeat"]["modifierExtension"] = [
        {"url": "http://example.org/x", "valueBoolean": True}]
    with pytest.raises(ValidationError):  # R4B alone rejects this R4-valid resource
        get_fhir_model_class("MedicationRequest").model_validate(m)
    assert FhirValidator(models="all").validate(m) == []
    m["dosageInstruction"][0]["timing"]["repeat"]["unknownThing"] = 1
    assert any(m.startswith("r4b:") for m in FhirValidator(models="all").validate(m))


def test_r4_4_0_1_value_meta_extension_is_tolerated() -> None:
    p = patient()
    p["extension"].append({"url": "http://example.org/meta", "valueMeta": {"versionId": "1"}})
    assert FhirValidator(models="all").validate(p) == []
    p["extension"][-1]["valueMeta"] = {"versionId": 1}
    assert only(FhirValidator(models="all").validate(p), "schema")  # still judged by R4


def _r4b_class_of(annotation: Any) -> Any:
    import typing

    pending = [annotation]
    while pending:
        ann = pending.pop()
        if hasattr(ann, "get_model_klass"):
            return ann.get_model_klass()
        pending.extend(typing.get_args(ann))
    return None


def _r4_elements_missing_in_r4b(kinds: list[str]) -> set[tuple[str, str]]:
    """(R4B class, element) for every R4 element, reachable from `kinds`, that R4B lacks."""
    from fhir.resources.R4B import get_fhir_model_class

    definitions = load_schema()["definitions"]
    lacking: set[tuple[str, str]] = set()
    seen: set[tuple[str, str]] = set()

    def walk(name: str, cls: Any) -> None:
        if (name, cls.__name__) in seen:
            return
        seen.add((name, cls.__name__))
        fields = {f.alias or n: f for n, f in cls.model_fields.items()}
        for element, spec in definitions[name].get("properties", {}).items():
            if element == "resourceType" or element.startswith("_"):
                continue
            if element not in fields:
                lacking.add((cls.__name__, element))
                continue
            ref = spec.get("$ref") or spec.get("items", {}).get("$ref", "")
            target = ref.rsplit("/", 1)[-1]
            if target in ("", "Resource", "ResourceList") or (
                    "properties" not in definitions.get(target, {})):
                continue
            sub = _r4b_class_of(fields[element].annotation)
            assert sub is not None, (name, element)
            walk(target, sub)

    for kind in kinds:
        walk(kind, get_fhir_model_class(kind))
    return lacking


def test_tolerances_are_exactly_the_r4_elements_r4b_lacks() -> None:
    from fhir.resources.R4B import get_fhir_model_class

    kinds = sorted(load_schema()["discriminator"]["mapping"])
    no_model = set()
    for kind in kinds:
        try:
            get_fhir_model_class(kind)
        except ValueError:
            no_model.add(kind)
    rebuilt = {"Evidence", "EvidenceVariable"}
    assert no_model | rebuilt == R4B_UNCHECKED
    for kind in rebuilt:
        assert len(_r4_elements_missing_in_r4b([kind])) >= 10
    checked = [k for k in kinds if k not in R4B_UNCHECKED]
    assert _r4_elements_missing_in_r4b(checked) == R4B_TOLERATED


def test_shapes_mode_still_reports_model_errors_on_every_resource() -> None:
    strict = FhirValidator(models="shapes")
    o = lab()
    assert strict.validate(o) == []
    o2 = lab()
    o2["valueString"] = "x"  # a new shape
    assert only(strict.validate(o2), "r4b")
    assert only(strict.validate(copy.deepcopy(o2)), "r4b")  # failing shapes are not cached
    assert shape(o) != shape(o2)
    assert shape({"a": [1, 2, 3]}) == shape({"a": [7]}) != shape({"a": [0]})


# ---------------------------------------------------------------------------------------------
# The schema walker agrees with fastjsonschema on the same schema


@pytest.fixture(scope="module")
def oracle() -> dict[str, Any]:
    fastjsonschema = pytest.importorskip("fastjsonschema")
    doc = load_schema()
    # `contained` reaches every resource: fastjsonschema would generate ~78 MB of code. Cut
    # it off in both validators.
    definitions = dict(doc["definitions"], ResourceList={})
    mini = dict(doc, definitions=definitions)
    return {
        "walker": _SchemaCompiler(mini, reference_shapes=False),
        **{kind: fastjsonschema.compile({"$schema": doc["$schema"],
                                         "$ref": f"#/definitions/{kind}",
                                         "definitions": definitions})
           for kind in ("Patient", "Observation")},
    }


_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 3),
                       st.floats(-10, 10, allow_nan=False), st.sampled_from(
                           ["", "x", " a", "final", "2020-01-01", "2020-01-01T10:00:00Z",
                            "urn:uuid:x", "male", "true", "1", "a  b"]))
_json = st.recursive(_json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=2), st.dictionaries(st.sampled_from(
        ["value", "system", "code", "url", "family", "given", "extension", "foo"]), inner,
        max_size=2)), max_leaves=4)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_paths(item, (*prefix, i)))
    return out


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_schema_walker_matches_fastjsonschema(oracle: dict[str, Any], data: Any) -> None:
    import fastjsonschema

    base = data.draw(st.sampled_from([patient(), lab(), blood_pressure()]))
    resource = copy.deepcopy(base)
    paths = _paths(resource)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent: Any = resource
        try:  # an earlier mutation may have removed or replaced part of the path
            for step in path[:-1]:
                parent = parent[step]
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, dict | list):
            continue
        key = path[-1]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        try:
            if action == "replace":
                parent[key] = data.draw(_json)
            elif action == "delete":
                del parent[key]
            elif isinstance(parent, dict):
                parent[data.draw(st.sampled_from(["foo", "_value", "id"]))] = data.draw(_json)
        except (KeyError, IndexError, TypeError):
            continue
    kind = base["resourceType"]
    ctx = _Ctx()
    oracle["walker"].definition(kind)(resource, kind, ctx)
    try:
        oracle[kind](resource)
        expected_valid = True
    except fastjsonschema.JsonSchemaValueException:
        expected_valid = False
    assert (not ctx.errors) == expected_valid, (json.dumps(resource), ctx.errors)


# ---------------------------------------------------------------------------------------------
# Our own exporter's output


def test_exported_bundles_validate(v: FhirValidator) -> None:
    from datetime import date

    fhir = pytest.importorskip("simulator.export.fhir")
    from simulator.config import RunConfig
    from simulator.worker import Worker

    config = RunConfig(population=4, seed=5, reference_date=date(2024, 1, 1))
    worker = Worker.for_run(config)
    ints, floats = worker.population.draw(list(range(4)))
    shared = worker.world
    ctx = fhir.FhirContext(shared.network, shared.payers)
    count = 0
    for i in range(4):
        for record in worker.records(i, ints[i], floats[i]):
            bundle = fhir.patient_bundle(record, ctx, "transaction")
            count += len(bundle["entry"])
            assert v.validate_bundle(bundle) == []
    assert count > 50
