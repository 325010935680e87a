"""emergency_visits: treat-and-release emergency department visits, run alone once on 1000
people (US age structure, fixed seed). The visits it makes per person-year, by age band over
the last 10 years, are compared with the rates its Visit_Draw state intends (4 Poisson
standard errors); every visit ends in a discharge home, and every condition it starts ends."""

from __future__ import annotations

import math
from datetime import date

import pytest
from project_modules import REFERENCE_DATE, run

DAY = 86_400_000
YEAR = 365.25 * DAY
ED_VISIT = "4525004"
# (upper age, visits per person-year) as in the module's Visit_Draw remarks
ADDED = [(1, 0.950), (18, 0.293), (45, 0.305), (65, 0.231), (75, 0.199), (200, 0.338)]
ADULT_ONLY = {"29857009", "279039007", "68566005", "128045006"}  # chest/back pain, UTI, cellulitis
REF = (REFERENCE_DATE - date(1970, 1, 1)).days * DAY
START = REF - int(10 * YEAR)


@pytest.fixture(scope="module")
def records():
    return run(["emergency_visits"], population=1000, seed=4525).records


def _visits(record):
    return [e for e in record.encounters if e.codes and e.codes[0].code == ED_VISIT]


def test_visit_rate_by_age_band(records):
    low = 0.0
    for high, rate in ADDED:
        count, years = 0, 0.0
        for r in records:
            birth = r.patient.birthdate
            s = max(START, birth + int(low * YEAR))
            e = min(REF, r.patient.deathdate or REF, birth + int(high * YEAR))
            if e <= s:
                continue
            years += (e - s) / YEAR
            count += sum(1 for v in _visits(r) if s <= v.start < e)
        expected = rate * years
        assert abs(count - expected) <= 4 * math.sqrt(expected), (low, high, count, expected)
        low = high


def test_treat_and_release_only(records):
    visits = [v for r in records for v in _visits(r)]
    assert len(visits) > 1000
    assert all(v.encounter_class == "emergency" for v in visits)
    assert all(v.discharge is not None and v.discharge.code == "01" for v in visits if v.ended)
    assert not any(e.encounter_class == "inpatient" and e.owner.startswith("emergency")
                   for r in records for e in r.encounters)


def test_conditions_end_and_adult_reasons(records):
    for r in records:
        for v in _visits(r):
            assert len(v.conditions) == 1
            c = v.conditions[0]
            if (r.patient.deathdate or REF) - c.start > 90 * DAY:  # alive through recovery
                assert c.stop is not None, c.code
            if c.code.code in ADULT_ONLY:
                assert (c.start - r.patient.birthdate) / YEAR >= 18, c.code
