"""Synthea-compatible CSV exporter (``docs/csv-export.md``).

One set of table-like files per run; each patient's rows are appended as the patient finishes.
Values are never quoted: free text in the columns the reference marks "clean" has every CR LF,
CR, LF and comma replaced by a single space and is trimmed. Dates are ``yyyy-MM-dd`` and
date-times ``yyyy-MM-ddTHH:mm:ssZ``, both in UTC; money is ``%.2f`` rounded half-up.

Per-patient files: patients, encounters, conditions, allergies, medications, observations,
procedures, immunizations, careplans, imaging_studies, devices, supplies, claims,
claims_transactions, payer_transitions (:func:`record_rows`); once per run: organizations,
providers, payers (:func:`run_level_lines`). ``patient_expenses.csv`` (excluded by default in
the reference) is not produced.

Claims (§3.17, §3.18) come from the engine's adjudication (``Encounter.claim``,
``Medication.claim``). Where this exporter knowingly differs from the reference:

* ``CHARGEID`` counts the transactions of one claim from 0, not run-wide: the reference's
  counter depends on thread scheduling, this one is the same for any number of workers.
  (``CLAIMID``, ``CHARGEID``) is unique. Transaction ids are deterministic too: one id
  derived from the claim id (:func:`simulator.ids.derived_id`) plus ``CHARGEID`` in its last
  48 bits.
* Money is handled in whole cents: a line's charge is its cost truncated to cents (as the
  adjudication truncates), and each payment is capped at the balance, so every line's
  charge equals its payments plus adjustments plus what is left outstanding, to the cent.
* ``HEALTHCARECLAIMTYPEID`` needs the organization's kind, which the record does not hold:
  it is looked up in the provider network of the patient's state (or by the
  ``organization_kind`` argument of :func:`record_rows`); an id found in neither counts as
  non-institutional.
* ``CURRENTILLNESSDATE`` reads "still-active" as "a condition without a stop at the end of the
  simulation", the state of the record when the reference exports it.
* patients.csv ``HEALTHCARE_EXPENSES`` / ``HEALTHCARE_COVERAGE`` are what the patient / the
  payers paid over all of the record's claims (premiums are not included).

Usage::

    with CsvWriter(out_dir / "csv") as writer:
        for record in records:
            writer.write_lines(record_rows(record))
"""

from __future__ import annotations

import functools
import math
import pathlib
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from simulator.engine.timeutil import age_years
from simulator.export.claim_transactions import ClaimTransactions
from simulator.export.csv_text import (
    cents_text,
    clean,
    format_datetime,
    format_decimal1,
    format_money,
    opt_date,
    opt_datetime,
    text,
    truncate_cents,
)
from simulator.payers.export import PAYER_COLUMNS, PAYER_TRANSITION_COLUMNS, payer_transition_rows
from simulator.payers.fills import dispenses
from simulator.providers.csv_rows import ORGANIZATION_COLUMNS, PROVIDER_COLUMNS
from simulator.providers.network import provider_network
from simulator.record import (
    Allergy,
    Claim,
    Code,
    Encounter,
    Entry,
    HealthRecord,
    Observation,
    Patient,
)

__all__ = [
    "CSV_FILES",
    "RUN_LEVEL_FILES",
    "CsvWriter",
    "OrganizationKind",
    "observation_value",
    "record_rows",
    "run_level_lines",
]

# --------------------------------------------------------------------------------------------
# Files and headers (reference §3), in export order.
# --------------------------------------------------------------------------------------------

