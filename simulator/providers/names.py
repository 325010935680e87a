"""Name and address vocabulary for the synthetic provider network.

Person names come from Faker's en_US lists, drawn with Faker's own frequency weights; the
facility-name templates and street words are plain vocabulary, not data.
"""

from __future__ import annotations

import bisect
import itertools
import random
from functools import cache


@cache
def _weighted(list_name: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    # Imported lazily: Faker is slow to import and only the network build needs it.
    from faker.providers.person.en_US import Provider

    table = getattr(Provider, list_name)
    names = tuple(table)
    return names, tuple(itertools.accumulate(table[n] for n in names))


def draw(rng: random.Random, list_name: str) -> str:
    """One name from a Faker en_US list (last_names, first_names_male, first_names_female)."""
    names, cumulative = _weighted(list_name)
    return names[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]


SAINTS = ("Mary's", "Joseph's", "Luke's", "Vincent's", "Francis", "Elizabeth's", "Anne's",
          "John's", "Catherine's", "Michael's", "Jude", "Peter's")
STREET_WORDS = ("Main", "Oak", "Maple", "Park", "Washington", "Elm", "Pine", "Cedar", "Lake",
                "Hill", "Church", "Center", "Mill", "Spring", "River", "Highland", "Franklin",
                "Lincoln", "Jefferson", "Madison", "Walnut", "Chestnut", "Prospect", "Union")
STREET_SUFFIXES = ("Street", "Avenue", "Road", "Boulevard", "Drive", "Lane", "Way", "Parkway",
                   "Place", "Court")

# Placeholders: {city}, {county}, {surname}, {surname2}, {saint}.
TEMPLATES = {
    "hospital": ("{city} General Hospital", "{county} Medical Center", "{city} Memorial Hospital",
                 "{city} Regional Medical Center", "{surname} Memorial Hospital",
                 "St. {saint} Hospital", "{city} Community Hospital", "{surname} Medical Center",
                 "St. {saint} Medical Center"),
    "va": ("{city} VA Medical Center",),
    "primary_care": ("{city} Family Medicine", "{surname} Primary Care Associates",
                     "{city} Community Health Center", "{surname} Family Practice",
                     "{city} Internal Medicine Group", "{surname} & {surname2} Family Physicians",
                     "{city} Primary Care", "{surname} Medical Group",
                     "{city} Pediatrics and Family Care"),
    "urgent_care": ("{city} Urgent Care", "{surname} Urgent Care", "{city} Walk-In Clinic",
                    "{city} Immediate Care", "{city} Urgent Care Center"),
    "home_health": ("{county} Home Health", "{surname} Home Care Services",
                    "{city} Visiting Nurse Association"),
    "hospice": ("{county} Hospice", "{city} Hospice and Palliative Care", "{surname} Hospice House"),
    "nursing": ("{city} Nursing and Rehabilitation Center", "{surname} Manor",
                "{city} Health Care Center", "{surname} Skilled Nursing Facility"),
}


def county_label(county: str) -> str:
    # Virginia's independent cities are listed as "<Name> city"; "Richmond city Hospice" reads badly.
    return county[: -len(" city")] if county.endswith(" city") else county


def facility_name(rng: random.Random, kind: str, city: str, county: str, compass: str,
                  taken: set[str]) -> str:
    """A name for a facility, unique within `taken` (which it updates)."""
    templates = TEMPLATES[kind]
    if not county:
        templates = tuple(t for t in templates if "{county}" not in t)
    name = ""
    for _ in range(6):
        name = rng.choice(templates).format(
            city=city, county=county_label(county), saint=rng.choice(SAINTS),
            surname=draw(rng, "last_names"), surname2=draw(rng, "last_names"))
        if name not in taken:
            break
    else:
        # Chains number their sites; the compass point (from the city's centre) reads naturally.
        base = f"{name} {compass}"
        name = base
        for k in itertools.count(2):
            if name not in taken:
                break
            name = f"{base} {k}"
    taken.add(name)
    return name


def street_address(rng: random.Random) -> str:
    # Log-uniform house numbers: short numbers are more common than four-digit ones.
    number = int(10 ** rng.uniform(0.0, 4.0))
    word = draw(rng, "last_names") if rng.random() < 0.5 else rng.choice(STREET_WORDS)
    return f"{number} {word} {rng.choice(STREET_SUFFIXES)}"
