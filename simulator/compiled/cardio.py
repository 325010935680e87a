"""builtin.cardiovascular's risk scores for the kernel, in numba, operation for operation
(math.fsum is expr._fsum; the figures are read from that module;
tests/test_compiled_payers_cardio.py checks the two agree).

The kernel gathers the person's flags and vital signs (kernel.cardio_attribute) and calls
`risks`, which gives all six attributes at once, as cardiovascular_attributes does.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulator.builtin import cardiovascular as cv
from simulator.compiled import expr as ex
from simulator.engine import timeutil as tu

# the order of cardiovascular.CARDIO_ATTRIBUTES
ASCVD, CARDIO, MI, IHD, AF, STROKE = range(6)

# Tables are tuples (numba freezes global tuples as constants).
# Pooled Cohort rows by 2 * male + black: 13 coefficients, the mean, the baseline survival
PCE = tuple(tuple(float(x) for x in (*p.coef, p.mean, p.baseline_survival)) for p in (
    cv._PCE[("F", False)], cv._PCE[("F", True)], cv._PCE[("M", False)], cv._PCE[("M", True)]))
AF_AGE_POINTS = (tuple(cv._AF_AGE_POINTS["F"]), tuple(cv._AF_AGE_POINTS["M"]))
AF_BANDS = len(AF_AGE_POINTS[0])
AF_RISK = tuple(cv._AF_RISK)
_MALE = cv._MALE_STROKE
STROKE_AGE = tuple(float(x) for x in _MALE.age_upper)
STROKE_UNTREATED = tuple(float(x) for x in _MALE.untreated_sbp_upper)
STROKE_TREATED = tuple(float(x) for x in _MALE.treated_sbp_upper)
STROKE_RISK = tuple(_MALE.risk_by_points)
STROKE_DIABETES, STROKE_SMOKER, STROKE_CVD, STROKE_AF, STROKE_LVH = (
    _MALE.diabetes, _MALE.smoker, _MALE.cvd, _MALE.af, _MALE.lvh)
# the flat figures below 55, oldest band first: (min age, male, female)
STROKE_YOUNG = tuple((float(age), m, f) for age, (m, f) in cv._STROKE_YOUNG.items())
if cv._FEMALE_STROKE is not None:  # the port has only the fallback for women
    raise ImportError("builtin.cardiovascular gained a female stroke profile: port it here")
FEMALE_STROKE_FALLBACK = cv._FEMALE_STROKE_FALLBACK
TEN_YEARS_MS = cv.TEN_YEARS_MS
MONTH_MS = cv.MONTH_MS
STEP_MS = tu.STEP
IHD_PER_MI = cv.IHD_PER_MI
ASCVD_MIN_AGE, ASCVD_MAX_AGE = cv.ASCVD_MIN_AGE, cv.ASCVD_MAX_AGE
AF_MIN_AGE = cv.AF_MIN_AGE
STROKE_MIN_AGE, STROKE_POINTS_AGE = cv.STROKE_MIN_AGE, cv.STROKE_POINTS_AGE


@nb.njit(cache=True)
def per_period(r10, period_ms):
    return 1.0 - (1.0 - r10) ** (period_ms / TEN_YEARS_MS)


@nb.njit(cache=True)
def ascvd_10y(age, female, black, total_chol, hdl, sbp, treated, smoker, diabetic):
    if age < ASCVD_MIN_AGE or age > ASCVD_MAX_AGE:
        return -1.0
    row = PCE[(0 if female else 2) + (1 if black else 0)]
    ln_age = math.log(age)
    ln_tc = math.log(total_chol)
    ln_hdl = math.log(hdl)
    ln_sbp = math.log(sbp)
    treated_sbp = ln_sbp if treated else 0.0
    untreated_sbp = 0.0 if treated else ln_sbp
    smoke = 1.0 if smoker else 0.0
    x = np.array((ln_age, ln_age * ln_age, ln_tc, ln_age * ln_tc, ln_hdl, ln_age * ln_hdl,
                  treated_sbp, ln_age * treated_sbp, untreated_sbp, ln_age * untreated_sbp,
                  smoke, ln_age * smoke, 1.0 if diabetic else 0.0))
    terms = np.empty(13)
    for i in range(13):
        terms[i] = row[i] * x[i]
    ok, total = ex._fsum(terms, np.empty(13))
    if not ok:  # math.fsum raises (inf + -inf: a zero cholesterol); the sum is not a number
        total = math.nan
    return 1.0 - row[14] ** math.exp(total - row[13])


@nb.njit(cache=True)
def af_10y(age, female, bmi, sbp, bp_controlled):
    band = min((age - AF_MIN_AGE) // 5, AF_BANDS - 1)
    points = AF_AGE_POINTS[0 if female else 1][band]
    points += (1 if bmi >= 30 else 0) + (1 if sbp >= 160 else 0) + (1 if bp_controlled else 0)
    return AF_RISK[max(0, min(points, len(AF_RISK) - 1))]


@nb.njit(cache=True)
def band(value, uppers):
    index = 0
    for upper in uppers:
        if value > upper:
            index += 1
        else:
            break
    return index


@nb.njit(cache=True)
def stroke_10y(age, female, sbp, treated, smoker, lvh, diabetic, chd, af):
    if age < STROKE_MIN_AGE:
        return -1.0
    if age < STROKE_POINTS_AGE:
        for young in STROKE_YOUNG:
            if age >= young[0]:
                return young[2] if female else young[1]
    if female:
        return FEMALE_STROKE_FALLBACK
    points = band(float(age), STROKE_AGE)
    points += band(sbp, STROKE_TREATED) if treated else band(sbp, STROKE_UNTREATED)
    points += ((STROKE_DIABETES if diabetic else 0) + (STROKE_SMOKER if smoker else 0)
               + (STROKE_CVD if chd else 0) + (STROKE_AF if af else 0)
               + (STROKE_LVH if lvh else 0))
    index = max(0, min(points - 1, len(STROKE_RISK) - 1))
    return STROKE_RISK[index]


@nb.njit(cache=True)
def risks(age, female, black, smoker, diabetic, treated, has_af, bp_controlled, lvh, chd,
          af_flag, sbp, total_chol, hdl, bmi):
    """cardiovascular_attributes's six values (ASCVD..STROKE) from what the kernel read: the
    vitals it did not need to read are NaN."""
    out = np.empty(6)
    ascvd = -1.0
    if ASCVD_MIN_AGE <= age <= ASCVD_MAX_AGE:
        ascvd = ascvd_10y(age, female, black, total_chol, hdl, sbp, treated, smoker, diabetic)
    mi = per_period(ascvd, MONTH_MS)
    af = -1.0
    if age >= AF_MIN_AGE and not has_af:
        af = af_10y(age, female, bmi, sbp, bp_controlled)
    stroke = stroke_10y(age, female, sbp, treated, smoker, lvh, diabetic, chd, af_flag)
    out[ASCVD] = ascvd
    out[CARDIO] = per_period(ascvd, STEP_MS)
    out[MI] = mi
    out[IHD] = IHD_PER_MI * mi
    out[AF] = per_period(af, STEP_MS)
    out[STROKE] = per_period(stroke, STEP_MS)
    return out