CSV_FILES: dict[str, tuple[str, ...]] = {
    "patients": (
        "Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "FIRST",
        "MIDDLE", "LAST", "SUFFIX", "MAIDEN", "MARITAL", "RACE", "ETHNICITY", "GENDER",
        "BIRTHPLACE", "ADDRESS", "CITY", "STATE", "COUNTY", "FIPS", "ZIP", "LAT", "LON",
        "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE", "INCOME",
    ),
    "encounters": (
        "Id", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER",
        "ENCOUNTERCLASS", "CODE", "DESCRIPTION", "BASE_ENCOUNTER_COST", "TOTAL_CLAIM_COST",
        "PAYER_COVERAGE", "REASONCODE", "REASONDESCRIPTION",
    ),
    "conditions": ("START", "STOP", "PATIENT", "ENCOUNTER", "SYSTEM", "CODE", "DESCRIPTION"),
    "allergies": (
        "START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "SYSTEM", "DESCRIPTION", "TYPE",
        "CATEGORY", "REACTION1", "DESCRIPTION1", "SEVERITY1", "REACTION2", "DESCRIPTION2",
        "SEVERITY2",
    ),
    "medications": (
        "START", "STOP", "PATIENT", "PAYER", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST",
        "PAYER_COVERAGE", "DISPENSES", "TOTALCOST", "REASONCODE", "REASONDESCRIPTION",
    ),
    "observations": (
        "DATE", "PATIENT", "ENCOUNTER", "CATEGORY", "CODE", "DESCRIPTION", "VALUE", "UNITS",
        "TYPE",
    ),
    "procedures": (
        "START", "STOP", "PATIENT", "ENCOUNTER", "SYSTEM", "CODE", "DESCRIPTION", "BASE_COST",
        "REASONCODE", "REASONDESCRIPTION",
    ),
    "immunizations": ("DATE", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST"),
    "careplans": (
        "Id", "START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "REASONCODE",
        "REASONDESCRIPTION",
    ),
    "imaging_studies": (
        "Id", "DATE", "PATIENT", "ENCOUNTER", "SERIES_UID", "BODYSITE_CODE",
        "BODYSITE_DESCRIPTION", "MODALITY_CODE", "MODALITY_DESCRIPTION", "INSTANCE_UID",
        "SOP_CODE", "SOP_DESCRIPTION", "PROCEDURE_CODE",
    ),
    "devices": ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "UDI"),
    "supplies": ("DATE", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "QUANTITY"),
    "claims": (
        "Id", "PATIENTID", "PROVIDERID", "PRIMARYPATIENTINSURANCEID",
        "SECONDARYPATIENTINSURANCEID", "DEPARTMENTID", "PATIENTDEPARTMENTID",
        *(f"DIAGNOSIS{i}" for i in range(1, 9)), "REFERRINGPROVIDERID", "APPOINTMENTID",
        "CURRENTILLNESSDATE", "SERVICEDATE", "SUPERVISINGPROVIDERID", "STATUS1", "STATUS2",
        "STATUSP", "OUTSTANDING1", "OUTSTANDING2", "OUTSTANDINGP", "LASTBILLEDDATE1",
        "LASTBILLEDDATE2", "LASTBILLEDDATEP", "HEALTHCARECLAIMTYPEID1", "HEALTHCARECLAIMTYPEID2",
    ),
    "claims_transactions": (
        "ID", "CLAIMID", "CHARGEID", "PATIENTID", "TYPE", "AMOUNT", "METHOD", "FROMDATE",
        "TODATE", "PLACEOFSERVICE", "PROCEDURECODE", "MODIFIER1", "MODIFIER2", "DIAGNOSISREF1",
        "DIAGNOSISREF2", "DIAGNOSISREF3", "DIAGNOSISREF4", "UNITS", "DEPARTMENTID", "NOTES",
        "UNITAMOUNT", "TRANSFEROUTID", "TRANSFERTYPE", "PAYMENTS", "ADJUSTMENTS", "TRANSFERS",
        "OUTSTANDING", "APPOINTMENTID", "LINENOTE", "PATIENTINSURANCEID", "FEESCHEDULEID",
        "PROVIDERID", "SUPERVISINGPROVIDERID",
    ),
    "payer_transitions": PAYER_TRANSITION_COLUMNS,
    "organizations": ORGANIZATION_COLUMNS,
    "providers": PROVIDER_COLUMNS,
    "payers": PAYER_COLUMNS,
}  # fmt: skip
# Files written once per run (from the whole run's utilization), not per patient.
RUN_LEVEL_FILES = ("organizations", "providers", "payers")

# --------------------------------------------------------------------------------------------
# Code systems (reference §1.2, recommended default-configuration forms).
# --------------------------------------------------------------------------------------------

