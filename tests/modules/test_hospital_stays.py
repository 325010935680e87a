"""Group "hospital_stays": the hospital_stays module run alone on 1000 people aged 60-95, so that
the age bands with the most stays are well filled; each stay's shape (emergency visit before an
emergency admission, condition ended at discharge) and the sourced rates are checked
(tolerance 4 standard errors)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from project_modules import REFERENCE_DATE, run

MS_PER_YEAR = 365.25 * 86_400_000
REF_MS = int(datetime(REFERENCE_DATE.year, REFERENCE_DATE.month, REFERENCE_DATE.day,
                      tzinfo=UTC).timestamp() * 1000)
LIVE_BIRTH, SEPSIS = "169826009", "91302008"
EMERGENCY_ADMISSION, HIP_FRACTURE = "183452005", "5913000"
CHEST_PAIN = "29857009"


@pytest.fixture(scope="module")
def result():
    return run(["hospital_stays"], population=1000, age=(60, 95), seed=3)


def _stays(record):
    return [e for e in record.encounters if e.encounter_class == "inpatient"]


def test_birth_stay_for_almost_everyone(result):
    # 99% of US births are in hospital (HCUP SB #163): one 2-day stay at birth, then over.
    n = len(result.records)
    born = 0
    for person, record in zip(result.people, result.records, strict=True):
        first = _stays(record)[:1]
        if first and any(c.code.code == LIVE_BIRTH for c in first[0].conditions):
            born += 1
            stay = first[0]
            assert stay.start == person.attributes["birthdate"]
            assert stay.stop - stay.start == 2 * 86_400_000
            assert all(c.stop == stay.stop for c in stay.conditions)
    se = math.sqrt(0.99 * 0.01 / n)
    assert abs(born / n - 0.99) <= 4 * se + 1e-9, born


def test_emergency_admissions_follow_an_emergency_visit(result):
    seen = 0
    for record in result.records:
        for i, e in enumerate(record.encounters):
            if e.codes[0].code != EMERGENCY_ADMISSION or e.owner != "Hospital Stays Module":
                continue
            if e.stop >= REF_MS:  # still in hospital at the reference date: cut there
                continue
            seen += 1
            before = record.encounters[i - 1]
            assert before.encounter_class == "emergency" and before.stop == e.start
            diagnosis = before.conditions[0]
            if diagnosis.code.code == HIP_FRACTURE:  # heals 10-14 weeks after discharge
                assert diagnosis.stop >= e.stop + 10 * 7 * 86_400_000
            else:
                assert diagnosis.stop == e.stop, "the acute condition ends at discharge"
            assert 2 * 86_400_000 <= e.stop - e.start <= 7 * 86_400_000
    assert seen > 50


def test_sepsis_stays_at_75_and_over(result):
    # 3,221 sepsis stays per 100,000 people aged 75+ a year (KFF analysis of HCUP NIS).
    years = stays = 0.0
    for person, record in zip(result.people, result.records, strict=True):
        at_75 = person.attributes["birthdate"] + 75 * MS_PER_YEAR
        end = min(person.deathdate or REF_MS, REF_MS)
        years += max(0.0, (end - at_75) / MS_PER_YEAR)
        # the diagnosis is recorded at the emergency visit or, for a direct admission, the stay
        stays += sum(1 for e in record.encounters for c in e.conditions
                     if c.code.code == SEPSIS and c.start >= at_75)
    expected = 0.03221 * years
    assert abs(stays - expected) <= 4 * math.sqrt(expected), (stays, expected, years)


def test_chest_pain_stays_at_45_to_64(result):
    # 43 nonspecific chest pain stays per 10,000 people aged 45-64 a year (HCUP Facts and
    # Figures 2009, Exhibit 2.4); none drawn at other ages. Whole lives are simulated, so the
    # 60-95 year olds lived through 45-64.
    years = stays = 0.0
    for person, record in zip(result.people, result.records, strict=True):
        at_45 = person.attributes["birthdate"] + 45 * MS_PER_YEAR
        at_65 = person.attributes["birthdate"] + 65 * MS_PER_YEAR
        end = min(person.deathdate or REF_MS, REF_MS, at_65)
        years += max(0.0, (end - at_45) / MS_PER_YEAR)
        for e in record.encounters:
            if e.owner != "Hospital Stays Module":
                continue
            for c in e.conditions:
                if c.code.code == CHEST_PAIN:
                    assert at_45 <= c.start < at_65 + MS_PER_YEAR, "chest pain stays only at 45-64"
                    stays += 1
    expected = 0.0043 * years
    assert abs(stays - expected) <= 4 * math.sqrt(expected), (stays, expected, years)
