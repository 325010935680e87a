"""One patient's resources, in the reference's entry order (fhir-export.md §2.1, §3).

:class:`RecordResources` walks a record once and yields ``(resource, shared)`` pairs: `shared`
marks an Organization, Location, Practitioner or PractitionerRole that many patients refer to
(the bundle layer gives those conditional creates). References go through one function, so the
same walk serves bundles (``urn:uuid:`` references) and bulk NDJSON (``Type/id`` references).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from simulator.export.fhir import shared
from simulator.export.fhir.billing import claim_resources
from simulator.export.fhir.codes import (
    CVX,
    LOINC,
    RXNORM,
    SNOMED,
    SYNTHEA,
    TERMINOLOGY,
    UCUM,
    US_CORE,
    coding,
    concept,
    datetime,
    decimal,
    fixed,
    instant,
    period,
)
from simulator.export.fhir.notes import NoteWriter
from simulator.export.fhir.patient import official_name, patient_resource
from simulator.ids import derived_id
from simulator.record import (
    Allergy,
    CarePlan,
    Code,
    Condition,
    Device,
    Encounter,
    HealthRecord,
    ImagingStudy,
    Immunization,
    Medication,
    Observation,
    Procedure,
    Report,
    Supply,
)

Ref = Callable[[str, str], str]
Item = tuple[dict[str, Any], bool]


def urn_reference(resource_type: str, rid: str) -> str:
    return f"urn:uuid:{rid}"


def literal_reference(resource_type: str, rid: str) -> str:
    return f"{resource_type}/{rid}"


# Encounter class → v3 ActCode (fhir-export.md §3.2).
ACT_CODES = {
    "wellness": ("AMB", "ambulatory"), "ambulatory": ("AMB", "ambulatory"),
    "outpatient": ("AMB", "ambulatory"), "urgentcare": ("AMB", "ambulatory"),
    "inpatient": ("IMP", "inpatient encounter"), "snf": ("IMP", "inpatient encounter"),
    "emergency": ("EMER", "emergency"), "hospice": ("HH", "home health"),
    "home": ("HH", "home health"), "virtual": ("VR", "virtual"),
}
CHECK_UP = Code("SNOMED-CT", "185349003", "Encounter for check up")

# US Core profiles by LOINC code (fhir-export.md §3.5, rows that apply to US Core 6).
OBSERVATION_PROFILES = {
    "59576-9": "pediatric-bmi-for-age", "77606-2": "pediatric-weight-for-height",
    "72166-2": "us-core-smokingstatus", "59408-5": "us-core-pulse-oximetry",
    "2708-6": "us-core-pulse-oximetry",
    "9279-1": "us-core-respiratory-rate", "8867-4": "us-core-heart-rate",
    "8310-5": "us-core-body-temperature", "8302-2": "us-core-body-height",
    "9843-4": "us-core-head-circumference",
    "8289-1": "head-occipital-frontal-circumference-percentile",
    "29463-7": "us-core-body-weight", "39156-5": "us-core-bmi", "85354-9": "us-core-blood-pressure",
    "76690-7": "us-core-observation-sexual-orientation",
}
_SCREENING_TEXT = """93028-9 93025-5 69861-3 93027-1 81375-8 93034-7 68516-4 96782-8
93029-7 68517-2 96842-0 88123-5 76501-6 95618-5 93038-8 69858-9 93159-2 96780-2 44250-9 68524-8
88121-9 93026-3 82589-3 89555-7 96781-0 95530-2 56799-0 63586-2 96779-4 93677-3 63512-8 76437-3
88124-3 32624-9 97023-6 93035-4 54899-0 93033-9 93031-3 56051-6 88122-7 93030-5 97027-7 71802-3
44255-8 67875-5 76513-1 28245-9 63513-6 72098-7 71975-7 71958-3 76499-3 76504-0"""
SCREENING_CODES = frozenset(_SCREENING_TEXT.split())
CATEGORY_PROFILES = {
    "imaging": "us-core-observation-clinical-result", "exam": "us-core-observation-clinical-result",
    "survey": "us-core-observation-screening-assessment", "laboratory": "us-core-observation-lab",
    "social-history": "us-core-simple-observation",
}
_OBS_CATEGORY = TERMINOLOGY + "observation-category"
_ABSENT = {"coding": [{"system": TERMINOLOGY + "data-absent-reason", "code": "unknown",
                       "display": "Unknown"}], "text": "Unknown"}
_PERIOD_UNITS = {"seconds": "s", "minutes": "min", "hours": "h", "days": "d", "weeks": "wk",
                 "months": "mo", "years": "a"}
_CARE_ROLES = (("116154003", "Patient"), ("223366009", "Healthcare professional (occupation)"),
               ("224891009", "Healthcare services (qualifier value)"))
_NOTE_CONCEPT = {"coding": [
    {"system": LOINC, "code": "34117-2", "display": "History and physical note"},
    {"system": LOINC, "code": "51847-2", "display": "Evaluation + Plan note"}]}


def _category_display(category: str) -> str:
    text = category.replace("-", " ")
    return text[:1].upper() + text[1:]


@lru_cache(maxsize=4096)
def _observation_profiles(loinc: str, category: str | None,
                          pulse_ox: bool) -> tuple[str | None, dict[str, Any] | None]:
    """(category, meta) of an observation: US Core profiles by LOINC code, then by category
    (fhir-export.md §3.5, US Core 6 rows). The meta dict is shared; it is only serialised."""
    profiles: list[str] = []
    named = OBSERVATION_PROFILES.get(loinc)
    if named == "us-core-pulse-oximetry" and not pulse_ox:
        named = None  # the profile requires the pulse-oximetry LOINC coding
    if named is not None:
        profiles.append(US_CORE + named)
        category = category or "vital-signs"
    if loinc in SCREENING_CODES:
        profiles.append(US_CORE + "us-core-observation-screening-assessment")
    if category == "vital-signs" and not profiles:
        profiles.append(US_CORE + "us-core-vital-signs")
    by_category = CATEGORY_PROFILES.get(category or "")
    if category == "social-history" and loinc == "82810-3":
        by_category = "us-core-observation-pregnancystatus"
    if by_category is not None and US_CORE + by_category not in profiles and (
            category != "social-history" or not profiles):
        profiles.append(US_CORE + by_category)
    return category, ({"profile": profiles} if profiles else None)


class RecordResources:
    """Builds every resource of one record. ``embed_shared``: include the shared resources the
    record needs (bundles) or leave them to a run-level file (NDJSON)."""

    def __init__(self, record: HealthRecord, ctx: Any, ref: Ref, embed_shared: bool = True,
                 provenance: bool = True) -> None:
        self.record = record
        self.ctx = ctx
        self.ref = ref
        self.embed_shared = embed_shared
        self.provenance = provenance
        self.patient_ref = {"reference": ref("Patient", record.patient.id),
                            "display": official_name(record.patient)}
        self.emitted: set[str] = set()
        self.conditions: dict[str, dict[str, Any]] = {}  # code → reference of the first written
        self.last_author: tuple[Any, Any] = (None, None)  # (clinician, organization)
        self.notes = NoteWriter(record)

    # ------------------------------------------------------------------ the walk

    def __iter__(self) -> Iterator[Item]:
        record = self.record
        targets = []
        last = len(record.encounters) - 1
        for resource, is_shared in self._resources(record, last):
            if not is_shared:
                targets.append({"reference": self.ref(resource["resourceType"], resource["id"])})
            yield resource, is_shared
        if self.provenance:
            yield self._provenance(targets), False

    def _resources(self, record: HealthRecord, last: int) -> Iterator[Item]:
        yield patient_resource(record.patient, _patient_text(record)), False
        for k, enc in enumerate(record.encounters):
            yield from self.encounter(enc, k == last)

    def encounter(self, enc: Encounter, is_last: bool) -> Iterator[Item]:
        org, clinician = self._providers(enc)
        yield from self._shared(enc, org, clinician)
        ctx = _EncounterContext(self, enc, org, clinician)
        yield self._encounter(ctx), False
        for c in enc.conditions:
            yield self._condition(ctx, c), False
        for a in enc.allergies:
            yield self._allergy(a), False
        for o in enc.observations:
            yield self._observation(ctx, o), False
        for p in enc.procedures:
            yield self._procedure(ctx, p), False
        for d in enc.devices:
            yield self._device(d), False
        for s in enc.supplies:
            yield self._supply(s), False
        for m in enc.medications:
            yield from self._medication(ctx, m)
        for i in enc.immunizations:
            yield self._immunization(ctx, i), False
        for r in enc.reports:
            yield self._report(ctx, r), False
        for cp in enc.careplans:
            yield from self._careplan(ctx, cp)
        for s in enc.imaging_studies:
            yield self._imaging(ctx, s), False
        yield from self._note(ctx, is_last)
        if enc.claim is not None:
            for resource in claim_resources(ctx, enc.claim, None):
                yield resource, False

    # ------------------------------------------------------------------ shared resources

    def _providers(self, enc: Encounter) -> tuple[Any, Any]:
        network = self.ctx.network
        if network is None:
            return None, None
        org = network.organization(enc.organization_id) if enc.organization_id else None
        clinician = network.clinician_by_id(enc.clinician_id) if enc.clinician_id else None
        if clinician is not None and org is not None:
            self.last_author = (clinician, org)
        return org, clinician

    def _shared(self, enc: Encounter, org: Any, clinician: Any) -> Iterator[Item]:
        if not self.embed_shared:
            return
        emitted = self.emitted
        if org is not None and org.id not in emitted:
            emitted.add(org.id)
            yield shared.organization(org), True
            yield shared.location(org, self.ref), True
        if clinician is not None and clinician.id not in emitted:
            emitted.add(clinician.id)
            home = self.ctx.network.organization(clinician.organization_id)
            yield shared.practitioner(clinician, home), True
            yield shared.practitioner_role(clinician, home, self.ref), True
        if enc.encounter_class == "virtual" and shared.HOME_LOCATION_ID not in emitted:
            emitted.add(shared.HOME_LOCATION_ID)
            yield shared.home_location(), True

    # ------------------------------------------------------------------ encounter-level

    def _encounter(self, ctx: _EncounterContext) -> dict[str, Any]:
        enc = ctx.enc
        act, act_display = ACT_CODES.get(enc.encounter_class, ("AMB", "ambulatory"))
        r: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": enc.id,
            "meta": {"profile": [US_CORE + "us-core-encounter"]},
            "identifier": [{"use": "official", "system": SYNTHEA, "value": enc.id}],
            "status": "finished" if enc.stop is not None else "in-progress",
            "class": {"system": TERMINOLOGY + "v3-ActCode", "code": act, "display": act_display},
            "type": [concept(enc.codes[0] if enc.codes else CHECK_UP)],
            "subject": self.patient_ref,
        }
        if ctx.practitioner is not None:
            r["participant"] = [{
                "type": [{"coding": [{"system": TERMINOLOGY + "v3-ParticipationType",
                                      "code": "PPRF", "display": "primary performer"}],
                          "text": "primary performer"}],
                "period": ctx.period,
                "individual": ctx.practitioner,
            }]
        r["period"] = ctx.period
        if enc.reason is not None:
            r["reasonCode"] = [concept(enc.reason)]
        if enc.discharge is not None:
            r["hospitalization"] = {"dischargeDisposition": concept(
                enc.discharge, "http://www.nubc.org/patient-discharge")}
        if ctx.location is not None:
            r["location"] = [{"location": ctx.location}]
        if ctx.organization is not None:
            r["serviceProvider"] = ctx.organization
        return r

    def _condition(self, ctx: _EncounterContext, c: Condition) -> dict[str, Any]:
        ref = {"reference": self.ref("Condition", c.id), "display": c.code.display}
        self.conditions.setdefault(c.code.code, ref)
        r: dict[str, Any] = {
            "resourceType": "Condition",
            "id": c.id,
            "meta": {"profile": [US_CORE + "us-core-condition-encounter-diagnosis"]},
            "clinicalStatus": fixed(TERMINOLOGY + "condition-clinical",
                                    "resolved" if c.stop is not None else "active",
                                    "Resolved" if c.stop is not None else "Active"),
            "verificationStatus": fixed(TERMINOLOGY + "condition-ver-status", "confirmed",
                                        "Confirmed"),
            "category": [fixed(TERMINOLOGY + "condition-category", "encounter-diagnosis",
                               "Encounter Diagnosis", text=True)],
            "code": concept(c.code),
            "subject": self.patient_ref,
            "encounter": ctx.encounter,
            "onsetDateTime": datetime(c.start),
            "recordedDate": datetime(c.start),
        }
        if c.stop is not None:
            r["abatementDateTime"] = datetime(max(c.stop, c.start))
        return r

    def _allergy(self, a: Allergy) -> dict[str, Any]:
        active = a.stop is None
        r: dict[str, Any] = {
            "resourceType": "AllergyIntolerance",
            "id": a.id,
            "meta": {"profile": [US_CORE + "us-core-allergyintolerance"]},
            "clinicalStatus": fixed(TERMINOLOGY + "allergyintolerance-clinical",
                                    "active" if active else "inactive",
                                    "Active" if active else "Inactive"),
            "verificationStatus": fixed(TERMINOLOGY + "allergyintolerance-verification",
                                        "confirmed", "Confirmed"),
            "type": "intolerance" if a.allergy_type == "intolerance" else "allergy",
        }
        if a.category:
            category = a.category if a.category in ("food", "medication", "environment",
                                                     "biologic") else "medication"
            r["category"] = [category]
        r["criticality"] = "low"
        r["code"] = concept(a.code)
        r["patient"] = self.patient_ref
        r["recordedDate"] = datetime(a.start)
        if a.reactions:
            r["reaction"] = [
                {"manifestation": [concept(x.code)], "severity": x.severity.lower()}
                for x in sorted(a.reactions, key=lambda x: x.code.code)
            ]
        return r

    def _observation(self, ctx: _EncounterContext, o: Observation,
                     in_report: bool = False) -> dict[str, Any]:
        main = o.code
        loinc = main.code if main.system in ("LOINC", "", LOINC) else ""
        pulse_ox = loinc in ("2708-6", "59408-5") and any(c.code == "59408-5" for c in o.codes)
        category, profiles = _observation_profiles(loinc, o.category, pulse_ox)
        r: dict[str, Any] = {"resourceType": "Observation", "id": o.id}
        if profiles is not None:
            r["meta"] = profiles
        r["status"] = "final"
        if category:
            r["category"] = [{"coding": [{"system": _OBS_CATEGORY, "code": category,
                                          "display": _category_display(category)}]}]
        code = concept(main, LOINC)
        for extra in o.codes[1:]:
            code["coding"].append(coding(Code(LOINC, extra.code, extra.display)))
        r["code"] = code
        r["subject"] = self.patient_ref
        r["encounter"] = ctx.encounter
        r["effectiveDateTime"] = datetime(o.start)
        r["issued"] = instant(o.start)
        if o.children:
            r["component"] = [self._component(child) for child in o.children]
        else:
            _set_value(r, o)
            if category == "vital-signs" and not any(k.startswith("value") for k in r):
                r["dataAbsentReason"] = _ABSENT
        return r

    def _component(self, child: Observation) -> dict[str, Any]:
        comp: dict[str, Any] = {"code": concept(child.code, LOINC)}
        _set_value(comp, child)
        if not any(k.startswith("value") for k in comp):
            comp["dataAbsentReason"] = _ABSENT
        return comp

    def _reason(self, r: dict[str, Any], reasons: list[Code]) -> None:
        if not reasons:
            return
        found = self.conditions.get(reasons[0].code)
        if found is not None:
            r["reasonReference"] = [found]
        else:
            r["reasonCode"] = [concept(reasons[0])]

    def _procedure(self, ctx: _EncounterContext, p: Procedure) -> dict[str, Any]:
        r: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": p.id,
            "meta": {"profile": [US_CORE + "us-core-procedure"]},
            "status": "completed",
            "code": concept(p.code),
            "subject": self.patient_ref,
            "encounter": ctx.encounter,
        }
        if p.stop is not None:
            r["performedPeriod"] = period(p.start, p.stop)
        else:
            r["performedDateTime"] = datetime(p.start)
        if ctx.location is not None:
            r["location"] = ctx.location
        self._reason(r, p.reasons)
        return r

    def _device(self, d: Device) -> dict[str, Any]:
        r: dict[str, Any] = {
            "resourceType": "Device",
            "id": d.id,
            "meta": {"profile": [US_CORE + "us-core-implantable-device"]},
        }
        if d.udi or d.device_identifier:
            carrier: dict[str, Any] = {}
            if d.device_identifier:
                carrier["deviceIdentifier"] = d.device_identifier
            if d.udi:
                carrier["carrierHRF"] = d.udi
            r["udiCarrier"] = [carrier]
        r["status"] = "active" if d.stop is None else "inactive"
        if d.device_identifier:
            r["distinctIdentifier"] = d.device_identifier
        if d.manufacturer:
            r["manufacturer"] = d.manufacturer
        if d.manufacture_time:
            r["manufactureDate"] = datetime(d.manufacture_time)
        if d.expiration_time:
            r["expirationDate"] = datetime(d.expiration_time)
        if d.lot_number:
            r["lotNumber"] = d.lot_number
        if d.serial_number:
            r["serialNumber"] = d.serial_number
        r["deviceName"] = [{"name": d.code.display or d.code.code, "type": "user-friendly-name"}]
        if d.model:
            r["modelNumber"] = d.model
        r["type"] = concept(d.code)
        r["patient"] = self.patient_ref
        return r

    def _supply(self, s: Supply) -> dict[str, Any]:
        return {
            "resourceType": "SupplyDelivery",
            "id": s.id,
            "status": "completed",
            "patient": self.patient_ref,
            "type": {"coding": [{"system": TERMINOLOGY + "supply-item-type", "code": "device",
                                 "display": "Device"}], "text": "Device"},
            "suppliedItem": {"quantity": {"value": s.quantity},
                             "itemCodeableConcept": concept(s.code)},
            "occurrenceDateTime": datetime(s.start),
        }

    def _medication(self, ctx: _EncounterContext, m: Medication) -> Iterator[Item]:
        code = m.code
        med_concept = concept(code, SNOMED if code.system == "SNOMED-CT" else RXNORM)
        r: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": m.id,
            "meta": {"profile": [US_CORE + "us-core-medicationrequest"]},
            "status": "active" if m.stop is None else "stopped" if m.stop_reason else "completed",
            "intent": "order",
        }
        if m.administration:
            med_id = derived_id(m.id, "Medication")
            yield {
                "resourceType": "Medication",
                "id": med_id,
                "meta": {"profile": [US_CORE + "us-core-medication"]},
                "code": med_concept,
                "status": "active",
            }, False
            setting = "inpatient" if ctx.act == "IMP" else "outpatient"
            r["category"] = [fixed(TERMINOLOGY + "medicationrequest-category", setting,
                                   setting.capitalize(), text=True)]
            r["medicationReference"] = {"reference": self.ref("Medication", med_id),
                                        "display": code.display}
        else:
            r["category"] = [fixed(TERMINOLOGY + "medicationrequest-category", "community",
                                   "Community", text=True)]
            r["medicationCodeableConcept"] = med_concept
        r["subject"] = self.patient_ref
        r["encounter"] = ctx.encounter
        r["authoredOn"] = datetime(m.start)
        r["requester"] = ctx.practitioner or ctx.organization or self.patient_ref
        self._reason(r, m.reasons)
        dosage = _dosage(m.prescription)
        if dosage is not None:
            r["dosageInstruction"] = [dosage]
        yield r, False
        if m.claim is not None:
            request = {"reference": self.ref("MedicationRequest", m.id)}
            for resource in claim_resources(ctx, m.claim, (med_concept, request)):
                yield resource, False
        if m.administration:
            admin: dict[str, Any] = {
                "resourceType": "MedicationAdministration",
                "id": derived_id(m.id, "MedicationAdministration"),
                "status": "completed",
                "medicationCodeableConcept": med_concept,
                "subject": self.patient_ref,
                "context": ctx.encounter,
                "effectiveDateTime": datetime(m.start),
            }
            self._reason(admin, m.reasons)
            yield admin, False

    def _immunization(self, ctx: _EncounterContext, i: Immunization) -> dict[str, Any]:
        r: dict[str, Any] = {
            "resourceType": "Immunization",
            "id": i.id,
            "meta": {"profile": [US_CORE + "us-core-immunization"]},
            "status": "completed",
            "vaccineCode": concept(i.code, CVX),
            "patient": self.patient_ref,
            "encounter": ctx.encounter,
            "occurrenceDateTime": datetime(i.start),
            "primarySource": True,
        }
        if ctx.location is not None:
            r["location"] = ctx.location
        return r

    def _report(self, ctx: _EncounterContext, rep: Report) -> dict[str, Any]:
        lab = all(o.category == "laboratory" for o in rep.observations)
        r: dict[str, Any] = {"resourceType": "DiagnosticReport", "id": rep.id}
        if lab:
            r["meta"] = {"profile": [US_CORE + "us-core-diagnosticreport-lab"]}
        r["status"] = "final"
        if lab:
            r["category"] = [fixed(TERMINOLOGY + "v2-0074", "LAB", "Laboratory", text=True)]
        r["code"] = concept(rep.code, LOINC)
        r["subject"] = self.patient_ref
        r["encounter"] = ctx.encounter
        r["effectiveDateTime"] = datetime(rep.start)
        r["issued"] = instant(rep.start)
        if lab and ctx.organization is not None:
            r["performer"] = [ctx.organization]
        if rep.observations:
            r["result"] = [{"reference": self.ref("Observation", o.id), "display": o.code.display}
                           for o in rep.observations]
        return r

    def _careplan(self, ctx: _EncounterContext, cp: CarePlan) -> Iterator[Item]:
        ended = cp.stop is not None
        team_id = derived_id(cp.id, "CareTeam")
        team: dict[str, Any] = {
            "resourceType": "CareTeam",
            "id": team_id,
            "meta": {"profile": [US_CORE + "us-core-careteam"]},
            "status": "inactive" if ended else "active",
            "period": period(cp.start, cp.stop),
            "subject": self.patient_ref,
            "encounter": ctx.encounter,
        }
        if cp.reasons:
            team["reasonCode"] = [concept(x) for x in cp.reasons]
        members = [(_CARE_ROLES[0], self.patient_ref)]
        if ctx.practitioner is not None:
            members.append((_CARE_ROLES[1], ctx.practitioner))
        if ctx.organization is not None:
            members.append((_CARE_ROLES[2], ctx.organization))
        team["participant"] = [{"role": [fixed(SNOMED, code, display, text=True)],
                                "member": member} for (code, display), member in members]
        if ctx.organization is not None:
            team["managingOrganization"] = [ctx.organization]
        yield team, False

        goal_refs = []
        for n, goal in enumerate(cp.goals):
            gid = derived_id(cp.id, f"Goal {n}")
            goal_refs.append({"reference": self.ref("Goal", gid)})
            yield self._goal(gid, goal, cp), False

        display = cp.code.display
        reason = cp.reasons[0].display if cp.reasons else ""
        div = f"Care Plan for {_xhtml(display)}."
        if reason:
            div += f"<br/>Care plan is meant to treat {_xhtml(reason)}."
        if cp.activities:
            items = "".join(f"<li>{_xhtml(a.display)}</li>" for a in cp.activities)
            div += f"<br/>Activities: <ul>{items}</ul>"
        r: dict[str, Any] = {
            "resourceType": "CarePlan",
            "id": cp.id,
            "meta": {"profile": [US_CORE + "us-core-careplan"]},
            "text": {"status": "generated",
                     "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{div}</div>'},
            "status": "completed" if ended else "active",
            "intent": "order",
            "category": [
                fixed("http://hl7.org/fhir/us/core/CodeSystem/careplan-category", "assess-plan",
                      "Assessment and Plan of Treatment"),
                concept(cp.code),
            ],
            "subject": self.patient_ref,
            "encounter": ctx.encounter,
            "period": period(cp.start, cp.stop),
            "careTeam": [{"reference": self.ref("CareTeam", team_id)}],
        }
        if cp.reasons:
            found = self.conditions.get(cp.reasons[0].code)
            if found is not None:
                r["addresses"] = [found]
        if goal_refs:
            r["goal"] = goal_refs
        if cp.activities:
            activities = []
            for a in cp.activities:
                detail: dict[str, Any] = {"code": concept(a),
                                          "status": "completed" if ended else "in-progress"}
                if ctx.location is not None:
                    detail["location"] = ctx.location
                activities.append({"detail": detail})
            r["activity"] = activities
        yield r, False

    def _goal(self, gid: str, goal: dict[str, Any], cp: CarePlan) -> dict[str, Any]:
        description: dict[str, Any]
        if goal.get("text"):
            description = {"text": str(goal["text"])}
        elif goal.get("codes"):
            first = goal["codes"][0]
            description = {"coding": [{"system": LOINC, "code": str(first.get("code", "")),
                                       "display": str(first.get("display", ""))}],
                           "text": str(first.get("display", ""))}
        elif isinstance(goal.get("observation"), dict):
            obs = goal["observation"]
            codes = obs.get("codes") or [{}]
            description = {"text": f"{codes[0].get('display', '')} {obs.get('operator', '')} "
                                   f"{obs.get('value', '')}".strip()}
        else:
            description = {"text": cp.code.display}
        r: dict[str, Any] = {
            "resourceType": "Goal",
            "id": gid,
            "meta": {"profile": [US_CORE + "us-core-goal"]},
            "lifecycleStatus": "accepted",
            "achievementStatus": fixed(TERMINOLOGY + "goal-achievement",
                                       "achieved" if cp.stop is not None else "in-progress",
                                       "Achieved" if cp.stop is not None else "In Progress"),
            "description": description,
            "subject": self.patient_ref,
            "target": [{"measure": description,
                        "dueDate": datetime(cp.start + 30 * 86_400_000)[:10]}],
        }
        addresses = []
        for item in goal.get("addresses") or []:
            if isinstance(item, dict):
                snomed = (item.get("codes") or {}).get("SNOMED-CT") or []
                found = self.conditions.get(str(snomed[0])) if snomed else None
                if found is not None:
                    addresses.append(found)
        if addresses:
            r["addresses"] = addresses
        return r

    def _imaging(self, ctx: _EncounterContext, s: ImagingStudy) -> dict[str, Any]:
        dicom = "http://dicom.nema.org/medical/dicom/current/output/chtml/part16/sect_CID_29.html"
        series = []
        for n, se in enumerate(s.series, start=1):
            series.append({
                "uid": se.uid,
                "number": n,
                "modality": {"system": dicom, "code": se.modality.code,
                             "display": se.modality.display},
                "numberOfInstances": len(se.instances),
                "bodySite": coding(se.body_site),
                "started": datetime(s.start),
                "instance": [{"uid": inst.uid,
                              "sopClass": {"system": "urn:ietf:rfc:3986",
                                           "code": f"urn:oid:{inst.sop_class.code}"},
                              "number": k, "title": inst.title}
                             for k, inst in enumerate(se.instances, start=1)],
            })
        r: dict[str, Any] = {
            "resourceType": "ImagingStudy",
            "id": s.id,
            "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986",
                            "value": f"urn:oid:{s.uid}"}],
            "status": "available",
            "subject": self.patient_ref,
            "encounter": ctx.encounter,
            "started": datetime(s.start),
            "numberOfSeries": len(series),
            "numberOfInstances": sum(len(se.instances) for se in s.series),
            "procedureCode": [concept(s.code)],
        }
        if ctx.location is not None:
            r["location"] = ctx.location
        if series:
            r["series"] = series
        return r

    def _note(self, ctx: _EncounterContext, is_last: bool) -> Iterator[Item]:
        enc = ctx.enc
        text = self.notes.note(enc)
        data = base64.b64encode(text.encode()).decode("ascii")
        report_id = derived_id(enc.id, "DiagnosticReport note")
        author = ctx.practitioner or ctx.organization
        report: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "id": report_id,
            "meta": {"profile": [US_CORE + "us-core-diagnosticreport-note"]},
            "status": "final",
            "category": [_NOTE_CONCEPT],
            "code": _NOTE_CONCEPT,
            "subject": self.patient_ref,
            "encounter": ctx.encounter,
            "effectiveDateTime": datetime(enc.start),
            "issued": instant(enc.start),
        }
        if author is not None:
            report["performer"] = [author]
        form = {"contentType": "text/plain; charset=utf-8", "data": data}
        report["presentedForm"] = [form]
        yield report, False
        doc: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "id": derived_id(enc.id, "DocumentReference note"),
            "meta": {"profile": [US_CORE + "us-core-documentreference"]},
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{report_id}"}],
            "status": "current" if is_last else "superseded",
            "type": _NOTE_CONCEPT,
            "category": [fixed("http://hl7.org/fhir/us/core/CodeSystem/"
                               "us-core-documentreference-category", "clinical-note",
                               "Clinical Note", text=True)],
            "subject": self.patient_ref,
            "date": instant(enc.start),
        }
        if author is not None:
            doc["author"] = [author]
        if ctx.organization is not None:
            doc["custodian"] = ctx.organization
        doc["content"] = [{"attachment": form, "format": {
            "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
            "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient", "display": "mimeType Sufficient"}}]
        doc["context"] = {"encounter": [ctx.encounter], "period": ctx.period}
        yield doc, False

    def _provenance(self, targets: list[dict[str, str]]) -> dict[str, Any]:
        clinician, org = self.last_author
        r: dict[str, Any] = {
            "resourceType": "Provenance",
            "id": derived_id(self.record.patient.id, "Provenance"),
            "meta": {"profile": [US_CORE + "us-core-provenance"]},
            "target": targets,
            "recorded": instant(self.record.end_time),
        }
        if clinician is not None:
            who = {"reference": self.ref("Practitioner", clinician.id),
                   "display": shared.clinician_name(clinician)}
            behalf = {"reference": self.ref("Organization", org.id), "display": org.name}
            agents = []
            for system, code, display in (
                    (TERMINOLOGY + "provenance-participant-type", "author", "Author"),
                    ("http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type",
                     "transmitter", "Transmitter")):
                agents.append({"type": fixed(system, code, display, text=True), "who": who,
                               "onBehalfOf": behalf})
            r["agent"] = agents
        else:
            r["agent"] = [{"type": fixed(TERMINOLOGY + "provenance-participant-type", "author",
                                         "Author", text=True),
                           "who": {"display": "Synthetic data generator"}}]
        return r


class _EncounterContext:
    """References of one encounter, computed once and shared by its resources."""

    __slots__ = ("owner", "enc", "act", "period", "encounter", "organization", "practitioner",
                 "location", "org", "clinician", "ref", "patient_ref", "payer_name")

    def __init__(self, owner: RecordResources, enc: Encounter, org: Any, clinician: Any) -> None:
        ref = owner.ref
        self.owner = owner
        self.ref = ref
        self.patient_ref = owner.patient_ref
        self.enc = enc
        self.org = org
        self.clinician = clinician
        self.act = ACT_CODES.get(enc.encounter_class, ("AMB", ""))[0]
        self.period = period(enc.start, enc.stop)
        self.encounter = {"reference": ref("Encounter", enc.id)}
        self.organization = ({"reference": ref("Organization", org.id), "display": org.name}
                             if org is not None else None)
        self.practitioner = ({"reference": ref("Practitioner", clinician.id),
                              "display": shared.clinician_name(clinician)}
                             if clinician is not None else None)
        if enc.encounter_class == "virtual":
            self.location = {"reference": ref("Location", shared.HOME_LOCATION_ID),
                             "display": "Patient's Home"}
        elif org is not None:
            self.location = {"reference": ref("Location", shared.location_id(org.id)),
                             "display": org.name}
        else:
            self.location = None
        payers = owner.ctx.payers
        payer = payers.by_id.get(enc.payer_id) if payers is not None and enc.payer_id else None
        self.payer_name = payer.name if payer is not None else "NO_INSURANCE"


def _set_value(target: dict[str, Any], o: Observation) -> None:
    value = o.value
    if value is None:
        return
    if isinstance(value, bool):
        target["valueBoolean"] = value
    elif isinstance(value, int | float):
        q: dict[str, Any] = {"value": decimal(value)}
        if o.unit:
            q.update(unit=o.unit, system=UCUM, code=o.unit)
        target["valueQuantity"] = q
    elif isinstance(value, Code):
        target["valueCodeableConcept"] = concept(value)
    elif isinstance(value, list):
        target["valueSampledData"] = {
            "origin": {"value": 0}, "period": 1, "dimensions": 1,
            "data": " ".join(str(decimal(float(x))) for x in value) or "E",
        }
    else:
        target["valueString"] = str(value)


def _dosage(prescription: dict[str, Any] | None) -> dict[str, Any] | None:
    if not prescription:
        return None
    as_needed = "as_needed" in prescription
    d: dict[str, Any] = {"sequence": 1, "asNeededBoolean": bool(prescription.get("as_needed"))
                         if as_needed else False}
    if as_needed:
        d["text"] = "Take as needed."
        return d
    dosage = prescription.get("dosage")
    if isinstance(dosage, dict):
        repeat: dict[str, Any] = {}
        if dosage.get("frequency") is not None:
            repeat["frequency"] = int(dosage["frequency"])
        if dosage.get("period") is not None:
            repeat["period"] = decimal(float(dosage["period"]))
        unit = _PERIOD_UNITS.get(str(dosage.get("unit", "")))
        if unit is not None:
            repeat["periodUnit"] = unit
        if repeat:
            d["timing"] = {"repeat": repeat}
        if dosage.get("amount") is not None:
            d["doseAndRate"] = [{
                "type": fixed(TERMINOLOGY + "dose-rate-type", "ordered", "Ordered", text=True),
                "doseQuantity": {"value": decimal(float(dosage["amount"]))},
            }]
    instructions = [x for x in prescription.get("instructions") or [] if isinstance(x, dict)]
    if instructions:
        d["additionalInstruction"] = [
            concept(Code(str(x.get("system", "SNOMED-CT")), str(x.get("code", "")),
                         str(x.get("display", "")))) for x in instructions]
        d["text"] = "\n".join(str(x.get("display", "")) for x in instructions)
    return d


def _xhtml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _patient_text(record: HealthRecord) -> str:
    return (f"Generated by the synthetic patient simulator. Person index: {record.index}.")