_SYSTEM_URIS: dict[str, str] = {
    "SNOMED-CT": "http://snomed.info/sct",
    "LOINC": "http://loinc.org",
    "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "DICOM-DCM": "http://dicom.nema.org/medical/dicom/current/output/chtml/part16/sect_CID_29.html",
    "CDT": "http://www.ada.org/cdt",
    "ICD9": "http://hl7.org/fhir/sid/icd-9-cm",
    "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "ICD10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
}
# Short name for allergies: accepts the short name itself or its URI; anything else "Unknown".
_SYSTEM_SHORT: dict[str, str] = {
    **{s: s for s in _SYSTEM_URIS},
    **{u: s for s, u in _SYSTEM_URIS.items()},
}


def _system_uri(system: str) -> str:
    """conditions/procedures SYSTEM: URI for known short names, anything else unchanged."""
    return _SYSTEM_URIS.get(system, system)


def _system_short(system: str) -> str:
    """allergies SYSTEM: short name, ``Unknown`` for unrecognised systems."""
    return _SYSTEM_SHORT.get(system, "Unknown")


# --------------------------------------------------------------------------------------------
# Row builders.
# --------------------------------------------------------------------------------------------

_NO_CODE = Code("", "", "")
_SEVERITY_ORDER = {"SEVERE": 0, "MODERATE": 1, "MILD": 2}


def _first(codes: list[Code]) -> Code:
    return codes[0] if codes else _NO_CODE


def _reason(reasons: list[Code]) -> str:
    """``REASONCODE,REASONDESCRIPTION`` for the first reason, or ``,``."""
    if not reasons:
        return ","
    r = reasons[0]
    return f"{r.code},{clean(r.display)}"


def _patient_line(p: Patient, expenses: int, coverage: int) -> str:
    """``expenses`` / ``coverage``: cents the patient / the payers paid over all claims."""
    return ",".join(
        (
            p.id,
            opt_date(p.birthdate),
            opt_date(p.deathdate),
            clean(p.ssn),
            clean(p.drivers),
            clean(p.passport),
            clean(p.prefix),
            clean(p.first),
            clean(p.middle),
            clean(p.last),
            clean(p.suffix),
            clean(p.maiden),
            clean(p.marital),
            clean(p.race),
            clean(p.ethnicity),
            clean(p.gender),
            clean(p.birthplace),
            clean(p.address),
            clean(p.city),
            clean(p.state),
            clean(p.county),
            clean(p.fips),
            clean(p.zip),
            "" if p.lat is None else repr(p.lat),
            "" if p.lon is None else repr(p.lon),
            cents_text(expenses),
            cents_text(coverage),
            "" if p.income is None else str(p.income),
        )
    )


def _encounter_line(e: Encounter, pid: str, covered_cents: int | None) -> str:
    """``covered_cents``: what the payer paid on the encounter's claim (None: no claim)."""
    total = e.claim_total
    c = _first(e.codes)
    reason = e.reason
    reason_text = "," if reason is None else f"{reason.code},{clean(reason.display)}"
    claim = e.claim
    if claim is None or covered_cents is None:  # not adjudicated (a run without payers)
        payer = e.payer_id or ""
        covered = format_money(e.payer_coverage)
    else:
        payer = claim.payer_id
        covered = cents_text(covered_cents)
    return (
        f"{e.id},{format_datetime(e.start)},{opt_datetime(e.stop)},{pid},"
        f"{e.organization_id or ''},{e.clinician_id or ''},{payer},"
        f"{e.encounter_class or ''},{c.code},{clean(c.display)},"
        f"{format_money(e.base_cost)},{format_money(total)},{covered},"
        f"{reason_text}"
    )


def _allergy_line(a: Allergy, prefix: str) -> str:
    c = _first(a.codes)
    reactions = a.reactions
    if len(reactions) > 1:
        reactions = sorted(
            reactions, key=lambda r: _SEVERITY_ORDER.get((r.severity or "").upper(), 3)
        )
    parts = []
    for r in reactions[:2]:
        parts.append(f"{r.code.code},{clean(r.code.display)},{(r.severity or '').upper()}")
    while len(parts) < 2:
        parts.append(",,")
    return (
        f"{opt_date(a.start)},{opt_date(a.stop)},{prefix}{c.code},{_system_short(c.system)},"
        f"{clean(c.display)},{a.allergy_type or ''},{a.category or ''},{parts[0]},{parts[1]}"
    )


