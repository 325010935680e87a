"""Provider records (organizations, clinicians), specialty names and NPI check digits."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

# Fixed namespace for the name-based provider ids, so ids are stable across runs and machines.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "providers.simulator.invalid")
_NAMESPACE_BYTES = NAMESPACE.bytes
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID5_SET = (0x5000 << 64) | (0x8000 << 48)

# Encounter classes an organization can serve (engine-behaviour.md §4.2, §7).
ENCOUNTER_CLASSES = frozenset({"wellness", "ambulatory", "outpatient", "inpatient", "emergency",
                               "urgentcare", "home", "hospice", "snf", "virtual"})

# Specialty names as Synthea spells them: the column headers of its provider files (Synthea wiki,
# "other areas" page, primary care file header), which follow the CMS provider specialty list.
# module-format.md §3: the only module-level specialty in the corpus is the cardiology one.
GENERAL_PRACTICE = "GENERAL PRACTICE"
FAMILY_PRACTICE = "FAMILY PRACTICE"
INTERNAL_MEDICINE = "INTERNAL MEDICINE"
EMERGENCY_MEDICINE = "EMERGENCY MEDICINE"
CARDIOLOGY = "CARDIOVASCULAR DISEASE (CARDIOLOGY)"
OBSTETRICS_GYNECOLOGY = "OBSTETRICS/GYNECOLOGY"
PEDIATRIC_MEDICINE = "PEDIATRIC MEDICINE"
GENERAL_SURGERY = "GENERAL SURGERY"
NURSE_PRACTITIONER = "NURSE PRACTITIONER"
HOSPITALIST = "HOSPITALIST"
GERIATRIC_MEDICINE = "GERIATRIC MEDICINE"
HOSPICE_PALLIATIVE_CARE = "HOSPICE/PALLIATIVE CARE"
PULMONARY_DISEASE = "PULMONARY DISEASE"
ENDOCRINOLOGY = "ENDOCRINOLOGY"
PSYCHIATRY = "PSYCHIATRY"

# Everyday spellings callers may use, mapped onto the names above.
SPECIALTY_ALIASES = {
    "CARDIOLOGY": CARDIOLOGY,
    "PEDIATRICS": PEDIATRIC_MEDICINE,
    "FAMILY MEDICINE": FAMILY_PRACTICE,
    "SURGERY": GENERAL_SURGERY,
    "OBSTETRICS AND GYNECOLOGY": OBSTETRICS_GYNECOLOGY,
    "OBSTETRICS & GYNECOLOGY": OBSTETRICS_GYNECOLOGY,
}


def canonical_specialty(specialty: str) -> str:
    name = specialty.strip().upper()
    return SPECIALTY_ALIASES.get(name, name)


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    npi: str
    name: str
    kind: str  # hospital, primary_care, urgent_care, va, home_health, hospice, nursing
    services: frozenset[str]
    address: str
    city: str
    state: str
    zip: str
    county: str
    lat: float
    lon: float
    phone: str


@dataclass(frozen=True, slots=True)
class Clinician:
    id: str
    npi: str
    organization_id: str
    first: str
    last: str
    gender: str  # "M" | "F"
    specialty: str


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # digit sum of 2*d
_PREFIX_SUM = 24  # Luhn contribution of the "80840" prefix in front of nine digits


def npi_check_digit(first_nine: str) -> int:
    """Luhn check digit of "80840" + the first nine NPI digits (CMS NPI check-digit rule)."""
    # The check digit will sit to the right, so the rightmost payload digit is doubled first.
    total = (_PREFIX_SUM + sum(map(_DOUBLED.__getitem__, map(int, first_nine[8::-2])))
             + sum(map(int, first_nine[7::-2])))
    return (10 - total % 10) % 10


def make_npi(first_nine: str) -> str:
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError(f"an NPI needs nine leading digits, got {first_nine!r}")
    return first_nine + str(npi_check_digit(first_nine))


def _name_uuid(text: str) -> str:
    # uuid.uuid5(NAMESPACE, text) without the UUID object round trip (the build makes thousands).
    n = int.from_bytes(hashlib.sha1(_NAMESPACE_BYTES + text.encode()).digest()[:16], "big")
    h = f"{(n & _UUID_CLEAR) | _UUID5_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def organization_id(npi: str, name: str) -> str:
    return _name_uuid(f"{npi}{name}")


def clinician_id(organization_npi: str, ordinal: int) -> str:
    return _name_uuid(f"{organization_npi}{ordinal}")
