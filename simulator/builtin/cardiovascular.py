"""Cardiovascular risk attributes read by JSON disease modules (engine-behaviour.md §4.4).

Modules use these as named transition probabilities (`mi_risk`, `ihd_risk`, `stroke_risk`,
`atrial_fibrillation_risk`, ...), so the engine computes them lazily when one is read:
`cardiovascular_attributes` gathers the person's attributes and vital signs and calls the pure
scoring functions below, which take plain numbers so they stay cheap and testable.

Ineligible ages score −1 and are still pushed through the per-period conversion, which turns
them into small negative probabilities. That is the reference's behaviour (§4.4, §12 item 8):
a negative named distribution never fires, so it is reproduced rather than clamped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.engine import timeutil as tu

CARDIO_ATTRIBUTES = (
    "ascvd_risk",
    "cardio_risk",
    "mi_risk",
    "ihd_risk",
    "atrial_fibrillation_risk",
    "stroke_risk",
)

TEN_YEARS_MS = 3650 * tu.DAY  # the risk scores are 10-year figures; 3650 days, not 10 calendar years
MONTH_MS = 30 * tu.DAY  # mi_risk is a 30-day figure whatever the engine's step is
IHD_PER_MI = 5.0  # ihd_risk = 5 × mi_risk (§4.4)


def per_period(r10: float, period_ms: int) -> float:
    """Convert a 10-year risk into the risk over `period_ms`: 1 − (1 − r)^(period / 3650 days).

    Deliberately not guarded: r = −1 (ineligible) gives 1 − 2^(period/10y), a slightly negative
    number, as in the reference."""
    return 1.0 - (1.0 - r10) ** (period_ms / TEN_YEARS_MS)


# ---------------------------------------------------------------- ASCVD (Pooled Cohort Equations)
# Goff DC Jr et al., "2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk",
# Circulation 2014;129(25 Suppl 2):S49-S73, Table A (equation parameters), as transcribed in
# engine-behaviour.md §4.4 and cross-checked against the CVrisk R package's `ascvd_pooled_coef`
# (https://rdrr.io/github/vcastro/CVrisk/src/data-raw/score_coef.R).
# Term order: ln age, (ln age)², ln TC, ln age·ln TC, ln HDL, ln age·ln HDL, ln treated SBP,
# ln age·ln treated SBP, ln untreated SBP, ln age·ln untreated SBP, smoker, ln age·smoker, diabetes.


@dataclass(frozen=True, slots=True)
class _PooledCohort:
    coef: tuple[float, ...]
    mean: float
    baseline_survival: float


_PCE = {
    ("F", False): _PooledCohort(
        (-29.799, 4.884, 13.540, -3.114, -13.578, 3.149, 2.019, 0.0, 1.957, 0.0, 7.574, -1.665, 0.661),
        -29.18,
        0.9665,
    ),
    ("F", True): _PooledCohort(
        (17.114, 0.0, 0.940, 0.0, -18.920, 4.475, 29.291, -6.432, 27.820, -6.087, 0.691, 0.0, 0.874),
        86.61,
        0.9533,
    ),
    ("M", False): _PooledCohort(
        (12.344, 0.0, 11.853, -2.664, -7.990, 1.769, 1.797, 0.0, 1.764, 0.0, 7.837, -1.795, 0.658),
        61.18,
        0.9144,
    ),
    ("M", True): _PooledCohort(
        (2.469, 0.0, 0.302, 0.0, -0.307, 0.0, 1.916, 0.0, 1.809, 0.0, 0.549, 0.0, 0.645),
        19.54,
        0.8954,
    ),
}
ASCVD_MIN_AGE = 40
ASCVD_MAX_AGE = 79


def ascvd_10y(
    age: float,
    sex: str,
    race: str,
    total_chol: float,
    hdl: float,
    sbp: float,
    treated: bool,
    smoker: bool,
    diabetic: bool,
) -> float:
    """10-year hard-ASCVD risk; −1 outside ages 40–79. Only race "black" uses the
    African-American columns, every other race the white ones (§4.4)."""
    if age < ASCVD_MIN_AGE or age > ASCVD_MAX_AGE:
        return -1.0
    p = _PCE[("F" if sex == "F" else "M", race == "black")]
    ln_age = math.log(age)
    ln_tc = math.log(total_chol)
    ln_hdl = math.log(hdl)
    ln_sbp = math.log(sbp)
    treated_sbp = ln_sbp if treated else 0.0
    untreated_sbp = 0.0 if treated else ln_sbp
    smoke = 1.0 if smoker else 0.0
    x = (
        ln_age,
        ln_age * ln_age,
        ln_tc,
        ln_age * ln_tc,
        ln_hdl,
        ln_age * ln_hdl,
        treated_sbp,
        ln_age * treated_sbp,
        untreated_sbp,
        ln_age * untreated_sbp,
        smoke,
        ln_age * smoke,
        1.0 if diabetic else 0.0,
    )
    total = math.fsum(c * v for c, v in zip(p.coef, x, strict=True))
    return 1.0 - p.baseline_survival ** math.exp(total - p.mean)


# ---------------------------------------------------------------- atrial fibrillation (§4.4)
# Points by age band 45–49, 50–54, …, 80–84, ≥85 and the points → 10-year risk table, as given
# in engine-behaviour.md §4.4 (a Framingham AF score).
_AF_AGE_POINTS = {
    "M": (1, 2, 3, 4, 5, 6, 7, 7, 8),
    "F": (-3, -2, 0, 1, 3, 4, 6, 7, 8),
}
_AF_RISK = (0.01, 0.02, 0.02, 0.03, 0.04, 0.06, 0.08, 0.12, 0.16, 0.22, 0.30)
AF_MIN_AGE = 45


def af_10y(
    age: float, sex: str, bmi: float, sbp: float, bp_controlled: bool, has_af: bool
) -> float:
    """10-year atrial-fibrillation risk; −1 under 45 or when AF is already present."""
    if age < AF_MIN_AGE or has_af:
        return -1.0
    band = min(int((age - AF_MIN_AGE) // 5), len(_AF_AGE_POINTS["M"]) - 1)
    points = _AF_AGE_POINTS["F" if sex == "F" else "M"][band]
    points += (bmi >= 30) + (sbp >= 160) + bool(bp_controlled)
    return _AF_RISK[max(0, min(points, len(_AF_RISK) - 1))]


# ---------------------------------------------------------------- stroke (§4.4)
# Under 55 the reference uses flat 10-year figures (engine-behaviour.md §4.4).
_STROKE_YOUNG = {  # (min age, male risk, female risk), checked from the oldest band down
    40: (0.019, 0.022),
    20: (0.002, 0.007),
}
STROKE_MIN_AGE = 20
STROKE_POINTS_AGE = 55


@dataclass(frozen=True, slots=True)
class _StrokeProfile:
    """Framingham Stroke Risk Profile for one sex. Band tables hold each band's upper bound in
    whole years / mmHg; the band index (= points) is how many upper bounds the value exceeds,
    so values below the first band score 0 and above the last score the top band."""

    age_upper: tuple[int, ...]
    untreated_sbp_upper: tuple[int, ...]
    treated_sbp_upper: tuple[int, ...]
    diabetes: int
    smoker: int
    cvd: int
    af: int
    lvh: int
    risk_by_points: tuple[float, ...]  # index 0 = 1 point


# Men: Framingham Stroke Risk Profile (Wolf PA, D'Agostino RB, Belanger AJ, Kannel WB, Stroke
# 1991;22:312-318; treated-SBP adjustment D'Agostino RB et al., Stroke 1994;25:40-43), as
# printed in the NINDS worksheet "Score your stroke risk for the next 10 years - MEN"
# (http://www.rxlist.com/stroke_prevention/page4.htm, same table at
# https://commanet.org/article-83.html). Worked check from
# https://www.droracle.ai/articles/45812/: a 64-year-old man, treated SBP 138, LVH only,
# scores 3 + 6 + 5 = 14 points = 17 %.
# The worksheet's printing has gaps/overlaps, resolved as follows: age bands read 55-56, 57-59,
# 60-62, 63-65, 66-68, 69-72, 73-75, 76-78, 79-81, 83-84, 85 (82 is unprinted: put in the
# 83-84 band; anything above 84 scores 10); treated SBP reads 97-105, 106-115, 113-117, ...
# (the second band must end at 112 since the third starts at 113).
_MALE_STROKE = _StrokeProfile(
    age_upper=(56, 59, 62, 65, 68, 72, 75, 78, 81, 84),
    untreated_sbp_upper=(105, 115, 125, 135, 145, 155, 165, 175, 185, 195),
    treated_sbp_upper=(105, 112, 117, 123, 129, 135, 142, 150, 161, 176),
    diabetes=2,
    smoker=3,
    cvd=4,
    af=4,
    lvh=5,
    risk_by_points=(
        0.03, 0.03, 0.04, 0.04, 0.05, 0.05, 0.06, 0.07, 0.08, 0.10,
        0.11, 0.13, 0.15, 0.17, 0.20, 0.22, 0.26, 0.29, 0.33, 0.37,
        0.42, 0.47, 0.52, 0.57, 0.63, 0.68, 0.74, 0.79, 0.84, 0.88,
    ),
)

# Women: the published female point tables (age bands, SBP bands, points → probability) could
# not be found in any source available offline, so no female profile is defined. Until one is,
# women 55+ keep the oldest flat figure the reference gives (0.022, ages 40–54). The risk-factor
# points the reference lists for women (diabetes +3, smoker +3, CHD +2, AF +6, LVH +5) are
# recorded here for whoever adds the table.
_FEMALE_STROKE: _StrokeProfile | None = None
_FEMALE_STROKE_FALLBACK = 0.022


def _band(value: float, uppers: tuple[int, ...]) -> int:
    index = 0
    for upper in uppers:
        if value > upper:
            index += 1
        else:
            break
    return index


def stroke_points(
    profile: _StrokeProfile,
    age: float,
    sbp: float,
    bp_treated: bool,
    smoker: bool,
    lvh: bool,
    diabetic: bool,
    chd: bool,
    af: bool,
) -> int:
    points = _band(age, profile.age_upper)
    points += _band(sbp, profile.treated_sbp_upper if bp_treated else profile.untreated_sbp_upper)
    points += profile.diabetes * diabetic + profile.smoker * smoker + profile.cvd * chd
    points += profile.af * af + profile.lvh * lvh
    return points


def stroke_10y(
    age: float,
    sex: str,
    sbp: float,
    bp_treated: bool,
    smoker: bool,
    lvh: bool,
    diabetic: bool,
    chd: bool,
    af: bool,
) -> float:
    """10-year stroke risk: −1 under 20, flat figures 20–54, Framingham points from 55."""
    female = sex == "F"
    if age < STROKE_MIN_AGE:
        return -1.0
    if age < STROKE_POINTS_AGE:
        for min_age, (male_risk, female_risk) in _STROKE_YOUNG.items():
            if age >= min_age:
                return female_risk if female else male_risk
    profile = _FEMALE_STROKE if female else _MALE_STROKE
    if profile is None:
        return _FEMALE_STROKE_FALLBACK
    points = stroke_points(profile, age, sbp, bp_treated, smoker, lvh, diabetic, chd, af)
    # the published table starts at 1 point and stops at its maximum; clamp into it
    index = max(0, min(points - 1, len(profile.risk_by_points) - 1))
    return profile.risk_by_points[index]


# ---------------------------------------------------------------- engine entry point


def _flag(person: Any, name: str) -> bool:
    return bool(person.get(name, False))


def cardiovascular_attributes(
    person: Any, now: int, vital: Callable[[str], float], step_ms: int = tu.STEP
) -> dict[str, float]:
    """All six risk attributes for `person` at `now`. `vital(name)` returns the current value of
    "Total Cholesterol", "HDL", "Systolic Blood Pressure" or "BMI"."""
    age = tu.age_years(person.birth, now)
    sex = person.get("gender")
    smoker = _flag(person, "smoker")
    diabetic = _flag(person, "diabetes")
    # "treated" blood pressure means the `hypertension` attribute (§4.4)
    treated = _flag(person, "hypertension")
    # every score that reads blood pressure starts at 40 (ASCVD); younger people skip the read
    sbp = vital("Systolic Blood Pressure") if age >= ASCVD_MIN_AGE else math.nan

    ascvd = -1.0
    if ASCVD_MIN_AGE <= age <= ASCVD_MAX_AGE:
        ascvd = ascvd_10y(
            age, sex, person.get("race"), vital("Total Cholesterol"), vital("HDL"), sbp,
            treated, smoker, diabetic,
        )
    mi = per_period(ascvd, MONTH_MS)

    af = -1.0
    # "existing attribute" excludes the person, whatever its value (§4.4)
    has_af = person.get("atrial_fibrillation") is not None
    if age >= AF_MIN_AGE and not has_af:
        af = af_10y(age, sex, vital("BMI"), sbp, _flag(person, "blood_pressure_controlled"), has_af)

    stroke = stroke_10y(
        age, sex, sbp, treated, smoker, _flag(person, "left_ventricular_hypertrophy"), diabetic,
        _flag(person, "coronary_heart_disease"), _flag(person, "atrial_fibrillation"),
    )
    return {
        "ascvd_risk": ascvd,
        "cardio_risk": per_period(ascvd, step_ms),
        "mi_risk": mi,
        "ihd_risk": IHD_PER_MI * mi,
        "atrial_fibrillation_risk": per_period(af, step_ms),
        "stroke_risk": per_period(stroke, step_ms),
    }