def observation_value(value: Any) -> tuple[str, str]:
    """(VALUE, TYPE) by value kind (§3.7)."""
    t = type(value)
    if t is float:
        return format_decimal1(value), "numeric"
    if t is str:
        return clean(value), "text"
    if t is bool:
        return ("true" if value else "false"), "boolean"
    if t is int:
        return str(value), "text"
    if isinstance(value, Code):
        return clean(value.display), "text"
    if isinstance(value, bool):
        return ("true" if value else "false"), "boolean"
    if isinstance(value, float):
        return format_decimal1(value), "numeric"
    if isinstance(value, list | tuple):
        return clean(" ".join(str(v) for v in value)), "text"
    return clean(str(value)), "text"


def _observation_line(o: Observation, prefix: str) -> str:
    c = _first(o.codes)
    value, kind = observation_value(o.value)
    return (
        f"{format_datetime(o.start)},{prefix}{o.category or ''},{c.code},{clean(c.display)},"
        f"{value},{clean(o.unit)},{kind}"
    )


# --------------------------------------------------------------------------------------------
# Claims (§3.17) and claim transactions (§3.18).
# --------------------------------------------------------------------------------------------

OrganizationKind = Callable[[str], str | None]
"""Organization id -> its kind (``simulator.providers.model.Organization.kind``) or None."""

# §3.17 DEPARTMENTID: the encounter class's ordinal; wellness is 10 (under 18) or 20.
_DEPARTMENTS = {
    "ambulatory": "1", "outpatient": "2", "inpatient": "3", "emergency": "4", "urgentcare": "5",
    "hospice": "6", "home": "7", "snf": "8", "virtual": "9",
}  # fmt: skip
# §3.17 HEALTHCARECLAIMTYPEID: institutional = hospital or nursing facility.
_INSTITUTIONAL_KINDS = frozenset({"hospital", "nursing"})
_MAX_DIAGNOSES = 8
_DIAGNOSIS_REFS = 4


def _no_kind(org_id: str) -> str | None:
    return None


@functools.lru_cache(maxsize=64)
def _network_kinds(state: str) -> OrganizationKind:
    """Organization kinds from the provider network of ``state`` (the network the engine chose
    the patient's organizations from; built once per process)."""
    try:
        network = provider_network(state)
    except ValueError:  # not a US state: nothing to look organizations up in
        return _no_kind

    def kind(org_id: str) -> str | None:
        try:
            return network.organization(org_id).kind
        except KeyError:
            return None

    return kind


def _claim_cents(claim: Claim) -> tuple[int, int]:
    """(cents the payers paid, cents the patient paid) on a claim: :func:`part_cents` of
    each part, inlined (a life has tens of thousands of claim lines)."""
    payer = patient = 0
    inf = math.inf
    for line in claim.lines:
        x = line.payer
        if 0.0 < x < inf:
            payer += round(x * 100.0)
        for x in (line.copay, line.deductible, line.coinsurance):
            if 0.0 < x < inf:
                patient += round(x * 100.0)
    return payer, patient


def _lifetime_cents(record: HealthRecord, known: dict[int, tuple[int, int]]
                    ) -> tuple[int, int]:
    """(cents the patient paid, cents the payers paid) over all of a record's claims; each
    claim's :func:`_claim_cents` goes into ``known`` by ``id(claim)``."""
    expenses = coverage = 0
    for e in record.encounters:
        for claim in (e.claim, *(m.claim for m in e.medications)):
            if claim is not None:
                payer, patient = known[id(claim)] = _claim_cents(claim)
                coverage += payer
                expenses += patient
    return expenses, coverage


def _active_condition_starts(record: HealthRecord, end_time: int) -> dict[str, int]:
    """Earliest start per code of the conditions still active at the end of the simulation."""
    starts: dict[str, int] = {}
    for e in record.encounters:
        for x in e.conditions:
            if x.codes and (x.stop is None or x.stop > end_time):
                code = x.codes[0].code
                known = starts.get(code)
                if known is None or x.start < known:
                    starts[code] = x.start
    return starts


