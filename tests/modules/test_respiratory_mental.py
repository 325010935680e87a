"""Group "respiratory_mental": asthma, copd, depression (and its screening), anxiety,
substance_use run together once.

Targets (adults 18+ alive at the reference date, condition active at the end):
  asthma 0.076 (NHIS 2017-2018: women 9.7%, men 5.5%), COPD 0.062 (BRFSS 2017), depression 0.184 (BRFSS 2020 lifetime
  diagnosis), GAD 0.057 (NCS-R lifetime), OUD 0.037 (NSDUH 2022 via MMWR 2024;73(25)). Tolerance: 4 binomial SE.
"""

from __future__ import annotations

import math

import pytest
from project_modules import active_at_end, run, share

NAMES = ["asthma", "copd", "depression", "depression_screening", "anxiety", "substance_use"]
TARGETS = {
    "195967001": 0.076,  # asthma
    "13645005": 0.062,  # COPD
    # depressive disorder, lifetime diagnosis (BRFSS 2020): onset is yearly, whatever the visits,
    # so the group alone and the whole library (bench/module_targets.py) aim at the same figure
    "35489007": 0.184,
    "21897009": 0.057,  # generalized anxiety disorder
    "75544000": 0.037,  # opioid dependence
}


@pytest.fixture(scope="module")
def alive():
    result = run(NAMES, population=1000, seed=7, age=(18, 90))
    return [(r, p) for r, p in zip(result.records, result.people, strict=True) if p.attributes.get("deathdate") is None]


def _within(observed: float, target: float, n: int) -> bool:
    se = math.sqrt(target * (1 - target) / n)
    return abs(observed - target) <= 4 * se


@pytest.mark.parametrize("code", sorted(TARGETS))
def test_prevalence(alive, code):
    records = [r for r, _ in alive]
    observed = share(records, lambda r: active_at_end(r, code))
    assert _within(observed, TARGETS[code], len(records)), (code, observed, TARGETS[code])


def test_asthma_more_common_in_women(alive):
    women = [r for r, p in alive if p.attributes.get("gender") == "F"]
    men = [r for r, p in alive if p.attributes.get("gender") == "M"]
    assert share(women, lambda r: active_at_end(r, "195967001")) > share(men, lambda r: active_at_end(r, "195967001"))


def _observations(record, code):
    return [o for e in record.encounters for o in e.observations if o.code.code == code]


def test_screening_recorded(alive):
    records = [r for r, _ in alive]
    assert share(records, lambda r: bool(_observations(r, "44261-6"))) > 0.8  # PHQ-9
    assert share(records, lambda r: bool(_observations(r, "72166-2"))) > 0.8  # smoking status
    answers = {o.value.code for r in records for o in _observations(r, "72166-2")}
    assert answers <= {"449868002", "8517006", "266919005"} and "266919005" in answers


def test_copd_linked_to_smoking(alive):
    ever = [r for r, p in alive if p.attributes.get("smoker") or p.attributes.get("quit smoking age") is not None]
    never = [r for r, p in alive if not (p.attributes.get("smoker") or p.attributes.get("quit smoking age") is not None)]
    assert share(ever, lambda r: active_at_end(r, "13645005")) > share(never, lambda r: active_at_end(r, "13645005"))
