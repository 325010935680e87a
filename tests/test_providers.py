"""Synthetic provider network: determinism, identifiers, nearest provider, clinicians, CSV rows."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
import us
import zipcodes
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.providers import (
    CARDIOLOGY,
    GENERAL_PRACTICE,
    ORGANIZATION_COLUMNS,
    PROVIDER_COLUMNS,
    Clinician,
    Organization,
    ProviderNetwork,
    organization_rows,
    provider_network,
    provider_rows,
)
from simulator.providers.generate import build, staff
from simulator.providers.model import NAMESPACE

STATES = [s.abbr for s in us.states.STATES] + ["DC"]
CLASSES = ["wellness", "ambulatory", "outpatient", "inpatient", "emergency", "urgentcare", "home",
           "hospice", "snf", "virtual"]


# -- independent checks ------------------------------------------------------------------------

def luhn_valid(number: str) -> bool:
    """Plain Luhn validation: from the right, double every second digit; total ends in 0."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def npi_valid(npi: str) -> bool:
    return len(npi) == 10 and npi.isdigit() and npi[0] in "12" and luhn_valid("80840" + npi)


def test_npi_checker_on_published_examples() -> None:
    # CMS "Requirements for NPI Check Digit": 9-digit identifier 123456789 has check digit 3.
    assert npi_valid("1234567893")
    # makdns.blogspot.com (2012) worked example, and John D. Cook, "NPI number" (2024).
    assert npi_valid("1558598797")
    assert npi_valid("1993999998")
    assert not npi_valid("1234567890")
    assert not npi_valid("1234567839")  # transposed digits


def distance2(lat: float, lon: float, o: Organization) -> float:
    """Equirectangular squared distance, longitude scaled at the query latitude."""
    c = math.cos(math.radians(lat))
    return (o.lat - lat) ** 2 + ((o.lon - lon) * c) ** 2


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(a))


DIGEST_SOURCE = """
import hashlib
from dataclasses import astuple


def network_digest(network):
    h = hashlib.sha256()
    for item in network.organizations + network.clinicians:
        # A frozenset's repr follows string hashing, which differs between processes.
        h.update(repr([sorted(f) if isinstance(f, frozenset) else f
                       for f in astuple(item)]).encode())
    return h.hexdigest()
"""
exec(DIGEST_SOURCE)  # the same digest code runs here and in a subprocess


# -- determinism -------------------------------------------------------------------------------

def test_two_builds_are_equal() -> None:
    a = ProviderNetwork("MA", build("MA", "25"), staff)
    b = ProviderNetwork("MA", build("MA", "25"), staff)
    assert a.organizations == b.organizations
    # Staffing on demand does not depend on which organization is staffed first.
    for o in reversed(b.organizations):
        b.clinicians_of(o)
    assert a.clinicians == b.clinicians


DIGEST_SCRIPT = DIGEST_SOURCE + """
from simulator.providers import provider_network
print(network_digest(provider_network("RI")))
"""


def test_build_is_independent_of_hash_seed() -> None:
    # String hashing differs between processes; nothing may depend on it (e.g. set order).
    out = subprocess.run([sys.executable, "-c", DIGEST_SCRIPT], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "12345"},
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == network_digest(provider_network("RI"))  # noqa: F821


def test_different_states_differ() -> None:
    ri, de = provider_network("RI"), provider_network("DE")
    assert {o.id for o in ri.organizations}.isdisjoint(o.id for o in de.organizations)
    assert {o.npi for o in ri.organizations}.isdisjoint(o.npi for o in de.organizations)


def test_state_lookup_and_cache() -> None:
    assert provider_network("Massachusetts") is provider_network("ma")
    assert provider_network("MA").state == "MA"
    with pytest.raises(ValueError):
        provider_network("Atlantis")


# -- structure ---------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["MA", "DC", "AK"])
def test_identifiers_and_staff(state: str) -> None:
    net = provider_network(state)
    npis = [o.npi for o in net.organizations] + [c.npi for c in net.clinicians]
    assert all(npi_valid(n) for n in npis)
    assert len(set(npis)) == len(npis)
    for o in net.organizations:
        assert o.id == str(uuid.uuid5(NAMESPACE, f"{o.npi}{o.name}"))
        members = net.clinicians_of(o)
        assert any(c.specialty == GENERAL_PRACTICE for c in members)
        for ordinal, c in enumerate(members):
            assert c.organization_id == o.id
            assert c.id == str(uuid.uuid5(NAMESPACE, f"{o.npi}{ordinal}"))
            assert c.gender in ("M", "F") and c.first and c.last
    ids = [c.id for c in net.clinicians]
    assert len(set(ids)) == len(ids)
    # Primary care has 2-5 clinicians, urgent care 2.
    sizes = {o.kind: set() for o in net.organizations}
    for o in net.organizations:
        sizes[o.kind].add(len(net.clinicians_of(o)))
    assert sizes["primary_care"] <= {2, 3, 4, 5}
    assert sizes["urgent_care"] <= {2}