@dataclass(slots=True)
class _Billing:
    """What the claims of one encounter (its own and its medications') share."""

    pid: str
    eid: str
    provider: str  # clinician id or empty
    department: str
    diagnoses: str  # DIAGNOSIS1..8
    diagnosis_refs: str  # DIAGNOSISREF1..4
    illness: str  # CURRENTILLNESSDATE
    service: str  # SERVICEDATE
    closed: bool
    status: str
    last_billed: str
    claim_type: str
    place: str  # PLACEOFSERVICE


def _billing(
    e: Encounter,
    pid: str,
    birthdate: int,
    end_time: int,
    active_starts: dict[str, int],
    organization_kind: OrganizationKind,
) -> _Billing:
    codes: list[str] = []
    if e.reason is not None:
        codes.append(e.reason.code)
    codes.extend(x.codes[0].code for x in e.conditions if x.codes)
    del codes[_MAX_DIAGNOSES:]
    if not codes:
        codes.append(_first(e.codes).code)
    illness = e.start
    for code in codes:
        since = active_starts.get(code)
        if since is not None and since < illness:
            illness = since
    cls = e.encounter_class
    if cls == "wellness":
        department = "10" if age_years(birthdate, e.start) < 18 else "20"
    else:
        department = _DEPARTMENTS.get(cls, "99")
    closed = e.stop is not None and end_time > e.stop
    org = e.organization_id
    institutional = not org or organization_kind(org) in _INSTITUTIONAL_KINDS
    padded = codes + [""] * (_MAX_DIAGNOSES - len(codes))
    return _Billing(
        pid=pid,
        eid=e.id,
        provider=e.clinician_id or "",
        department=department,
        diagnoses=",".join(padded),
        diagnosis_refs=",".join(str(i + 1) if padded[i] else "" for i in range(_DIAGNOSIS_REFS)),
        illness=format_datetime(illness),
        service=format_datetime(e.start),
        closed=closed,
        status="CLOSED" if closed else "BILLED",
        last_billed=format_datetime(e.stop if closed and e.stop is not None else e.start),
        claim_type="2" if institutional else "1",
        place=org or "null",
    )


def _claim_line(claim: Claim, b: _Billing, covered: int, patient: int) -> str:
    """``covered`` / ``patient``: cents the payer / the patient paid on the claim."""
    insured = bool(claim.member_id)  # the engine leaves member_id empty when uninsured
    secondary = claim.secondary_payer_id
    if b.closed:
        out1 = outp = "0"
    else:
        out1, outp = cents_text(covered), cents_text(patient)
    status = b.status
    # STATUS2 / OUTSTANDING2 / LASTBILLEDDATE2 are filled only *without* a secondary payer
    # (the reference's inverted condition, §3.17 quirk).
    if secondary:
        status2 = out2 = billed2 = ""
        type2 = "0"
    else:
        status2, out2, billed2, type2 = status, out1, b.last_billed, b.claim_type
    return (
        f"{claim.id},{b.pid},{b.provider},{claim.payer_id if insured else ''},{secondary},"
        f"{b.department},{b.department},{b.diagnoses},,{b.eid},{b.illness},{b.service},"
        f"{b.provider},{status},{status2},{status},{out1},{out2},{outp},"
        f"{b.last_billed},{billed2},{b.last_billed},{b.claim_type},{type2}"
    )


