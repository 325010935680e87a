"""Group "musculoskeletal_neuro": osteoarthritis, osteoporosis, dementia, migraine, back_pain,
hypothyroidism run together once on 1000 people (fixed seed).

Each check compares a simulated share with its intended value using a tolerance of 4 binomial
standard errors (plus a small floor for very small groups), so the test is stable for the fixed
seed but fails if a module's rates drift. Intended values are the published targets named in each
module's remarks (see the module files for sources).
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from project_modules import REFERENCE_DATE, active_at_end, ever_had, run

MODULES = ["osteoarthritis", "osteoporosis", "dementia", "migraine", "back_pain", "hypothyroidism"]
REF_MS = (REFERENCE_DATE - date(1970, 1, 1)).days * 86_400_000
YEAR_MS = 365.25 * 86_400_000

OA = "396275006"
OSTEOPOROSIS = "64859006"
ALZHEIMER = "26929004"
MIGRAINE = "37796009"
LOW_BACK_PAIN = "279039007"
HYPOTHYROID = "40930008"
HIP_FRACTURE = "359817006"
DXA = "312681000"
TSH = "3016-3"
LEVOTHYROXINE = "966224"
DONEPEZIL = "997223"
ALENDRONATE = "904431"


@pytest.fixture(scope="module")
def population():
    result = run(MODULES, population=1000, seed=7)
    people = []
    for person, record in zip(result.people, result.records, strict=True):
        alive = person.deathdate is None or person.deathdate > REF_MS
        age = (REF_MS - person.birth) / YEAR_MS
        people.append((person, record, alive, age))
    return people


def _adults(population, low=18.0, high=200.0, gender=None):
    return [(p, r) for p, r, alive, age in population
            if alive and low <= age < high and (gender is None or p.attributes.get("gender") == gender)]


def _check(share_of, group, expected, floor=0.01):
    n = len(group)
    assert n > 0
    k = sum(1 for item in group if share_of(item))
    observed = k / n
    se = math.sqrt(max(expected * (1 - expected), 1e-6) / n)
    print(f"observed {observed:.3f} expected {expected:.3f} n={n}")
    assert abs(observed - expected) <= 4 * se + floor, (observed, expected, n)
    return observed


def _has_observation(record, code):
    return any(o.code.code == code for e in record.encounters for o in _observations(e))


def _observations(encounter):
    for obs in encounter.observations:
        yield obs
        yield from getattr(obs, "observations", []) or []


def _has_medication(record, code):
    return any(m.code.code == code for e in record.encounters for m in e.medications)


def _has_procedure(record, code):
    return any(p.code.code == code for e in record.encounters for p in e.procedures)


def test_osteoarthritis_prevalence(population):
    # CDC: 13.9% of adults 25+ (~12.9% of 18+ for the US adult age mix), 33.6% of 65+.
    _check(lambda pr: active_at_end(pr[1], OA), _adults(population), 0.129)
    _check(lambda pr: active_at_end(pr[1], OA), _adults(population, 65), 0.336, floor=0.03)


def test_osteoporosis_screening_diagnosis_and_fractures(population):
    women65 = _adults(population, 65, gender="F")
    # USPSTF: every woman 65+ is screened once by DXA (unless she dies before a wellness visit).
    screened = sum(1 for _, r in women65 if _has_procedure(r, DXA)) / len(women65)
    assert screened > 0.8
    # Diagnosed osteoporosis in women 50+: NHANES BMD prevalence 19.6% minus the undiagnosed share
    # (women < 65 without risk factors are not screened) -> ~11% diagnosed (calibration).
    _check(lambda pr: active_at_end(pr[1], OSTEOPOROSIS), _adults(population, 50, gender="F"), 0.11)
    diagnosed = [r for _, r in _adults(population, 50) if active_at_end(r, OSTEOPOROSIS)]
    assert diagnosed and all(_has_medication(r, ALENDRONATE) for r in diagnosed)
    # Fractures are acute: none of the hip fractures stays active for long.
    fractures = [r for _, r, _, _ in population if ever_had(r, HIP_FRACTURE)]
    assert sum(1 for r in fractures if active_at_end(r, HIP_FRACTURE)) <= max(2, len(fractures) // 4)


def test_dementia_prevalence_treatment_and_mortality(population):
    # Alzheimer's Association: about 1 in 9 (11%) of people 65+.
    _check(lambda pr: active_at_end(pr[1], ALZHEIMER), _adults(population, 65), 0.11)
    cases = [r for _, r in _adults(population, 60) if active_at_end(r, ALZHEIMER)]
    assert all(_has_medication(r, DONEPEZIL) for r in cases)
    deaths = [p for p, _, alive, _ in population
              if not alive and getattr(p.attributes.get("cause_of_death"), "code", None) == ALZHEIMER]
    assert deaths, "dementia must shorten survival for some people"


def test_migraine_prevalence(population):
    # AMPP: 1-year prevalence 17.3% women, 5.7% men.
    _check(lambda pr: active_at_end(pr[1], MIGRAINE), _adults(population, gender="F"), 0.173)
    _check(lambda pr: active_at_end(pr[1], MIGRAINE), _adults(population, gender="M"), 0.057)


def test_back_pain_episodes_mostly_resolve(population):
    adults = _adults(population)
    ever = [r for _, r in adults if ever_had(r, LOW_BACK_PAIN)]
    # ~20-30% of adults seek care each year, so most adults have had at least one episode.
    assert len(ever) / len(adults) > 0.5
    active = sum(1 for r in ever if active_at_end(r, LOW_BACK_PAIN))
    # Point prevalence of an open episode: ~0.25/y x mean duration ~0.4 y -> about 10% of adults.
    _check(lambda pr: active_at_end(pr[1], LOW_BACK_PAIN), adults, 0.10)
    assert active < len(ever) / 2


def test_hypothyroidism_prevalence_labs_and_treatment(population):
    # NHANES III: 4.6% of the population.
    _check(lambda pr: active_at_end(pr[1], HYPOTHYROID), _adults(population), 0.046)
    cases = [r for _, r, _, _ in population if ever_had(r, HYPOTHYROID)]
    assert cases and all(_has_observation(r, TSH) for r in cases)
    treated = sum(1 for r in cases if _has_medication(r, LEVOTHYROXINE)) / len(cases)
    assert 0.6 <= treated <= 1.0  # 86% intended (Wyne 2022)