ZIPS_BY_STATE: dict[str, dict[str, dict]] = defaultdict(dict)
for _z in zipcodes.list_all():
    ZIPS_BY_STATE[_z["state"]][_z["zip_code"]] = _z


@pytest.mark.parametrize("state", STATES)
def test_every_state_builds(state: str) -> None:
    net = provider_network(state)
    orgs = net.organizations
    assert orgs[0].kind == "hospital"
    assert sum(o.kind == "hospital" for o in orgs) >= 1
    assert all(o.state == state for o in orgs)
    names = [o.name for o in orgs]
    assert len(set(names)) == len(names)
    real = ZIPS_BY_STATE[state]
    for o in orgs:
        z = real[o.zip]
        assert z["city"] == o.city
        assert abs(o.lat - float(z["lat"])) < 0.01 and abs(o.lon - float(z["long"])) < 0.01
        assert re.fullmatch(r"\(\d{3}\) 555-\d{4}", o.phone)
        assert "," not in o.name + o.address
    # Every city with a located ZIP code has a primary care practice.
    cities = {z["city"] for z in real.values() if z["zip_code_type"] == "STANDARD" and z["active"]
              and float(z["lat"]) != 0.0}
    assert cities <= {o.city for o in orgs if o.kind == "primary_care"}


def test_first_organization_has_a_cardiologist() -> None:
    # The engine sends every cardiology encounter to the first provider (engine-behaviour.md §4.2).
    for state in ("MA", "TX", "CA"):
        net = provider_network(state)
        first = net.organizations[0]
        assert net.clinician(first, CARDIOLOGY, 0.5).specialty == CARDIOLOGY


def test_texas_builds_fast() -> None:
    zipcodes.filter_by(state="TX")  # the package's one-time data load is not ours to time
    start = time.process_time()  # CPU time: other processes on the machine do not count
    orgs = build("TX", "48")
    elapsed = time.process_time() - start
    print(f"Texas: {len(orgs)} organizations in {elapsed:.3f} s of CPU")
    assert elapsed < 1.0


# -- nearest provider --------------------------------------------------------------------------

TX = provider_network("TX")


@settings(max_examples=100, deadline=None)
@given(lat=st.floats(25.5, 36.7), lon=st.floats(-106.8, -93.3), cls=st.sampled_from(CLASSES))
def test_nearest_is_the_nearest_offering_the_class(lat: float, lon: float, cls: str) -> None:
    found = TX.nearest(lat, lon, cls)
    assert cls in found.services and found.kind != "va"
    qlat, qlon = round(lat, 3), round(lon, 3)
    offering = [o for o in TX.organizations if cls in o.services and o.kind != "va"]
    best = min(distance2(qlat, qlon, o) for o in offering)
    assert distance2(qlat, qlon, found) == best
    # Against great-circle distance the choice is at worst marginally off (near-ties only).
    best_km = min(haversine_km(lat, lon, o.lat, o.lon) for o in offering)
    assert haversine_km(lat, lon, found.lat, found.lon) <= best_km * 1.01 + 0.5


def test_nearest_is_cached_and_order_independent() -> None:
    a = TX.nearest(29.76, -95.37, "wellness")
    assert TX.nearest(29.7601, -95.3699, "wellness") is a  # same rounded coordinate
    fresh = ProviderNetwork("TX", TX.organizations, staff)
    assert fresh.nearest(29.7601, -95.3699, "wellness") is a


def _org(name: str, kind: str, services: set[str], lat: float, lon: float) -> Organization:
    return Organization(id=name, npi="1234567893", name=name, kind=kind,
                        services=frozenset(services), address="1 Main Street", city="X",
                        state="MA", zip="01001", county="Y County", lat=lat, lon=lon,
                        phone="(413) 555-0000")


def _gp(org: Organization, n: int = 1, specialty: str = GENERAL_PRACTICE) -> list[Clinician]:
    return [Clinician(id=f"{org.id}-{specialty}-{i}", npi="1234567893", organization_id=org.id,
                      first="A", last=str(i), gender="F", specialty=specialty) for i in range(n)]


def test_fallback_to_nearest_hospital() -> None:
    far_h = _org("far hospital", "hospital", {"inpatient"}, 42.0, -71.0)
    near_h = _org("near hospital", "hospital", {"inpatient"}, 42.3, -71.3)
    clinic = _org("clinic", "primary_care", {"wellness"}, 42.4, -71.4)
    net = ProviderNetwork.from_clinicians("MA", [far_h, near_h, clinic],
                                          _gp(far_h) + _gp(near_h) + _gp(clinic))
    assert net.nearest(42.4, -71.4, "urgentcare") is near_h
    assert net.nearest(42.4, -71.4, "no-such-class") is near_h
    assert net.nearest(42.4, -71.4, "wellness") is clinic
    assert net.nearest(42.05, -71.05, "urgentcare") is far_h