def record_rows(
    record: HealthRecord,
    end_time: int | None = None,
    organization_kind: OrganizationKind | None = None,
    files: Collection[str] | None = None,
    lifetime: HealthRecord | None = None,
    transactions: ClaimTransactions | None = None,
) -> dict[str, list[str]]:
    """All CSV lines (without line terminator) of one patient, per file stem, in the
    reference's per-patient row order (§1.1). ``end_time`` (default ``record.end_time``) is the
    end of the simulation, used for open medications' dispense counts and claim statuses.
    ``organization_kind`` maps an organization id to its kind for the claims' claim type
    (default: the provider network of the patient's state). ``files`` limits the result to
    those stems (default: all); the claim transactions are not built unless asked for.
    ``lifetime`` is the whole record when ``record`` is its export window
    (:mod:`simulator.export.history`): the patient's expenses and coverage are over all of its
    claims. With ``transactions``, the claim transactions are gathered there (made in bulk
    for many records, :class:`ClaimTransactions`) and the result's list is empty."""
    if end_time is None:
        end_time = record.end_time
    patient = record.patient
    pid = patient.id
    kinds = organization_kind
    active_starts: dict[str, int] | None = None
    expenses = coverage = 0  # cents over all claims
    # the claims' cents by id(claim), found over the whole life first when it is given (the
    # window's claims are mostly the same objects; the record holds them all meanwhile)
    known: dict[int, tuple[int, int]] = {}
    lifetime_cents = (_lifetime_cents(lifetime, known)
                      if lifetime is not None and lifetime is not record else None)

    encounters: list[str] = []
    conditions: list[str] = []
    allergies: list[str] = []
    medications: list[str] = []
    observations: list[str] = []
    procedures: list[str] = []
    immunizations: list[str] = []
    careplans: list[str] = []
    imaging: list[str] = []
    devices: list[str] = []
    supplies: list[str] = []
    claims: list[str] = []
    want_transactions = files is None or "claims_transactions" in files
    gathered = transactions if transactions is not None else ClaimTransactions()

    for e in record.encounters:
        eid = e.id
        pe = f"{pid},{eid},"  # "PATIENT,ENCOUNTER," prefix shared by most files
        claim = e.claim
        payer = (e.payer_id or "") if claim is None else claim.payer_id
        billing: _Billing | None = None
        if claim is not None or any(m.claim is not None for m in e.medications):
            if active_starts is None:
                active_starts = _active_condition_starts(record, end_time)
            if kinds is None:
                kinds = _network_kinds(patient.state)
            billing = _billing(e, pid, patient.birthdate, end_time, active_starts, kinds)
        covered_cents: int | None = None
        if claim is not None and billing is not None:
            covered_cents, patient_cents = known.get(id(claim)) or _claim_cents(claim)
            coverage += covered_cents
            expenses += patient_cents
            claims.append(_claim_line(claim, billing, covered_cents, patient_cents))
            if want_transactions:
                entries: dict[tuple[str, str], Entry] = {("encounter", eid): e}
                for kind, group in (("procedure", e.procedures),
                                    ("immunization", e.immunizations)):
                    for entry in group:
                        entries[(kind, entry.id)] = entry
                gathered.add(claim, entries, e, billing)
        encounters.append(_encounter_line(e, pid, covered_cents))

        for x in e.conditions:
            c = _first(x.codes)
            conditions.append(
                f"{opt_date(x.start)},{opt_date(x.stop)},{pe}{_system_uri(c.system)},"
                f"{c.code},{clean(c.display)}"
            )

        for a in e.allergies:
            allergies.append(_allergy_line(a, pe))

        if e.observation_lines:
            observations.extend(e.observation_lines)
        for o in e.observations:
            if o.value is not None:
                observations.append(_observation_line(o, pe))
            else:
                for child in o.children:
                    if child.value is not None:
                        observations.append(_observation_line(child, pe))

        for p in e.procedures:
            c = _first(p.codes)
            procedures.append(
                f"{format_datetime(p.start)},{opt_datetime(p.stop)},{pe}"
                f"{_system_uri(c.system)},{c.code},{clean(c.display)},{format_money(p.cost)},"
                f"{_reason(p.reasons)}"
            )

        for m in e.medications:
            c = _first(m.codes)
            stop = m.stop
            if stop is None and m.administration:
                stop = m.start
            n = dispenses(m, end_time)
            med_claim = m.claim
            med_covered = "0.00"
            if med_claim is not None and billing is not None:
                paid_by_payer, paid_by_patient = (known.get(id(med_claim))
                                                   or _claim_cents(med_claim))
                coverage += paid_by_payer
                expenses += paid_by_patient
                med_covered = cents_text(paid_by_payer)
                claims.append(_claim_line(med_claim, billing, paid_by_payer, paid_by_patient))
                if want_transactions:
                    gathered.add(med_claim, {("medication", m.id): m}, m, billing)
            medications.append(
                f"{format_datetime(m.start)},{opt_datetime(stop)},{pid},{payer},{eid},"
                f"{c.code},{clean(c.display)},{format_money(m.cost)},{med_covered},{n},"
                f"{truncate_cents(m.cost, n)},{_reason(m.reasons)}"
            )

        for i in e.immunizations:
            c = _first(i.codes)
            immunizations.append(
                f"{format_datetime(i.start)},{pe}{c.code},{clean(c.display)},{format_money(i.cost)}"
            )

        for cp in e.careplans:
            c = _first(cp.codes)
            careplans.append(
                f"{cp.id},{opt_date(cp.start)},{opt_date(cp.stop)},{pe}{c.code},"
                f"{text(c.display)},{_reason(cp.reasons)}"
            )

        for s in e.imaging_studies:
            head = f"{s.id},{format_datetime(s.start)},{pe}"
            proc = _first(s.codes).code
            for series in s.series:
                site = series.body_site
                mod = series.modality
                mid = (
                    f"{series.uid},{site.code},{text(site.display)},{mod.code},"
                    f"{text(mod.display)},"
                )
                for inst in series.instances:
                    sop = inst.sop_class
                    imaging.append(f"{head}{mid}{inst.uid},{sop.code},{text(sop.display)},{proc}")

        for d in e.devices:
            c = _first(d.codes)
            devices.append(
                f"{format_datetime(d.start)},{opt_datetime(d.stop)},{pe}{c.code},"
                f"{clean(c.display)},{text(d.udi)}"
            )

        for s in e.supplies:
            c = _first(s.codes)
            supplies.append(f"{opt_date(s.start)},{pe}{c.code},{clean(c.display)},{s.quantity}")

    if lifetime_cents is not None:
        expenses, coverage = lifetime_cents
    rows = {
        "patients": [_patient_line(patient, expenses, coverage)],
        "encounters": encounters,
        "conditions": conditions,
        "allergies": allergies,
        "medications": medications,
        "observations": observations,
        "procedures": procedures,
        "immunizations": immunizations,
        "careplans": careplans,
        "imaging_studies": imaging,
        "devices": devices,
        "supplies": supplies,
        "claims": claims,
        # gathered into the caller's ``transactions``, or made here
        "claims_transactions": gathered.lines() if transactions is None else [],
        "payer_transitions": [
            ",".join(row)
            for row in payer_transition_rows(pid, record.coverage, end_time, patient.name)
        ],
    }
    return rows if files is None else {stem: rows[stem] for stem in rows if stem in files}


