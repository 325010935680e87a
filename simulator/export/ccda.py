"""C-CDA R2.1 Continuity of Care Document (CCD) export (``docs/ccda-export.md``).

One XML document per health record, rendered from the jinja2 templates in
``output_templates/ccda`` (``ccd.xml.j2`` includes one template per section). This module only
builds the view model: plain dicts and lists whose text is already XML-safe (:func:`_xml`), so
the templates never call back into Python. (The other way round, the attributes of each distinct
code are rendered once through a macro of ``macros.xml.j2`` and cached: a long life has
thousands of observations sharing a few hundred codes.)

Deviations from the reference engine, on purpose (the reference lists them as defects or
recommends them):

* time stamps are UTC with an explicit offset (``YYYYMMDDHHMMSS+0000``), all text is escaped;
* ``ethnicGroupCode`` comes from the ethnicity attribute (the reference looks it up by race, so
  every document said non-Hispanic); race "other" is ``raceCode nullFlavor="OTH"`` plus
  ``sdtc:raceCode`` 2131-1 instead of claiming "white";
* a panel (an observation with no value and child observations, e.g. blood pressure) is
  replaced by its children, which become separate result / vital-sign observations;
* string results are ``xsi:type="ST"`` with the string itself, coded results ``xsi:type="CD"``;
* result observations also cover laboratory observations outside any diagnostic report (each
  in a result organizer of its own), and vital signs are grouped in one organizer per
  encounter and time instead of one organizer for the whole life;
* concern acts carry the C-CDA 2.1 ``CONC`` code and are ``completed`` (with ``high``) once
  the allergy / condition has ended; a medication without a stop is ``active``; a reaction's
  severity is nested in its Reaction Observation;
* encounters carry their reason (Indication), and with a provider network their clinician
  (performer, NPI) and organization (Service Delivery Location);
* the patient's real name parts, telecom, marital status, language, birthplace and death time,
  and the real organization of the last wellness encounter (when a provider network is given)
  are used in the header.

What each section holds (the tests count these against what ``ccda-to-fhir`` recovers):

* Allergies / Medications / Problems / Procedures / Immunizations: every allergy, medication,
  condition, procedure, immunization of the *summary* (encounters started at or before the
  record's end time, in record order, stopping at the first later one; reference §1);
* Results: the leaves (panels replaced by their children) of every diagnostic report's
  observations, plus the leaves of every other summary observation of category
  ``laboratory``; reports without observations are left out (an organizer needs a component);
* Vital Signs: the numeric leaves of summary observations of category ``vital-signs`` that are
  not report members (C-CDA 2.1 vital sign values are PQ, so non-numeric ones are left out);
* Functional Status: the numeric leaves of summary observations of category ``survey``;
* Social History: the latest smoking-status observation (LOINC 72166-2) with a coded value,
  else "Unknown if ever smoked";
* Encounters: every encounter of the record; Plan of Care: narrative of the care plans;
  Medical Equipment: the devices, only with ``medical_equipment=True`` (off by default, as in
  the reference).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from simulator.providers.model import Clinician, Organization
from simulator.providers.network import ProviderNetwork
from simulator.record import (
    Allergy,
    Code,
    Encounter,
    HealthRecord,
    Observation,
    Patient,
)

__all__ = ["ccda_document", "ccda_filename"]

# --------------------------------------------------------------------------------------------
# Code systems (reference §1 table: short names and FHIR URIs both resolve to the OID).
# --------------------------------------------------------------------------------------------

_OIDS: dict[str, str] = {
    "LOINC": "2.16.840.1.113883.6.1",
    "SNOMED-CT": "2.16.840.1.113883.6.96",
    "RxNorm": "2.16.840.1.113883.6.88",
    "CVX": "2.16.840.1.113883.12.292",
    "CPT": "2.16.840.1.113883.6.12",
    "ICD-9-CM": "2.16.840.1.113883.6.103",
    "ICD-9-PCS": "2.16.840.1.113883.6.104",
    "ICD-10-PCS": "2.16.840.1.113883.6.4",
    "ICD-10-CM": "2.16.840.1.113883.6.90",
    "HCP": "2.16.840.1.113883.6.14",
    "HCPCS": "2.16.840.1.113883.6.285",
    "HL7 Marital Status": "2.16.840.1.113883.5.2",
    "HITSP C80 Observation Status": "2.16.840.1.113883.5.83",
    "NCI Thesaurus": "2.16.840.1.113883.3.26.1.1",
    "FDA": "2.16.840.1.113883.3.88.12.80.20",
    "UNII": "2.16.840.1.113883.4.9",
    "NDC": "2.16.840.1.113883.6.69",
    "HL7 ActStatus": "2.16.840.1.113883.5.14",
    "HL7 Healthcare Service Location": "2.16.840.1.113883.6.259",
    "DischargeDisposition": "2.16.840.1.113883.12.112",
    "HL7 Act Code": "2.16.840.1.113883.5.4",
    "HL7 Relationship Code": "2.16.840.1.113883.1.11.18877",
    "CDC Race": "2.16.840.1.113883.6.238",
    "NLM MeSH": "2.16.840.1.113883.6.177",
    "Religious Affiliation": "2.16.840.1.113883.5.1076",
    "HL7 ActNoImmunicationReason": "2.16.840.1.113883.1.11.19717",
    "NUBC": "2.16.840.1.113883.3.88.12.80.33",
    "HL7 Observation Interpretation": "2.16.840.1.113883.1.11.78",
    "Source of Payment Typology": "2.16.840.1.113883.3.221.5",
    "CDT": "2.16.840.1.113883.6.13",
    "AdministrativeSex": "2.16.840.1.113883.18.2",
}
_URIS = {
    "http://loinc.org": "LOINC",
    "http://snomed.info/sct": "SNOMED-CT",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/cvx": "CVX",
}
_OTHER_OID = "2.16.840.1.113883.19"  # reference §1: anything else (e.g. DICOM-DCM)
# codeSystemName as C-CDA examples spell it; the OID is what parsers use.
_SYSTEM_NAMES = {"SNOMED-CT": "SNOMED CT", "LOINC": "LOINC", "RxNorm": "RxNorm", "CVX": "CVX"}


def _short_system(system: str) -> str:
    return _URIS.get(system, system)


def _oid(system: str) -> str:
    return _OIDS.get(_short_system(system), _OTHER_OID)


# --------------------------------------------------------------------------------------------
# Text and time formatting.
# --------------------------------------------------------------------------------------------

_CACHE_LIMIT = 1 << 15  # entries per cache (texts, times, codes); cleared when full

# Characters XML 1.0 cannot carry at all, not even as character references (XML 1.0 §2.2 Char).
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# Written as character references: TAB/LF/CR so that attribute-value normalisation keeps them,
# and every line boundary (NEL, LS, PS too) so that no line-based filter can split a value.
_AS_REFERENCE = re.compile("[\t\n\r\x85\u2028\u2029]")


def _reference(match: re.Match[str]) -> str:
    return f"&#{ord(match.group())};"


_xml_cache: dict[str, Markup] = {}


def _xml(text: object) -> Markup:
    """Text ready for an XML attribute or element: invalid characters dropped, markup escaped,
    whitespace that XML or jinja2 would alter written as character references. Short texts
    (units, names, displays) repeat, so they are cached."""
    key = str(text)
    out = _xml_cache.get(key)
    if out is None:
        safe = str(escape(_INVALID_XML.sub("", key)))
        if _AS_REFERENCE.search(safe):
            safe = _AS_REFERENCE.sub(_reference, safe)
        out = Markup(safe)
        if len(key) <= 64:
            if len(_xml_cache) >= _CACHE_LIMIT:
                _xml_cache.clear()
            _xml_cache[key] = out
    return out


# Many entries share a time (an encounter's observations), so formatted times are cached.
_ts_cache: dict[int, str] = {}
_iso_cache: dict[int, str] = {}


def _ts(ms: int) -> str:
    """C-CDA TS with seconds and an explicit UTC offset."""
    text = _ts_cache.get(ms)
    if text is None:
        if len(_ts_cache) >= _CACHE_LIMIT:
            _ts_cache.clear()
        text = _ts_cache[ms] = time.strftime("%Y%m%d%H%M%S+0000", time.gmtime(ms // 1000))
    return text


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    text = _iso_cache.get(ms)
    if text is None:
        if len(_iso_cache) >= _CACHE_LIMIT:
            _iso_cache.clear()
        text = _iso_cache[ms] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))
    return text


def _number(x: int | float) -> str | None:
    """Plain positional decimal (no exponent, full precision), None if not finite."""
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return None
    text = repr(x)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


# Derived ids (wrapper elements the record has no entry for) are UUIDv5 (RFC 4122 §4.3: SHA-1 of
# namespace and name, version and variant bits set) of the entry id and a role, so a document is
# byte-identical on every run. Computed directly: uuid.uuid5 costs several times more.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "ccda.simulator.invalid").bytes
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID5_SET = (0x5000 << 64) | (0x8000 << 48)


def _derived_id(base: str, role: str) -> str:
    n = int.from_bytes(hashlib.sha1(_NAMESPACE + f"{base}/{role}".encode()).digest()[:16], "big")
    h = f"{(n & _UUID_CLEAR) | _UUID5_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --------------------------------------------------------------------------------------------
# Coded elements (reference §1.1).
# --------------------------------------------------------------------------------------------

_coded_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def _code_view(c: Code) -> dict[str, Any]:
    short = _short_system(c.system)
    view = {
        "code": _xml(c.code),
        "oid": _oid(c.system),
        "system_name": _xml(_SYSTEM_NAMES.get(short, short)),
        "display": _xml(c.display),
        "text": _xml(f"{short} {c.code}"),
    }
    view["attrs"] = _macros().code_attrs(view)
    return view


def _coded(codes: Sequence[Code]) -> dict[str, Any] | None:
    """First code with the others as translations; None for no codes (nullFlavor UNK).

    Views are cached per distinct code list, with their attributes and translations rendered
    once by the template macros (`attrs`, `tr`)."""
    if not codes:
        return None
    if len(codes) == 1:
        c = codes[0]
        key: tuple[Any, ...] = (c.system, c.code, c.display)
    else:
        key = tuple((c.system, c.code, c.display) for c in codes)
    view = _coded_cache.get(key)
    if view is None:
        view = _code_view(codes[0])
        view["translations"] = [_code_view(c) for c in codes[1:]]
        view["tr"] = _macros().translations(view) if len(codes) > 1 else ""
        if len(_coded_cache) >= _CACHE_LIMIT:
            _coded_cache.clear()
        _coded_cache[key] = view
    return view


@functools.cache
def _fixed(code: str, oid: str, display: str, system_name: str) -> dict[str, Any]:
    """A code the exporter writes itself (allergy kinds, severities, unknown smoking status)."""
    view = {"code": code, "oid": oid, "display": display, "system_name": system_name,
            "text": f"{system_name} {code}", "translations": [], "tr": ""}
    view["attrs"] = _macros().code_attrs(view)
    return view


_SNOMED = _OIDS["SNOMED-CT"]
_LOINC = _OIDS["LOINC"]

# --------------------------------------------------------------------------------------------
# Values.
# --------------------------------------------------------------------------------------------


def _value(value: Any, unit: str, scale: bool = False) -> dict[str, Any]:
    """Value view: PQ for numbers (INT when `scale`), BL, CD for codes, ST for text, UNK."""
    if isinstance(value, bool):
        return {"type": "BL", "value": "true" if value else "false",
                "text": "true" if value else "false"}
    if isinstance(value, int | float):
        if scale:  # reference §3.12: assessment scales are integers, rounded half up
            n = str(math.floor(value + 0.5)) if math.isfinite(value) else None
            return {"type": "INT", "value": n, "text": n or ""}
        number = _number(value)
        if number is None:
            return {"type": "UNK", "text": ""}
        u = _xml(unit) if unit else ""
        return {"type": "PQ", "value": number, "unit": u,
                "text": Markup(f"{number} {u}") if u else number}
    if isinstance(value, Code):
        view = _coded([value])
        return {"type": "CD", "code": view, "text": view["display"] if view else ""}
    if value is None:
        return {"type": "UNK", "text": ""}
    if isinstance(value, list | tuple):  # sampled data: the samples as text
        return {"type": "ST", "text": _xml(" ".join(str(v) for v in value))}
    return {"type": "ST", "text": _xml(value)}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def _leaves(obs: Observation) -> Iterator[Observation]:
    """An observation, or its children in its place when it is a panel (value None)."""
    if not obs.children:
        yield obs
        return
    if obs.value is not None:
        yield obs
    for child in obs.children:
        yield from _leaves(child)


# --------------------------------------------------------------------------------------------
# Header: patient and organization.
# --------------------------------------------------------------------------------------------

# CDC Race & Ethnicity (2.16.840.1.113883.6.238) display names, as in the OMB categories value
# sets (US Core omb-race-category / omb-ethnicity-category).
_RACES = {
    "white": ("2106-3", "White"),
    "black": ("2054-5", "Black or African American"),
    "asian": ("2028-9", "Asian"),
    "native": ("1002-5", "American Indian or Alaska Native"),
    "hawaiian": ("2076-8", "Native Hawaiian or Other Pacific Islander"),
}
_OTHER_RACE = ("2131-1", "Other Race")
_ETHNICITIES = {
    "hispanic": ("2135-2", "Hispanic or Latino"),
    "nonhispanic": ("2186-5", "Not Hispanic or Latino"),
}
# HL7 v3 MaritalStatus (2.16.840.1.113883.5.2) display names (HL7 Terminology v3-MaritalStatus).
_MARITAL = {
    "A": "Annulled", "D": "Divorced", "I": "Interlocutory", "L": "Legally Separated",
    "M": "Married", "P": "Polygamous", "S": "Never Married", "T": "Domestic partner",
    "U": "unmarried", "W": "Widowed",
}
# BCP 47 tags, as the FHIR exporter's communication (fhir-export.md: english en-US, spanish es,
# ...); the others are the ISO 639-1 codes (ISO 639-2 for Hawaiian, which has none).
_LANGUAGES = {
    "english": "en-US", "spanish": "es", "french": "fr", "german": "de", "italian": "it",
    "polish": "pl", "portuguese": "pt", "russian": "ru", "greek": "el", "chinese": "zh",
    "japanese": "ja", "korean": "ko", "vietnamese": "vi", "hindi": "hi", "hawaiian": "haw",
    "arabic": "ar",
}
_GENDERS = {"M": "Male", "F": "Female"}
_SOFTWARE = "https://github.com/synthetichealth/synthea"  # reference §2: authoring device name
_FALLBACK_ORGANIZATION = "Synthetic patient simulator"


def _patient_view(p: Patient, end_time: int) -> dict[str, Any]:
    race = _RACES.get(p.race)
    ethnicity = _ETHNICITIES.get(p.ethnicity)
    return {
        "id": _xml(p.id),
        "prefix": _xml(p.prefix),
        "given": [_xml(g) for g in (p.first, p.middle) if g],
        "family": _xml(p.last),
        "suffix": _xml(p.suffix),
        "street": _xml(p.address),
        "city": _xml(p.city),
        "state": _xml(p.state),
        "zip": _xml(p.zip),
        "phone": _xml(p.phone),
        "gender": _GENDERS.get(p.gender) and {"code": p.gender, "display": _GENDERS[p.gender]},
        "birth_time": _ts(p.birthdate),
        "death_time": _ts(p.deathdate) if p.deathdate is not None else None,
        "marital": _MARITAL.get(p.marital) and {"code": p.marital, "display": _MARITAL[p.marital]},
        "race": race and {"code": race[0], "display": race[1]},
        "race_other": (race is None and p.race != "") and
        {"code": _OTHER_RACE[0], "display": _OTHER_RACE[1]},
        "ethnicity": ethnicity and {"code": ethnicity[0], "display": ethnicity[1]},
        "language": _LANGUAGES.get(p.language, "en-US" if not p.language else None),
        "birth_city": _xml(p.birth_city),
        "birth_state": _xml(p.birth_state),
        "birth_country": _xml(p.birth_country),
        "name": _xml(p.name),
        "end_time": _ts(end_time),
    }


def _organization_view(org: Organization | None) -> dict[str, Any]:
    if org is None:
        return {"npi": "", "name": _FALLBACK_ORGANIZATION, "street": "", "city": "", "state": "",
                "zip": "", "phone": ""}
    return {"npi": _xml(org.npi), "name": _xml(org.name), "street": _xml(org.address),
            "city": _xml(org.city), "state": _xml(org.state), "zip": _xml(org.zip),
            "phone": _xml(org.phone)}


class _Providers:
    """Organization and clinician lookups of one document (None without a network)."""

    def __init__(self, network: ProviderNetwork | None) -> None:
        self.network = network
        self._orgs: dict[str, Organization | None] = {}
        self._staff: dict[str, dict[str, Clinician]] = {}

    def organization(self, org_id: str | None) -> Organization | None:
        if self.network is None or not org_id:
            return None
        if org_id not in self._orgs:
            try:
                self._orgs[org_id] = self.network.organization(org_id)
            except KeyError:
                self._orgs[org_id] = None
        return self._orgs[org_id]

    def clinician(self, org_id: str | None, clinician_id: str | None) -> Clinician | None:
        """Searched among the organization's own staff: staffing the whole state (what
        `clinician_by_id` does on first use) would cost more than a document."""
        org = self.organization(org_id)
        if org is None or not clinician_id or self.network is None:
            return None
        staff = self._staff.get(org.id)
        if staff is None:
            staff = self._staff[org.id] = {c.id: c for c in self.network.clinicians_of(org)}
        return staff.get(clinician_id)


def _author_organization(record: HealthRecord, providers: _Providers) -> Organization | None:
    """The last wellness encounter's organization, else the last encounter's (reference §2:
    the record keeps no preferred provider, so its wellness visits stand for it)."""
    fallback = None
    for enc in reversed(record.encounters):
        org = providers.organization(enc.organization_id)
        if org is None:
            continue
        if enc.encounter_class == "wellness":
            return org
        if fallback is None:
            fallback = org
    return fallback


# --------------------------------------------------------------------------------------------
# Sections.
# --------------------------------------------------------------------------------------------


_View = dict[str, Any]  # one element's view: plain values, XML-safe text


def _summary(record: HealthRecord) -> list[Encounter]:
    """Encounters started at or before the end time, stopping at the first later one (§1)."""
    out = []
    for enc in record.encounters:
        if enc.start > record.end_time:
            break
        out.append(enc)
    return out


def _row(prefix: str, n: int, start: int, stop: int | None, codes: Sequence[Code],
         value: str | Markup | None = None) -> dict[str, Any]:
    coded = _coded(codes)
    return {
        "ref": f"{prefix}-desc-{n}",
        "code_ref": f"{prefix}-code-{n}",
        "start": _iso(start),
        "stop": _iso(stop),
        "desc": coded["display"] if coded else "",
        "code_text": coded["text"] if coded else "",
        "value": value,
        "coded": coded,
        "time": _ts(start),
        "stop_time": _ts(stop) if stop is not None else None,
    }


_ALLERGY_KINDS = {
    ("allergy", "food"): ("414285001", "Allergy to food"),
    ("allergy", "medication"): ("416098002", "Allergy to drug"),
    ("allergy", "other"): ("419199007", "Allergy to substance"),
    ("intolerance", "food"): ("235719002", "Intolerance to food"),
    ("intolerance", "medication"): ("59037007", "Intolerance to drug"),
    ("intolerance", "other"): ("418038007", "Propensity to adverse reactions to substance"),
}
_SEVERITIES = {"severe": ("24484000", "Severe"), "moderate": ("6736007", "Moderate"),
               "mild": ("255604002", "Mild")}


def _allergy(a: Allergy, n: int) -> dict[str, Any]:
    row = _row("allergies", n, a.start, a.stop, a.codes)
    category = a.category if a.category in ("food", "medication") else "other"
    kind = _ALLERGY_KINDS.get((a.allergy_type or "", category), ("419199007",
                                                                  "Allergy to substance"))
    reactions = []
    for i, r in enumerate(a.reactions):
        severity = _SEVERITIES.get(r.severity)
        reactions.append({
            "id": _derived_id(a.id, f"reaction-{i}"),
            "severity_id": _derived_id(a.id, f"severity-{i}"),
            "code": _coded([r.code]),
            "severity": severity and _fixed(severity[0], _SNOMED, severity[1], "SNOMED CT"),
        })
    row.update(id=a.id, observation_id=_derived_id(a.id, "observation"),
               kind=_fixed(kind[0], _SNOMED, kind[1], "SNOMED CT"), reactions=reactions)
    return row


def _results(summary: list[Encounter]) -> tuple[list[_View], list[_View], set[str]]:
    """Result organizers and their observations (flat, for the narrative), report member ids."""
    organizers: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    members: set[str] = set()

    def observation_views(observations: Sequence[Observation]) -> list[dict[str, Any]]:
        views = []
        for leaf in (leaf for o in observations for leaf in _leaves(o)):
            value = _value(leaf.value, leaf.unit)
            row = _row("results", len(rows) + 1, leaf.start, None, leaf.codes, value["text"])
            row.update(id=leaf.id, result=value)
            rows.append(row)
            views.append(row)
        return views

    for enc in summary:
        for report in enc.reports:
            for o in report.observations:
                members.add(o.id)
            components = observation_views(report.observations)
            if components:
                organizers.append({
                    "id": report.id, "class_code": "BATTERY", "coded": _coded(report.codes),
                    "time": _ts(report.start),
                    "stop_time": _ts(report.stop if report.stop is not None else report.start),
                    "components": components,
                })
    for enc in summary:
        for o in enc.observations:
            if o.category != "laboratory" or o.id in members:
                continue
            components = observation_views([o])
            if components:
                organizers.append({
                    "id": _derived_id(o.id, "organizer"),
                    "class_code": "BATTERY" if o.children else "CLUSTER",
                    "coded": _coded(o.codes), "time": _ts(o.start), "stop_time": _ts(o.start),
                    "components": components,
                })
    return organizers, rows, members


def _vital_signs(summary: list[Encounter], members: set[str]) -> tuple[list[_View], list[_View]]:
    """Vital Signs Organizers: one per encounter and time, and a further one whenever a code
    repeats within it (an organizer is one set of measurements; readers pair its systolic and
    diastolic pressures). Numeric leaves only: C-CDA vital sign values are PQ."""
    organizers: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for enc in summary:
        groups: dict[int, list[tuple[set[tuple[str, str]], list[dict[str, Any]]]]] = {}
        for o in enc.observations:
            if o.category != "vital-signs" or o.id in members:
                continue
            for leaf in _leaves(o):
                if not _is_number(leaf.value):
                    continue
                value = _value(leaf.value, leaf.unit)
                row = _row("observations", len(rows) + 1, leaf.start, None, leaf.codes,
                           value["text"])
                row.update(id=leaf.id, result=value)
                rows.append(row)
                code = (leaf.codes[0].system, leaf.codes[0].code) if leaf.codes else ("", "")
                sets = groups.setdefault(leaf.start, [])
                if not sets or code in sets[-1][0]:
                    sets.append((set(), []))
                sets[-1][0].add(code)
                sets[-1][1].append(row)
        for start, sets in groups.items():
            for k, (_, components) in enumerate(sets):
                organizers.append({"id": _derived_id(enc.id, f"vital-signs/{start}/{k}"),
                                   "time": _ts(start), "components": components})
    return organizers, rows


def _functional_status(summary: list[Encounter]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for enc in summary:
        for o in enc.observations:
            if o.category != "survey":
                continue
            for leaf in _leaves(o):
                if not _is_number(leaf.value):
                    continue
                value = _value(leaf.value, leaf.unit, scale=True)
                row = _row("functional-status", len(rows) + 1, leaf.start, None, leaf.codes,
                           value["text"])
                row.update(id=leaf.id, result=value)
                rows.append(row)
    return rows


_SMOKING_STATUS = "72166-2"
_UNKNOWN_SMOKER = ("266927001", "Unknown if ever smoked")


def _smoking(record: HealthRecord) -> dict[str, Any]:
    """The latest smoking-status observation with a coded value in the whole record (§3.10)."""
    latest: Observation | None = None
    for enc in record.encounters:
        for o in enc.observations:
            if o.codes and o.codes[0].code == _SMOKING_STATUS \
                    and _short_system(o.codes[0].system) == "LOINC" \
                    and isinstance(o.value, Code) and (latest is None or o.start >= latest.start):
                latest = o
    if latest is None:
        return {"known": False, "id": _derived_id(record.patient.id, "smoking-status"),
                "time": _ts(record.end_time),
                "value": _fixed(_UNKNOWN_SMOKER[0], _SNOMED, _UNKNOWN_SMOKER[1], "SNOMED CT")}
    return {"known": True, "id": latest.id, "time": _ts(latest.start),
            "value": _coded([latest.value])}


def _encounter(enc: Encounter, n: int, providers: _Providers) -> dict[str, Any]:
    row = _row("encounters", n, enc.start, enc.stop, enc.codes)
    org = providers.organization(enc.organization_id)
    clinician = providers.clinician(enc.organization_id, enc.clinician_id)
    row.update(
        id=enc.id,
        stop_time=_ts(enc.stop if enc.stop is not None else enc.start),
        reason=_coded([enc.reason]) if enc.reason is not None else None,
        reason_id=_derived_id(enc.id, "reason"),
        location=org and {"id": _derived_id(org.id, "location"), **_organization_view(org)},
        performer=clinician and {"npi": _xml(clinician.npi), "given": _xml(clinician.first),
                                 "family": _xml(clinician.last)},
    )
    return row


def _view(record: HealthRecord, network: ProviderNetwork | None,
          medical_equipment: bool) -> dict[str, Any]:
    providers = _Providers(network)
    summary = _summary(record)
    allergies: list[dict[str, Any]] = []
    medications: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    procedures: list[dict[str, Any]] = []
    immunizations: list[dict[str, Any]] = []
    careplans: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    for enc in summary:
        for a in enc.allergies:
            allergies.append(_allergy(a, len(allergies) + 1))
        for m in enc.medications:
            row = _row("medications", len(medications) + 1, m.start, m.stop, m.codes)
            row["id"] = m.id
            medications.append(row)
        for c in enc.conditions:
            row = _row("conditions", len(problems) + 1, c.start, c.stop, c.codes)
            row.update(id=c.id, observation_id=_derived_id(c.id, "observation"))
            problems.append(row)
        for p in enc.procedures:
            row = _row("procedures", len(procedures) + 1, p.start, p.stop, p.codes)
            row["id"] = p.id
            procedures.append(row)
        for i in enc.immunizations:
            row = _row("immunizations", len(immunizations) + 1, i.start, None, i.codes)
            row["id"] = i.id
            immunizations.append(row)
        for cp in enc.careplans:
            careplans.append(_row("careplans", len(careplans) + 1, cp.start, cp.stop, cp.codes))
        if medical_equipment:
            for d in enc.devices:
                row = _row("medical_equipment", len(devices) + 1, d.start, d.stop, d.codes)
                row.update(id=d.id, product_id=_derived_id(d.id, "product"),
                           manufacturer=_xml(d.manufacturer) if d.manufacturer else None,
                           manufacturer_id=_derived_id(d.id, "manufacturer"))
                devices.append(row)
    results, result_rows, members = _results(summary)
    vital_organizers, vital_rows = _vital_signs(summary, members)
    encounters = [_encounter(e, n, providers) for n, e in enumerate(record.encounters, 1)]
    organization = _organization_view(_author_organization(record, providers))
    return {
        "patient": _patient_view(record.patient, record.end_time),
        "organization": organization,
        "allergies": allergies,
        "medications": medications,
        "results": results,
        "result_rows": result_rows,
        "problems": problems,
        "procedures": procedures,
        "encounters": encounters,
        "vital_signs": vital_organizers,
        "vital_rows": vital_rows,
        "immunizations": immunizations,
        "careplans": careplans,
        "smoking": _smoking(record),
        "medical_equipment": medical_equipment,
        "devices": devices,
        "functional_status": _functional_status(summary),
        "software": _SOFTWARE,
    }


# --------------------------------------------------------------------------------------------
# Templates and public API.
# --------------------------------------------------------------------------------------------


def _template_dir() -> Path:
    """`output_templates/ccda`, from the installed package, else next to this source tree (an
    editable install that maps only `simulator` still finds the checkout's templates)."""
    try:
        return Path(str(resources.files("output_templates") / "ccda"))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "output_templates" / "ccda"


_environment: jinja2.Environment | None = None
_macro_module: Any = None


def _macros() -> Any:
    """The module of macros.xml.j2, whose macros the view model calls for per-code fragments."""
    global _macro_module
    if _macro_module is None:
        _macro_module = _env().get_template("macros.xml.j2").module
    return _macro_module


def _env() -> jinja2.Environment:
    global _environment
    if _environment is None:
        _environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_template_dir()),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
        )
    return _environment


def ccda_document(record: HealthRecord, network: ProviderNetwork | None = None, *,
                  medical_equipment: bool = False) -> str:
    """The record as a C-CDA R2.1 CCD (XML text, UTF-8 declared).

    `network` resolves the encounters' organization and clinician ids (author, custodian,
    encounter performers and locations); without it a fixed organization stands in.
    `medical_equipment` adds the Medical Equipment section, which the reference never writes.
    """
    return "".join(ccda_chunks(record, network, medical_equipment=medical_equipment))


def ccda_chunks(record: HealthRecord, network: ProviderNetwork | None = None, *,
                medical_equipment: bool = False) -> Iterator[str]:
    """:func:`ccda_document` in pieces, for writing a long record without holding its text."""
    return _env().get_template("ccd.xml.j2").generate(  # type: ignore[no-any-return]
        doc=_view(record, network, medical_equipment))


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def ccda_filename(record: HealthRecord) -> str:
    """`<First>_<Last>_<patient id>.xml` (reference §1), reduced to a portable file name."""
    p = record.patient
    parts = [x for x in (p.first, p.last, p.id) if x]
    name = _UNSAFE_FILENAME.sub("_", "_".join(parts)).strip("._") or "patient"
    return f"{name[:200]}.xml"
