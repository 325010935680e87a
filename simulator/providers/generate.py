"""Build one state's synthetic provider network from the real ZIP code list.

Everything here is synthetic except the geography: facilities are placed at real ZIP codes
(city, county, coordinates, telephone area codes from the `zipcodes` package). Cities are ranked
by how many ZIP codes they have, a stand-in for population since no population figures are
available offline. Counts per place are modelling choices, not published figures:

* primary care: 1 per city, +1 per further 3 ZIP codes of the city;
* urgent care: 1 per city with >= 2 ZIP codes, +1 per further 6;
* hospitals: 1 per county (in its largest city), +1 per further 8 ZIP codes of any city;
* home health, hospice and nursing facilities: 1 each per county (in its largest city);
* one VA medical center per state, in the largest city.

The same state always gives the same network: a `random.Random` seeded from a hash of the state
abbreviation drives every choice, and inputs are processed in sorted order.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

from simulator.population import geodata
from simulator.providers import model as m
from simulator.providers.names import draw, facility_name, street_address

SERVICES = {
    "hospital": frozenset({"inpatient", "emergency", "ambulatory", "outpatient", "hospice", "snf",
                           "home"}),
    # VA facilities also give wellness visits (engine-behaviour.md §7); only veterans use them.
    "va": frozenset({"wellness", "ambulatory", "outpatient", "inpatient"}),
    "primary_care": frozenset({"wellness", "ambulatory", "outpatient", "virtual"}),
    "urgent_care": frozenset({"urgentcare", "ambulatory"}),
    "home_health": frozenset({"home"}),
    "hospice": frozenset({"hospice"}),
    "nursing": frozenset({"snf"}),
}

# Fixed staff per facility kind; primary care adds 1-4 more (2-5 in all) from PRIMARY_CARE_POOL.
STAFF = {
    "hospital": (m.GENERAL_PRACTICE,) * 3 + (m.INTERNAL_MEDICINE,) + (m.EMERGENCY_MEDICINE,) * 2
    + (m.CARDIOLOGY, m.OBSTETRICS_GYNECOLOGY, m.PEDIATRIC_MEDICINE, m.GENERAL_SURGERY,
       m.HOSPITALIST, m.NURSE_PRACTITIONER),
    "va": (m.GENERAL_PRACTICE, m.GENERAL_PRACTICE, m.INTERNAL_MEDICINE, m.EMERGENCY_MEDICINE,
           m.CARDIOLOGY, m.PSYCHIATRY, m.NURSE_PRACTITIONER),
    "primary_care": (m.GENERAL_PRACTICE,),
    "urgent_care": (m.GENERAL_PRACTICE, m.EMERGENCY_MEDICINE),
    "home_health": (m.GENERAL_PRACTICE, m.NURSE_PRACTITIONER),
    "hospice": (m.GENERAL_PRACTICE, m.HOSPICE_PALLIATIVE_CARE, m.NURSE_PRACTITIONER),
    "nursing": (m.GENERAL_PRACTICE, m.GERIATRIC_MEDICINE, m.NURSE_PRACTITIONER),
}
PRIMARY_CARE_POOL = (m.GENERAL_PRACTICE, m.FAMILY_PRACTICE, m.PEDIATRIC_MEDICINE,
                     m.NURSE_PRACTITIONER, m.INTERNAL_MEDICINE)
# Clinician NPIs are serial * _STAFF_SLOTS + ordinal in six digits (see `staff`).
_STAFF_SLOTS = 16
_MAX_ORGANIZATIONS = 1_000_000 // _STAFF_SLOTS
assert max(len(v) for v in STAFF.values()) + 4 <= _STAFF_SLOTS
KIND_ORDER = ("hospital", "va", "primary_care", "urgent_care", "home_health", "hospice", "nursing")


@dataclass(frozen=True, slots=True)
class _Zip:
    code: str
    city: str
    county: str
    lat: float
    lon: float
    area_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Slot:
    kind: str
    city: str
    zip: _Zip


def state_seed(abbreviation: str) -> int:
    digest = hashlib.sha256(f"simulator.providers:{abbreviation}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def load_zips(abbreviation: str) -> list[_Zip]:
    """Active STANDARD ZIP codes of a state with coordinates, sorted by code."""
    rows = geodata.zip_rows(abbreviation)  # active STANDARD codes with coordinates
    kept = [r for r in rows if (float(r["lat"]), float(r["long"])) != (0.0, 0.0)]
    # A few ZIP codes lack a county: borrow the most common county of the same city.
    by_city: dict[str, Counter[str]] = defaultdict(Counter)
    for r in kept:
        if r["county"]:
            by_city[r["city"]][r["county"]] += 1
    zips = []
    for r in sorted(kept, key=lambda r: r["zip_code"]):
        county = r["county"] or (min(by_city[r["city"]].most_common(),
                                     key=lambda kv: (-kv[1], kv[0]))[0]
                                 if by_city[r["city"]] else "")
        zips.append(_Zip(r["zip_code"], r["city"], county, float(r["lat"]), float(r["long"]),
                         tuple(r["area_codes"] or ())))
    return zips


def _slots(zips: list[_Zip], rng: random.Random) -> list[_Slot]:
    cities: dict[str, list[_Zip]] = defaultdict(list)
    for z in zips:
        cities[z.city].append(z)
    ranked = sorted(cities, key=lambda c: (-len(cities[c]), c))
    rank = {c: i for i, c in enumerate(ranked)}

    county_cities: dict[str, Counter[str]] = defaultdict(Counter)
    for z in zips:
        county_cities[z.county][z.city] += 1
    # Each county's largest city (most of the county's ZIP codes; ties by city rank).
    seats = {county: min(counts, key=lambda c: (-counts[c], rank[c]))
             for county, counts in county_cities.items()}
    counties = sorted(seats, key=lambda county: (rank[seats[county]], county))

    slots: list[_Slot] = []

    def place(kind: str, city: str, count: int, county: str | None = None) -> None:
        pool = [z for z in cities[city] if county is None or z.county == county]
        for z in rng.sample(pool, min(count, len(pool))):
            slots.append(_Slot(kind, city, z))

    for county in counties:
        place("hospital", seats[county], 1, county)
    for city in ranked:
        place("hospital", city, (len(cities[city]) - 1) // 8)
    place("va", ranked[0], 1)
    for city in ranked:
        n = len(cities[city])
        place("primary_care", city, 1 + (n - 1) // 3)
        if n >= 2:
            place("urgent_care", city, 1 + (n - 2) // 6)
    for kind in ("home_health", "hospice", "nursing"):
        for county in counties:
            place(kind, seats[county], 1, county)
    # Network order: by kind, then biggest city first, so organizations[0] is the main hospital
    # of the largest city (the engine sends every cardiology encounter to the first provider).
    kind_index = {k: i for i, k in enumerate(KIND_ORDER)}
    order = sorted(range(len(slots)), key=lambda i: (kind_index[slots[i].kind],
                                                     rank[slots[i].city], i))
    return [slots[i] for i in order]


def _compass(z: _Zip, centre: tuple[float, float]) -> str:
    dlat, dlon = z.lat - centre[0], (z.lon - centre[1]) * math.cos(math.radians(z.lat))
    if abs(dlat) < 1e-9 and abs(dlon) < 1e-9:
        return "Central"
    if abs(dlat) >= abs(dlon):
        return "North" if dlat > 0 else "South"
    return "East" if dlon > 0 else "West"


def build(abbreviation: str, fips: str) -> list[m.Organization]:
    """Organizations of one state (two-letter abbreviation, 2-digit FIPS code), in network order."""
    zips = load_zips(abbreviation)
    if not zips:
        raise ValueError(f"no ZIP codes with coordinates for state {abbreviation!r}")
    rng = random.Random(state_seed(abbreviation))
    slots = _slots(zips, rng)
    if len(slots) >= _MAX_ORGANIZATIONS:
        raise ValueError(f"too many organizations for the NPI numbering in {abbreviation!r}")

    members: dict[str, list[_Zip]] = defaultdict(list)
    for z in zips:
        members[z.city].append(z)
    centres = {city: (sum(z.lat for z in group) / len(group), sum(z.lon for z in group) / len(group))
               for city, group in members.items()}
    state_area_codes = Counter(a for z in zips for a in z.area_codes)
    fallback_area = (min(state_area_codes.items(), key=lambda kv: (-kv[1], kv[0]))[0]
                     if state_area_codes else "555")

    taken: set[str] = set()
    organizations: list[m.Organization] = []
    for serial, slot in enumerate(slots, start=1):
        z = slot.zip
        npi = m.make_npi(f"1{fips}{serial:06d}")
        name = facility_name(rng, slot.kind, slot.city, z.county, _compass(z, centres[slot.city]),
                             taken)
        area = rng.choice(z.area_codes) if z.area_codes else fallback_area
        organizations.append(m.Organization(
            id=m.organization_id(npi, name), npi=npi, name=name, kind=slot.kind,
            services=SERVICES[slot.kind], address=street_address(rng), city=slot.city,
            state=abbreviation, zip=z.code, county=z.county,
            lat=round(z.lat + rng.uniform(-0.009, 0.009), 6),
            lon=round(z.lon + rng.uniform(-0.009, 0.009), 6),
            phone=f"({area}) 555-{rng.randrange(10_000):04d}"))
    return organizations


def staff(org: m.Organization) -> tuple[m.Clinician, ...]:
    """The clinicians of a generated organization.

    Built on demand (most runs touch few organizations) from a generator seeded by the
    organization's NPI, so the result does not depend on which organizations were staffed first.
    Clinician NPIs number the organization's serial (digits 4-9 of its NPI) times 16 plus the
    clinician's ordinal, so they are unique within and across states.
    """
    rng = random.Random(f"simulator.providers.staff:{org.npi}")
    specialties = STAFF[org.kind]
    if org.kind == "primary_care":
        specialties += tuple(rng.choice(PRIMARY_CARE_POOL) for _ in range(rng.randint(1, 4)))
    fips, serial = org.npi[1:3], int(org.npi[3:9])
    return tuple(_clinician(rng, org, ordinal, specialty,
                            m.make_npi(f"2{fips}{serial * _STAFF_SLOTS + ordinal:06d}"))
                 for ordinal, specialty in enumerate(specialties))


def _clinician(rng: random.Random, org: m.Organization, ordinal: int, specialty: str,
               npi: str) -> m.Clinician:
    # Even split of clinician sex: a modelling choice, not a published figure.
    gender = "F" if rng.random() < 0.5 else "M"
    first = draw(rng, "first_names_female" if gender == "F" else "first_names_male")
    return m.Clinician(id=m.clinician_id(org.npi, ordinal), npi=npi, organization_id=org.id,
                       first=first, last=draw(rng, "last_names"), gender=gender,
                       specialty=specialty)
