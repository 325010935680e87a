"""Metabolic group (obesity, diabetes, hypertension, hyperlipidemia, gout): one run of 1000
adults, main outcomes checked against their intended adult prevalence (+-4 binomial SE)."""

from __future__ import annotations

import math

import pytest
from project_modules import active_at_end, run, share

N = 1000
MODULES = ["wellness_vitals", "obesity", "diabetes", "hypertension", "hyperlipidemia", "gout"]

# code -> (intended adult prevalence, source)
TARGETS = {
    # diagnosed hypertension: measured 29.0% (NCHS Data Brief 289) x awareness 71.6% (NHANES
    # 2017-2018); the measured share is checked below
    "59621000": (0.208, "diagnosed hypertension, NCHS Data Brief 289 x NHANES awareness"),
    "55822004": (0.114, "total cholesterol >= 240, NCHS Data Brief 363 (2015-2018)"),
    "90560007": (0.039, "gout, Chen-Xu 2019 NHANES 2015-2016"),
    "44054006": (0.11, "diagnosed diabetes, CDC NDSR (10.1% age-adjusted, crude higher)"),
    # prediabetes: published 38.0% (CDC NDSR 2021); progression to diabetes was scaled by 0.72 in
    # the whole-library calibration, so more people stay prediabetic (0.42 in bench/module_targets)
    "714628002": (0.42, "prediabetes, CDC NDSR 38.0% with the calibrated progression"),
    "162864005": (0.424, "BMI >= 30, NCHS Data Brief 360 (NHANES 2017-2018)"),
}


@pytest.fixture(scope="module")
def records():
    return run(MODULES, population=N, seed=7, age=(18, 90)).records


@pytest.mark.parametrize("code", sorted(TARGETS))
def test_prevalence(records, code):
    target, source = TARGETS[code]
    value = share(records, lambda r: active_at_end(r, code))
    se = math.sqrt(target * (1 - target) / len(records))
    assert abs(value - target) <= 4 * se, f"{source}: simulated {value:.3f}, target {target}"


def test_attributes_and_treatment(records):
    # every diagnosed diabetic has an HbA1c and metformin; hypertensives get lisinopril
    diabetics = [r for r in records if active_at_end(r, "44054006")]
    assert diabetics
    for r in diabetics:
        obs = [o for e in r.encounters for o in e.observations if o.code.code == "4548-4"]
        meds = {m.code.code for e in r.encounters for m in e.medications}
        assert obs and all(3.0 <= float(o.value) <= 14.0 for o in obs)
        assert "860975" in meds
    hyper = [r for r in records if active_at_end(r, "59621000")]
    assert all(any(m.code.code == "314076" for e in r.encounters for m in e.medications) for r in hyper)


def test_complications_only_in_diabetics(records):
    for code in ("422034002", "368581000119106", "127013003"):
        for r in records:
            if active_at_end(r, code):
                assert active_at_end(r, "44054006")


def _latest_bp(record) -> tuple[float, float] | None:
    readings = {}
    for e in record.encounters:
        for o in e.observations:
            for child in [o, *(o.children or [])]:
                if child.code.code in ("8480-6", "8462-4"):
                    readings[child.code.code] = (child.start, float(child.value))
    if len(readings) < 2:
        return None
    return readings["8480-6"][1], readings["8462-4"][1]


def test_hypertension_is_measured_before_it_is_diagnosed(records):
    """Real records hold undiagnosed hypertension: high readings, no diagnosis, no treatment."""
    from simulator.engine.vitals import ANTIHYPERTENSIVES

    measured = undiagnosed = 0
    for r in records:
        bp = _latest_bp(r)
        treated = any(m.code.code in ANTIHYPERTENSIVES and m.stop is None
                      for e in r.encounters for m in e.medications)
        if bp is None:
            continue
        high = bp[0] >= 140 or bp[1] >= 90
        measured += high or treated
        if high and not treated and not active_at_end(r, "59621000"):
            undiagnosed += 1
    adults = sum(1 for r in records if _latest_bp(r) is not None)
    assert undiagnosed >= 20  # about 8% of adults: the 28% of hypertensives never told
    # measured hypertension, NCHS Data Brief 289: 29.0% of adults (>= 140/90 or treated)
    assert abs(measured / adults - 0.29) <= 4 * math.sqrt(0.29 * 0.71 / adults)
