"""Group test for the infections & allergies modules: otitis_media, pharyngitis_sinusitis,
acute_bronchitis, influenza, covid19 and allergies.

The six modules run together ONCE on 1000 people (US age structure, fixed seed). Each main
outcome is compared with the rate the module intends (see each module's `remarks` for the
published sources), with a tolerance of 4 binomial/Poisson standard errors.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from project_modules import REFERENCE_DATE, active_at_end, ever_had, run

MODULES = [
    "otitis_media",
    "pharyngitis_sinusitis",
    "acute_bronchitis",
    "influenza",
    "covid19",
    "allergies",
]
DAY = 86_400_000
YEAR = 365.25 * DAY
TOL = 4.0


def ms(d: date) -> int:
    return (d - date(1970, 1, 1)).days * DAY


REF = ms(REFERENCE_DATE)


@pytest.fixture(scope="module")
def records():
    return run(MODULES, population=1000, seed=20240101).records


def age_at(r, t: int) -> float:
    return (t - r.patient.birthdate) / YEAR


def alive_at(r, t: int) -> bool:
    return r.patient.birthdate <= t and (r.patient.deathdate is None or r.patient.deathdate > t)


def conditions(r, code: str):
    return [c for e in r.encounters for c in e.conditions if c.code.code == code]


def has_allergy(r, code: str) -> bool:
    return any(a.code.code == code and a.stop is None for e in r.encounters for a in e.allergies)


def check_binomial(observed: float, expected_ps: list[float]) -> None:
    """observed count vs a sum of Bernoulli expectations."""
    exp = sum(expected_ps)
    se = math.sqrt(sum(p * (1 - p) for p in expected_ps)) or 1.0
    assert abs(observed - exp) <= TOL * se, (observed, exp, se)


def check_rate(count: int, person_years: float, rate: float) -> None:
    exp = rate * person_years
    se = math.sqrt(exp) or 1.0
    assert abs(count - exp) <= TOL * se, (count, exp, se)


def events_and_py(records, code, start: date, stop: date, age_lo=0.0, age_hi=200.0, sex=None):
    lo, hi = ms(start), ms(stop)
    n, py = 0, 0.0
    for r in records:
        if sex and r.patient.gender != sex:
            continue
        end = min(hi, r.patient.deathdate or hi)
        s = max(lo, r.patient.birthdate + int(age_lo * YEAR))
        e = min(end, r.patient.birthdate + int(age_hi * YEAR))
        if e <= s:
            continue
        py += (e - s) / YEAR
        n += sum(1 for c in conditions(r, code) if s <= c.start < e)
    return n, py


# ------------------------------------------------------------------ otitis media
def test_otitis_media_five_of_six_by_age_3(records):
    # NIDCD: 5/6 children have >= 1 ear infection by age 3.
    kids = [r for r in records if age_at(r, min(REF, r.patient.deathdate or REF)) >= 3.2]
    observed = sum(
        1
        for r in kids
        if any(
            c.start - r.patient.birthdate < 3 * YEAR + 30 * DAY for c in conditions(r, "65363002")
        )
    )
    check_binomial(observed, [5 / 6] * len(kids))
    # acute: every episode ends
    assert all(
        c.stop is not None
        for r in records
        for c in conditions(r, "65363002")
        if REF - c.start > 30 * DAY
    )


# ------------------------------------------------------------------ pharyngitis / sinusitis
def test_pharyngitis_rate_and_strep_share(records):
    strep, py = events_and_py(records, "43878008", date(2010, 1, 1), date(2024, 1, 1))
    viral, _ = events_and_py(records, "195662009", date(2010, 1, 1), date(2024, 1, 1))
    check_rate(strep + viral, py, 12 * 0.00288)  # 11 M/yr outpatient pharyngitis (AFP 2016)
    # group A strep share by age at the episode (AFP 2016): 24% <5, 37% 5-15, 10% adults
    ps, observed = [], 0
    for r in records:
        for code in ("43878008", "195662009"):
            for c in conditions(r, code):
                a = int(age_at(r, c.start))
                ps.append(0.24 if a < 5 else 0.37 if a <= 15 else 0.10)
                observed += code == "43878008"
    check_binomial(observed, ps)


def test_strep_treated_with_penicillin_unless_allergic(records):
    for r in records:
        for e in r.encounters:
            if any(c.code.code == "43878008" for c in e.conditions):
                allergic = any(
                    a.code.code == "91936005" and a.start <= e.start
                    for x in r.encounters
                    for a in x.allergies
                )
                assert allergic or any(m.code.code == "834102" for m in e.medications)


def test_adult_sinusitis_rates(records):
    n, py = events_and_py(records, "15805002", date(2010, 1, 1), date(2024, 1, 1), 18, sex="F")
    check_rate(n, py, 12 * 0.01598)  # NHIS 2008: 13.4% of adults/yr, F:M 1.9
    n, py = events_and_py(records, "15805002", date(2010, 1, 1), date(2024, 1, 1), 18, sex="M")
    check_rate(n, py, 12 * 0.00801)


# ------------------------------------------------------------------ acute bronchitis
def test_acute_bronchitis_rates(records):
    n, py = events_and_py(records, "10509002", date(2010, 1, 1), date(2024, 1, 1), 18)
    check_rate(n, py, 12 * 0.00427)  # ~5% of adults per year
    n, py = events_and_py(records, "10509002", date(2010, 1, 1), date(2024, 1, 1), 0, 18)
    check_rate(n, py, 12 * 0.00514)  # ~6% of children per year
    assert all(
        c.stop is not None
        for r in records
        for c in conditions(r, "10509002")
        if REF - c.start > 30 * DAY
    )


# ------------------------------------------------------------------ influenza
FLU_P = [(5, 0.0623), (18, 0.0484), (50, 0.0326), (65, 0.0378), (999, 0.0218)]


def test_influenza_medically_attended_attack_rate(records):
    ps, observed = [], 0
    for year in range(2012, 2023):
        season = ms(date(year, 12, 1))
        season_end = ms(date(year + 1, 4, 1))
        for r in records:
            if not alive_at(r, season) or (r.patient.deathdate or REF) < season_end:
                continue
            a = age_at(r, season)
            ps.append(next(p for upper, p in FLU_P if a < upper))
            observed += any(season <= c.start < season_end for c in conditions(r, "6142004"))
    check_binomial(observed, ps)


# ------------------------------------------------------------------ COVID-19
WAVE1 = [(12, 0.442), (18, 0.456), (50, 0.365), (65, 0.288), (999, 0.191)]
WAVE2 = [(12, 0.556), (18, 0.526), (50, 0.428), (65, 0.295), (999, 0.174)]


def test_covid_symptomatic_infections_by_age(records):
    start, omicron, after = ms(date(2020, 3, 1)), ms(date(2021, 12, 1)), ms(date(2022, 4, 1))
    ps, observed = [], 0
    for r in records:
        if r.patient.birthdate > start or not alive_at(r, after):
            continue
        a1, a2 = age_at(r, start), age_at(r, omicron)
        p1 = next(p for upper, p in WAVE1 if a1 < upper)
        p2 = next(p for upper, p in WAVE2 if a2 < upper)
        ps.append(0.846 * (p1 + (1 - p1) * p2))
        observed += ever_had(r, "840539006")
    check_binomial(observed, ps)


def test_covid_hospitalisation_older_adults(records):
    cases = [
        e
        for r in records
        for e in r.encounters
        if any(c.code.code == "840539006" for c in e.conditions) and age_at(r, e.start) >= 65
    ]
    admitted = sum(
        1
        for r in records
        for e in r.encounters
        if e.encounter_class == "inpatient"
        and e.reason is not None
        and e.reason.code == "840539006"
        and age_at(r, e.start) >= 65
    )
    if cases:
        check_binomial(admitted, [0.202] * len(cases))


# ------------------------------------------------------------------ allergies
def rhinitis_p(age: float) -> float:
    a = int(age)
    child_checks = max(0, min(a, 17) - 1)  # yearly checks at ages 2..17
    adult_checks = max(0, min(a, 44) - 17)  # yearly checks at ages 18..44
    return 1 - (1 - 0.01463) ** child_checks * (1 - 0.00229) ** adult_checks


def test_allergic_rhinitis_adult_prevalence(records):
    adults = [r for r in records if alive_at(r, REF) and age_at(r, REF) >= 18]
    observed = sum(1 for r in adults if active_at_end(r, "367498001"))
    check_binomial(observed, [rhinitis_p(age_at(r, REF)) for r in adults])
    assert all(has_allergy(r, "418689008") for r in adults if active_at_end(r, "367498001"))


def test_food_and_penicillin_allergy(records):
    adults = [r for r in records if alive_at(r, REF) and age_at(r, REF) >= 18]
    observed = sum(1 for r in adults if has_allergy(r, "91935009"))
    check_binomial(observed, [0.078 if r.patient.gender == "F" else 0.046 for r in adults])
    older = [r for r in records if alive_at(r, REF) and age_at(r, REF) >= 11]
    check_binomial(sum(1 for r in older if has_allergy(r, "91936005")), [0.10] * len(older))
    reactions = [a for r in records for e in r.encounters for a in e.allergies]
    assert reactions and all(a.reactions for a in reactions)
