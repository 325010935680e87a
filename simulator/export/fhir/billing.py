"""Claim and ExplanationOfBenefit resources (fhir-export.md §3.14, §3.9 pharmacy claims).

The EOB's adjudication amounts are the claim's own line split (copay, deductible, coinsurance and
what the payer paid, from the engine's adjudication), not the reference's fixed 80/20 split.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from simulator.export.fhir.codes import TERMINOLOGY, concept, datetime, fixed, money
from simulator.ids import derived_id
from simulator.record import Claim, ClaimLine

_YEAR_MS = 365 * 86_400_000
_AMB = frozenset({"wellness", "ambulatory", "outpatient", "urgentcare"})
_BB_VARIABLES = "https://bluebutton.cms.gov/resources/variables/"
_BB_ADJUDICATION = "https://bluebutton.cms.gov/resources/codesystem/adjudication"
_SERVICE_PLACE = {"ambulatory": ("21", "Inpatient Hospital"),
                  "emergency": ("20", "Urgent Care Facility"),
                  "inpatient": ("21", "Inpatient Hospital"),
                  "urgentcare": ("20", "Urgent Care Facility"),
                  "wellness": ("19", "Off Campus-Outpatient Hospital")}
_MEDICAL_CARE = fixed(_BB_VARIABLES + "line_cms_type_srvc_cd", "1", "Medical care", text=True)
_PRIORITY = fixed(TERMINOLOGY + "processpriority", "normal", "Normal")
_INFO = fixed(TERMINOLOGY + "claiminformationcategory", "info", "Information")
_PRINCIPAL = fixed(TERMINOLOGY + "ex-diagnosistype", "principal", "Principal")
_PRIMARY = fixed(TERMINOLOGY + "claimcareteamrole", "primary", "Primary provider")
_SUBMITTED = fixed(TERMINOLOGY + "adjudication", "submitted", "Submitted Amount")


def _claim_type(code: str) -> dict[str, Any]:
    return fixed(TERMINOLOGY + "claim-type", code, code.capitalize())


def _category(variable: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": _BB_ADJUDICATION, "code": _BB_VARIABLES + variable,
                        "display": display}]}


# Shared by every line: the dicts are only read by the serializer.
_COINSURANCE = _category("line_coinsrnc_amt", "Line Beneficiary Coinsurance Amount")
_PROVIDER_PAID = _category("line_prvdr_pmt_amt", "Line Provider Payment Amount")
_SUBMITTED_CHARGE = _category("line_sbmtd_chrg_amt", "Line Submitted Charge Amount")
_ALLOWED = _category("line_alowd_chrg_amt", "Line Allowed Charge Amount")
_DEDUCTIBLE = _category("line_bene_ptb_ddctbl_amt", "Line Beneficiary Part B Deductible Amount")
_PROCESSING = {"category": _category("line_prcsg_ind_cd", "Line Processing Indicator Code")}


def _line_adjudication(line: ClaimLine) -> list[dict[str, Any]]:
    cost = money(line.cost)
    return [
        {"category": _COINSURANCE, "amount": money(line.coinsurance + line.copay)},
        {"category": _PROVIDER_PAID, "amount": money(line.payer)},
        {"category": _SUBMITTED_CHARGE, "amount": cost},
        {"category": _ALLOWED, "amount": cost},
        {"category": _DEDUCTIBLE, "amount": money(line.deductible)},
        _PROCESSING,
    ]


def claim_resources(ctx: Any, claim: Claim,
                    medication: tuple[dict[str, Any], dict[str, str]] | None) -> Iterator[dict]:
    """The Claim and its ExplanationOfBenefit. `ctx` is the encounter context of
    :mod:`simulator.export.fhir.clinical`; `medication` = (medication concept, MedicationRequest
    reference) for a pharmacy claim."""
    enc = ctx.enc
    ref = ctx.ref
    end = enc.stop if enc.stop is not None else enc.start
    if medication is not None:
        kind = "pharmacy"
    else:
        kind = "professional" if enc.encounter_class in _AMB else "institutional"
    provider = ctx.organization or {"display": "Unknown"}
    insurance_display = {"display": ctx.payer_name}

    items: list[dict[str, Any]] = []
    diagnosis: list[dict[str, Any]] = []
    procedures: list[dict[str, Any]] = []
    supporting: list[dict[str, Any]] = []
    line_of_item: list[ClaimLine | None] = []
    encounter_ref = [ctx.encounter]
    if medication is not None:
        med_concept, request = medication
        line = claim.lines[0]
        items.append({"sequence": 1, "productOrService": med_concept, "encounter": encounter_ref,
                      "net": money(line.cost)})
        line_of_item.append(line)
    else:
        entries = {e.id: e for group in (enc.procedures, enc.immunizations, enc.reports)
                   for e in group}
        main = enc.codes[0] if enc.codes else None
        service = concept(main) if main is not None else {"text": "Encounter"}
        items.append({"sequence": 1, "productOrService": service, "encounter": encounter_ref,
                      "net": money(claim.lines[0].cost)})
        line_of_item.append(claim.lines[0])
        for line in claim.lines[1:]:
            entry = entries.get(line.entry_id)
            if entry is None:
                continue
            seq = len(items) + 1
            item: dict[str, Any] = {"sequence": seq, "productOrService": concept(entry.code),
                                    "encounter": encounter_ref, "net": money(line.cost)}
            if line.kind == "procedure":
                n = len(procedures) + 1
                procedures.append({"sequence": n, "procedureReference": {
                    "reference": ref("Procedure", entry.id)}})
                item["procedureSequence"] = [n]
            else:
                n = len(supporting) + 1
                target = "Immunization" if line.kind == "immunization" else "DiagnosticReport"
                supporting.append({"sequence": n, "category": _INFO,
                                   "valueReference": {"reference": ref(target, entry.id)}})
                item["informationSequence"] = [n]
            items.append(item)
            line_of_item.append(line)
        for c in enc.conditions:
            n = len(diagnosis) + 1
            diagnosis.append({"sequence": n, "diagnosisReference": {
                "reference": ref("Condition", c.id)}})
            items.append({"sequence": len(items) + 1, "diagnosisSequence": [n],
                          "productOrService": concept(c.code), "encounter": encounter_ref})
            line_of_item.append(None)

    total = claim.total
    c: dict[str, Any] = {
        "resourceType": "Claim",
        "id": claim.id,
        "status": "active",
        "type": _claim_type(kind),
        "use": "claim",
        "patient": ctx.patient_ref,
        "billablePeriod": ctx.period,
        "created": datetime(end),
        "provider": provider,
        "priority": _PRIORITY,
    }
    if ctx.location is not None:
        c["facility"] = ctx.location
    if medication is not None:
        c["prescription"] = medication[1]
    if supporting:
        c["supportingInfo"] = supporting
    if diagnosis:
        c["diagnosis"] = diagnosis
    if procedures:
        c["procedure"] = procedures
    c["insurance"] = [{"sequence": 1, "focal": True, "coverage": insurance_display}]
    c["item"] = items
    c["total"] = money(total)
    yield c

    performer = ctx.practitioner or provider
    place = _SERVICE_PLACE.get(enc.encounter_class, ("21", "Inpatient Hospital"))
    eob_items = []
    for item, line in zip(items, line_of_item, strict=True):
        e: dict[str, Any] = {"sequence": item["sequence"]}
        for key in ("diagnosisSequence", "procedureSequence", "informationSequence"):
            if key in item:
                e[key] = item[key]
        e["category"] = _MEDICAL_CARE
        e["productOrService"] = item["productOrService"]
        e["servicedPeriod"] = ctx.period
        e["locationCodeableConcept"] = fixed(TERMINOLOGY + "ex-serviceplace", *place, text=True)
        if line is not None:
            e["net"] = money(line.cost)
            e["adjudication"] = _line_adjudication(line)
        e["encounter"] = encounter_ref
        eob_items.append(e)
    eob: dict[str, Any] = {
        "resourceType": "ExplanationOfBenefit",
        "id": derived_id(claim.id, "ExplanationOfBenefit"),
        "contained": [
            {"resourceType": "ServiceRequest", "id": "referral", "status": "completed",
             "intent": "order", "subject": ctx.patient_ref, "requester": performer,
             "performer": [performer]},
            {"resourceType": "Coverage", "id": "coverage", "status": "active",
             "type": {"text": ctx.payer_name}, "beneficiary": ctx.patient_ref,
             "payor": [insurance_display]},
        ],
        "identifier": [
            {"system": _BB_VARIABLES + "clm_id", "value": claim.id},
            {"system": "https://bluebutton.cms.gov/resources/identifier/claim-group",
             "value": "99999999999"},
        ],
        "status": "active",
        "type": _claim_type(kind),
        "use": "claim",
        "patient": ctx.patient_ref,
        "billablePeriod": {"start": datetime(end), "end": datetime(end + _YEAR_MS)},
        "created": datetime(end),
        "insurer": insurance_display,
        "provider": performer,
        "referral": {"reference": "#referral"},
    }
    if ctx.location is not None:
        eob["facility"] = ctx.location
    eob["claim"] = {"reference": ref("Claim", claim.id)}
    eob["outcome"] = "complete"
    eob["careTeam"] = [{"sequence": 1, "provider": performer, "role": _PRIMARY}]
    if diagnosis:
        eob["diagnosis"] = [dict(d, type=[_PRINCIPAL]) for d in diagnosis]
    eob["insurance"] = [{"focal": True, "coverage": {"reference": "#coverage"}}]
    eob["item"] = eob_items
    eob["total"] = [{"category": _SUBMITTED, "amount": money(total)}]
    eob["payment"] = {"amount": money(claim.payer_paid)}
    yield eob