def test_va_serves_only_veterans() -> None:
    va = _org("va", "va", {"wellness", "inpatient"}, 42.0, -71.0)
    clinic = _org("clinic", "primary_care", {"wellness"}, 43.0, -71.0)
    hospital = _org("hospital", "hospital", {"inpatient"}, 44.0, -71.0)
    net = ProviderNetwork.from_clinicians("MA", [va, clinic, hospital],
                                          _gp(va) + _gp(clinic) + _gp(hospital))
    assert net.nearest(42.0, -71.0, "wellness") is clinic
    assert net.nearest(42.0, -71.0, "wellness", veteran=True) is va
    assert net.nearest(42.0, -71.0, "inpatient") is hospital


# -- clinicians --------------------------------------------------------------------------------

def test_clinician_choice() -> None:
    org = _org("h", "hospital", {"inpatient"}, 42.0, -71.0)
    gps, cardio = _gp(org, 3), _gp(org, 2, CARDIOLOGY)
    net = ProviderNetwork.from_clinicians("MA", [org], gps + cardio)
    assert [net.clinician(org, CARDIOLOGY, u) for u in (0.0, 0.49, 0.5, 0.999)] == \
        [cardio[0], cardio[0], cardio[1], cardio[1]]
    assert net.clinician(org, "cardiology", 0.7) is cardio[1]  # everyday spelling
    assert [net.clinician(org, "DERMATOLOGY", u) for u in (0.0, 0.34, 0.67)] == gps
    assert net.clinician_by_id(cardio[1].id) is cardio[1]
    assert net.organization(org.id) is org


def test_organization_without_general_practice_is_rejected() -> None:
    org = _org("h", "hospital", {"inpatient"}, 42.0, -71.0)
    net = ProviderNetwork.from_clinicians("MA", [org], _gp(org, 1, CARDIOLOGY))
    with pytest.raises(ValueError):
        net.clinicians_of(org)


def test_generated_staff_covers_specialties() -> None:
    net = provider_network("MA")
    hospital = next(o for o in net.organizations if o.kind == "hospital")
    specialties = [c.specialty for c in net.clinicians_of(hospital)]
    assert specialties.count(GENERAL_PRACTICE) == 3
    assert {"EMERGENCY MEDICINE", "INTERNAL MEDICINE", CARDIOLOGY, "OBSTETRICS/GYNECOLOGY",
            "PEDIATRIC MEDICINE", "GENERAL SURGERY"} <= set(specialties)
    urgent = next(o for o in net.organizations if o.kind == "urgent_care")
    assert net.clinician(urgent, "EMERGENCY MEDICINE", 0.0).specialty == "EMERGENCY MEDICINE"


# -- CSV rows ----------------------------------------------------------------------------------

def test_csv_rows() -> None:
    net = provider_network("RI")
    o1, o2, o3 = net.organizations[0], net.organizations[5], net.organizations[9]
    rows = organization_rows(net, {o3.id: 2, o1.id: 7, o2.id: 0},
                             {o1.id: 1234.5, o3.id: 123456789012.25 + 1e-7})
    assert [r[0] for r in rows] == [o1.id, o3.id]  # network order, only with encounters
    assert all(len(r) == len(ORGANIZATION_COLUMNS) for r in rows)
    assert rows[0][9:] == ["1234.5", "7"]
    assert rows[1][9:] == ["123456789012.25", "2"]
    assert rows[0][1:6] == [o1.name, o1.address, o1.city, "RI", o1.zip]
    assert float(rows[0][6]) == o1.lat and float(rows[0][7]) == o1.lon

    c = net.clinicians_of(o1)[0]
    prows = provider_rows(net, {c.id: 4}, {c.id: 2}, {o1.id, o3.id})
    expected = len(net.clinicians_of(o1)) + len(net.clinicians_of(o3))
    assert len(prows) == expected
    assert all(len(r) == len(PROVIDER_COLUMNS) for r in prows)
    assert prows[0] == [c.id, o1.id, f"{c.first} {c.last}", c.gender, c.specialty, o1.address,
                        o1.city, "RI", o1.zip, repr(o1.lat), repr(o1.lon), "4", "2"]
    assert {r[1] for r in prows} == {o1.id, o3.id}
    assert all(r[11:] == ["0", "0"] for r in prows[1:])


def test_revenue_zero_is_plain() -> None:
    net = provider_network("RI")
    o = net.organizations[0]
    assert organization_rows(net, {o.id: 1}, {})[0][9] == "0.0"