def run_level_lines(rows: list[list[str]]) -> list[str]:
    """Lines of a once-per-run file (organizations, providers, payers) from field lists."""
    return [",".join(clean(field) if field else "" for field in row) for row in rows]


# --------------------------------------------------------------------------------------------
# Writer.
# --------------------------------------------------------------------------------------------


def _stem(name: str) -> str:
    stem = name.strip().lower()
    if stem.endswith(".csv"):
        stem = stem[:-4]
    if stem not in CSV_FILES:
        raise ValueError(f"unknown CSV file {name!r}; known: {', '.join(CSV_FILES)}")
    return stem


class CsvWriter:
    """Creates ``directory`` and one ``<stem>.csv`` per selected file (header first; UTF-8, no
    BOM, LF line endings), then appends patients' lines. ``files`` selects the files (names
    case-insensitive, ``.csv`` optional; default: all of :data:`CSV_FILES`); lines for other
    files are ignored. Thread-safe: one :meth:`write_lines` call is written contiguously."""

    def __init__(self, directory: pathlib.Path, files: Iterable[str] | None = None) -> None:
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        stems = list(CSV_FILES) if files is None else list(dict.fromkeys(map(_stem, files)))
        self._lock = threading.Lock()
        self._handles: dict[str, Any] = {}
        self._closed = False
        try:
            for stem in stems:
                fh = open(  # noqa: SIM115 - kept open until close()
                    self.directory / f"{stem}.csv",
                    "w",
                    encoding="utf-8",
                    newline="\n",
                    buffering=1 << 16,
                )
                self._handles[stem] = fh
                fh.write(",".join(CSV_FILES[stem]) + "\n")
        except BaseException:
            self.close()
            raise

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self._handles)

    def write_lines(self, rows: dict[str, list[str]]) -> None:
        with self._lock:
            if self._closed:
                raise ValueError("write to a closed CsvWriter")
            handles = self._handles
            for stem, lines in rows.items():
                if lines:
                    fh = handles.get(stem)
                    if fh is not None:
                        fh.write("\n".join(lines) + "\n")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            handles, self._handles = self._handles, {}
            for fh in handles.values():
                fh.close()

    def __enter__(self) -> CsvWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
