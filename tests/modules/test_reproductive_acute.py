"""Group "reproductive_acute": pregnancy, urinary_tract_infection, appendicitis, injuries,
dental_care run together once on 1000 adults; each module's main outcome is checked against
the published rate it was built from (tolerance 4 binomial standard errors)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from project_modules import REFERENCE_DATE, active_at_end, ever_had, run

MODULES = ["pregnancy", "urinary_tract_infection", "appendicitis", "injuries", "dental_care"]
MS_PER_YEAR = 365.25 * 86_400_000
REF_MS = int(datetime(REFERENCE_DATE.year, REFERENCE_DATE.month, REFERENCE_DATE.day,
                      tzinfo=UTC).timestamp() * 1000)
YEAR_MS = int(MS_PER_YEAR)
LAST_YEAR = (REF_MS - YEAR_MS, REF_MS)


@pytest.fixture(scope="module")
def population():
    result = run(MODULES, population=1000, age=(18, 90), seed=7)
    # people who died of natural causes before the reference date are left out
    return [(p, r) for p, r in zip(result.people, result.records, strict=True)
            if p.deathdate is None or p.deathdate > REF_MS]


def _age(person, at_ms: int) -> float:
    return (at_ms - person.attributes["birthdate"]) / MS_PER_YEAR


def _within(observed: float, expected: float, n: int) -> None:
    se = math.sqrt(max(expected * (1 - expected), 1e-9) / max(n, 1))
    assert abs(observed - expected) <= 4 * se + 1e-9, (observed, expected, n, se)


def _conditions(record, code: str):
    return [c for e in record.encounters for c in e.conditions if c.code.code == code]


def _procedures(record, codes: set[str]):
    return [p for e in record.encounters for p in e.procedures if p.codes[0].code in codes]


def test_modules_ran(population):
    assert len(population) > 700


def test_birth_rate_and_cesarean_share(population):
    # births per woman-year at ages 15-44 over the last 4 years; model: 13.5/1000 (15-19),
    # 63.6/1000 (20-44) (NCHS Births: Final Data for 2022, TFR 1656.5).
    start = REF_MS - 4 * YEAR_MS
    births = exposure = expected = 0.0
    deliveries = cesareans = 0
    for person, record in population:
        if person.attributes["gender"] != "F":
            continue
        for p in _procedures(record, {"11466000", "177184002"}):
            deliveries += 1
            cesareans += p.codes[0].code == "11466000"
            if start <= p.start < REF_MS and 15 <= _age(person, p.start) < 45:
                births += 1
        for k in range(48):  # monthly exposure
            t = start + k * YEAR_MS // 12
            a = _age(person, t)
            if 15 <= a < 45:
                exposure += 1 / 12
                expected += (0.0135 if a < 20 else 0.0636) / 12
    rate, expected_rate = births / exposure, expected / exposure
    se = math.sqrt(expected) / exposure  # Poisson
    assert abs(rate - expected_rate) <= 4 * se, (rate, expected_rate, se)
    _within(cesareans / deliveries, 0.321, deliveries)


def test_pregnant_attribute_cleared_after_delivery(population):
    for person, record in population:
        # (a conception is diagnosed only at the first prenatal visit, so only this direction)
        if any(c.stop is None for c in _conditions(record, "72892002")):
            assert person.attributes.get("pregnant") is True


def test_uti_annual_incidence(population):
    # share of women with >=1 UTI in the last year: 17.5% (18-24), 10.8% (25+) (Foxman 2000);
    # men 0.36%.
    seen = expected = n = 0.0
    for person, record in population:
        female = person.attributes["gender"] == "F"
        a = _age(person, LAST_YEAR[0])
        if a < 18:
            continue
        n += 1
        expected += (0.175 if a < 25 else 0.108) if female else 0.0036
        seen += any(LAST_YEAR[0] <= c.start < LAST_YEAR[1]
                    for c in _conditions(record, "68566005"))
    _within(seen / n, expected / n, int(n))


def test_uti_resolves(population):
    assert not any(active_at_end(r, "68566005") and
                   all(c.start < REF_MS - 30 * 86_400_000 for c in _conditions(r, "68566005")
                       if c.stop is None)
                   for _, r in population)


def test_appendicitis_cumulative_risk(population):
    # lifetime risk 8.6% males / 6.7% females (Addiss 1990), hazard doubled at 10-29.
    unit = {"M": -math.log(1 - 0.086) / 95, "F": -math.log(1 - 0.067) / 95}
    seen = expected = 0.0
    for person, record in population:
        a = min(_age(person, REF_MS), 80.0)
        weighted = max(0.0, min(a, 10) - 5) + 2 * max(0.0, min(a, 30) - 10) + max(0.0, a - 30)
        expected += 1 - math.exp(-unit[person.attributes["gender"]] * weighted)
        had = ever_had(record, "74400008")
        seen += had
        if had:
            assert _procedures(record, {"80146002"}), "appendicitis without appendectomy"
            assert not active_at_end(record, "74400008")
    _within(seen / len(population), expected / len(population), len(population))


def test_injury_ed_visits_last_year(population):
    # 82 injury ED visits per 1,000 population per year (HCUP SB #266).
    codes = {"44465007", "65966004", "283371005", "110030002"}
    seen = sum(any(LAST_YEAR[0] <= c.start < LAST_YEAR[1] and c.code.code in codes
                   for e in r.encounters for c in e.conditions) for _, r in population)
    _within(seen / len(population), 0.082, len(population))
    kinds = [sum(ever_had(r, c) for _, r in population) for c in codes]
    assert min(kinds) > 0


def test_dental_visits_and_untreated_caries(population):
    # 65.5% of adults had a dental visit in the past year (NHIS 2019); untreated decay
    # 1 in 4 adults 20-64, 1 in 6 adults 65+ (CDC Oral Health Surveillance Report 2019).
    adults = [(p, r) for p, r in population if _age(p, REF_MS) >= 20]
    visited = sum(any(LAST_YEAR[0] <= e.start < LAST_YEAR[1] and e.codes and
                      e.codes[0].code == "34043003" for e in r.encounters) for _, r in adults)
    _within(visited / len(adults), 0.655, len(adults))
    caries = sum(active_at_end(r, "80967001") for _, r in adults)
    expected = sum(0.25 if _age(p, REF_MS) < 65 else 1 / 6 for p, _ in adults)
    _within(caries / len(adults), expected / len(adults), len(adults))


def test_contraception_methods(population):
    # NSFG 2017-2019 (NCHS Data Brief 388): pill 14.0% of women 15-49; IUD/LARC 5.8-13.7% by age.
    women = [(p, r) for p, r in population
             if p.attributes["gender"] == "F" and 18 <= _age(p, REF_MS) < 45]
    on_pill = sum(any(m.codes[0].code == "748962" and m.stop is None
                      for e in r.encounters for m in e.medications) for _, r in women)
    _within(on_pill / len(women), 0.14, len(women))
    assert any(_procedures(r, {"65200003"}) for _, r in women)
