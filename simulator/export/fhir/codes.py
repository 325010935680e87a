"""Code systems, CodeableConcepts and FHIR date/number formatting."""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from typing import Any

from simulator.record import Code

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
SYNTHEA = "https://github.com/synthetichealth/synthea"
NPI = "http://hl7.org/fhir/sid/us-npi"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"

# Module short system names → URIs (fhir-export.md §2, "Coding conventions").
SYSTEM_URIS = {
    "SNOMED-CT": SNOMED,
    "SNOMED": SNOMED,
    "LOINC": LOINC,
    "RXNORM": RXNORM,
    "RxNorm": RXNORM,
    "CVX": CVX,
    "DICOM-DCM": "http://dicom.nema.org/medical/dicom/current/output/chtml/part16/sect_CID_29.html",
    "CDT": "http://www.ada.org/cdt",
    "ICD9": "http://hl7.org/fhir/sid/icd-9-cm",
    "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "ICD10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "NUBC": "http://www.nubc.org/patient-discharge",
}


def system_uri(system: str, default: str) -> str:
    if not system:
        return default
    return SYSTEM_URIS.get(system, system)


def coding(code: Code, default: str = SNOMED) -> dict[str, Any]:
    c: dict[str, Any] = {"system": system_uri(code.system, default), "code": code.code}
    if code.display:
        c["display"] = code.display
    if code.version:
        c["version"] = code.version
    return c


def concept(code: Code, default: str = SNOMED) -> dict[str, Any]:
    c: dict[str, Any] = {"coding": [coding(code, default)]}
    if code.display:
        c["text"] = code.display
    return c


def fixed(system: str, code: str, display: str, text: bool = False) -> dict[str, Any]:
    """A CodeableConcept of one coding from a fixed system."""
    c: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        c["text"] = display
    return c


_MS_PER_DAY = 86_400_000
_EPOCH = _dt.date(1970, 1, 1).toordinal()


@lru_cache(maxsize=1 << 16)
def _day(day: int) -> str:
    return _dt.date.fromordinal(_EPOCH + day).isoformat()


def date(ms: int) -> str:
    return _day(ms // _MS_PER_DAY)


def datetime(ms: int) -> str:
    """FHIR dateTime in UTC, seconds precision (the reference recommends +00:00)."""
    day, rest = divmod(int(ms), _MS_PER_DAY)
    s = rest // 1000
    return f"{_day(day)}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00:00"


def instant(ms: int) -> str:
    """FHIR instant in UTC with milliseconds."""
    day, rest = divmod(int(ms), _MS_PER_DAY)
    s, milli = divmod(rest, 1000)
    return f"{_day(day)}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{milli:03d}+00:00"


def period(start: int, stop: int | None) -> dict[str, str]:
    p = {"start": datetime(start)}
    if stop is not None:
        p["end"] = datetime(max(stop, start))
    return p


def decimal(x: float) -> float | int:
    """An observation value with at most 5 significant digits, as an int when integral."""
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    r = float(f"{x:.5g}")
    return int(r) if r.is_integer() and abs(r) < 1e15 else r


def money(x: float) -> dict[str, Any]:
    return {"value": round(x, 2), "currency": "USD"}
