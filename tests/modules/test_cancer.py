"""Cancer group: breast, lung, colorectal and prostate cancer modules run together once.

Expected rates come from the sources cited in each module's remarks; tolerances are
4 binomial standard errors around the intended rate, so the checks are stable for the fixed
seed but fail if a module stops producing its outcome at about the intended rate.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from project_modules import REFERENCE_DATE, active_at_end, ever_had, load, run

MODULES = ["breast_cancer", "lung_cancer", "colorectal_cancer", "prostate_cancer"]
POPULATION = 1000
SEED = 20240101

BREAST = "254837009"
LUNG = "93880001"
COLORECTAL = "363406005"
PROSTATE = "399068003"

SCREEN_MAMMOGRAM = "24623002"
LDCT = "16334891000119106"
COLONOSCOPY = "73761001"
PSA = "2857-1"

DAY_MS = 86_400_000
YEAR_MS = 365.25 * DAY_MS
REF_MS = (REFERENCE_DATE - date(1970, 1, 1)).days * DAY_MS


def _age(person) -> float:
    return (REF_MS - person.birth) / YEAR_MS


def _within(record, code: str, years: float, kind: str) -> bool:
    cutoff = REF_MS - years * YEAR_MS
    for enc in record.encounters:
        for entry in getattr(enc, kind):
            if entry.codes and entry.codes[0].code == code and cutoff <= entry.start <= REF_MS:
                return True
    return False


def _ever_smoked(person) -> bool:
    attrs = person.attributes
    return bool(attrs.get("smoker")) or attrs.get("quit smoking age") is not None


def _check_share(hits: int, n: int, expected: float, label: str) -> None:
    assert n > 0, f"{label}: empty denominator"
    se = math.sqrt(expected * (1 - expected) / n)
    observed = hits / n
    low, high = expected - 4 * se, expected + 4 * se
    assert low <= observed <= high, (
        f"{label}: {observed:.4f} ({hits}/{n}) outside [{low:.4f}, {high:.4f}] around {expected}")


@pytest.fixture(scope="module")
def cohort():
    result = run(MODULES, population=POPULATION, seed=SEED, age=(18, 100))
    alive = [(p, r) for p, r in zip(result.people, result.records, strict=True)
             if p.deathdate is None and _age(p) >= 18]
    return result, alive


def test_modules_load():
    tree = load(*MODULES)
    assert set(MODULES) <= set(tree)


def test_sex_specific_cancers(cohort):
    result, _ = cohort
    for person, record in zip(result.people, result.records, strict=True):
        if person.gender == "M":
            assert not ever_had(record, BREAST)
        else:
            assert not ever_had(record, PROSTATE)


def test_prevalence_of_any_of_the_four_cancers(cohort):
    # Intended adult prevalence (active diagnosis, alive at the reference date):
    # breast 3.0% of women (4,055,770 survivors, ACS/NCI 2022), prostate 2.8% of men
    # (3,523,230), colorectal about 0.55%, lung about 0.15%: about 3.6% of adults overall.
    _, alive = cohort
    hits = sum(1 for _, r in alive
               if any(active_at_end(r, c) for c in (BREAST, LUNG, COLORECTAL, PROSTATE)))
    _check_share(hits, len(alive), 0.036, "any of the four cancers")


def test_breast_and_prostate_prevalence(cohort):
    _, alive = cohort
    women = [r for p, r in alive if p.gender == "F"]
    men = [r for p, r in alive if p.gender == "M"]
    _check_share(sum(active_at_end(r, BREAST) for r in women), len(women), 0.030, "breast (women)")
    _check_share(sum(active_at_end(r, PROSTATE) for r in men), len(men), 0.028, "prostate (men)")


def test_mammography_screening_uptake(cohort):
    # USPSTF 2024 biennial 40-74; NHIS: about 72% of women 50-74 screened in the past 2 years.
    _, alive = cohort
    women = [r for p, r in alive if p.gender == "F" and 52 <= _age(p) < 75
             and not ever_had(r, BREAST)]
    hits = sum(_within(r, SCREEN_MAMMOGRAM, 2, "procedures") for r in women)
    _check_share(hits, len(women), 0.72, "mammogram in 2 years, women 52-74")


def test_colonoscopy_screening_uptake(cohort):
    # USPSTF 2021 45-75; NHIS 2018: 61.1% of adults 50-75 had a colonoscopy in 10 years.
    # Screening starts at 45 in the module, so at 55-75 the person has had 10+ years of offers.
    _, alive = cohort
    people = [r for p, r in alive if 55 <= _age(p) < 76 and not ever_had(r, COLORECTAL)]
    hits = sum(_within(r, COLONOSCOPY, 10, "procedures") for r in people)
    _check_share(hits, len(people), 0.61, "colonoscopy in 10 years, 55-75")


def test_psa_shared_decision(cohort):
    # NCI Progress Report: 37.1% of men 55-69 had a PSA test in the past year (2021).
    _, alive = cohort
    men = [r for p, r in alive if p.gender == "M" and 56 <= _age(p) < 70
           and not ever_had(r, PROSTATE)]
    hits = sum(_within(r, PSA, 1, "observations") for r in men)
    _check_share(hits, len(men), 0.371, "PSA in past year, men 56-69")


def test_lung_screening_only_for_ever_smokers(cohort):
    result, alive = cohort
    for person, record in zip(result.people, result.records, strict=True):
        if not _ever_smoked(person):
            assert not any(pr.codes[0].code == LDCT
                           for e in record.encounters for pr in e.procedures)
    # BRFSS 2022: 16.4% of eligible adults screened in the past year.
    eligible = [r for p, r in alive if _ever_smoked(p) and 51 <= _age(p) <= 80
                and not ever_had(r, LUNG)]
    hits = sum(_within(r, LDCT, 1, "procedures") for r in eligible)
    _check_share(hits, len(eligible), 0.164, "LDCT in past year, ever-smokers 51-80")
