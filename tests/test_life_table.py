from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.population.life_table import (
    LifeTable,
    life_table_arrays,
    load_life_table,
    sample_death_ages,
)

# Published life expectancies of the table in simulator/data/us_life_table.csv: SSA Office of
# the Chief Actuary, Actuarial Life Table, Period Life Table 2023 as used in the 2026 Trustees
# Report, https://www.ssa.gov/oact/STATS/table4c6.html (e(x) column at ages 0 and 65).
PUBLISHED_E0 = {"M": 75.79, "F": 81.06}
PUBLISHED_E65 = {"M": 18.12, "F": 20.66}

sexes_st = st.sampled_from(["M", "F"])
u_st = st.floats(0.0, 1.0, exclude_max=True)
age_st = st.floats(0.0, 101.0, exclude_max=True)


@pytest.fixture(scope="module")
def table() -> LifeTable:
    return load_life_table()


def _survival_at(table: LifeTable, sex: str, age: float) -> float:
    return float(np.interp(age, np.arange(102), table.survival[sex]))


def test_table_shape_and_source(table: LifeTable) -> None:
    for sex in ("M", "F"):
        q, s = table.qx[sex], table.survival[sex]
        assert q.shape == (101,) and s.shape == (102,)
        assert np.all((q[:100] > 0) & (q[:100] < 1)) and q[100] == 1.0
        assert s[0] == 1.0 and s[101] == 0.0 and np.all(np.diff(s) < 0)
    # Spot values of the published table (SSA 2023 period table, qx column).
    assert table.qx["M"][0] == 0.006015 and table.qx["F"][0] == 0.005125
    assert table.qx["M"][65] == 0.016455 and table.qx["F"][99] == 0.306491
    # Published survivors out of 100,000: l(65) male 79,084, l(85) female 49,469.
    assert table.survival["M"][65] * 1e5 == pytest.approx(79084, abs=1)
    assert table.survival["F"][85] * 1e5 == pytest.approx(49469, abs=1)
    assert "ssa.gov" in table.source and "2023" in table.source


def test_load_is_cached() -> None:
    assert load_life_table() is load_life_table()


@pytest.mark.parametrize("sex", ["M", "F"])
def test_life_expectancy_matches_published(table: LifeTable, sex: str) -> None:
    assert table.life_expectancy(sex) == pytest.approx(PUBLISHED_E0[sex], abs=0.2)
    assert table.life_expectancy(sex, at_age=65) == pytest.approx(PUBLISHED_E65[sex], abs=0.2)


def test_pooled_life_expectancy_is_birth_weighted(table: LifeTable) -> None:
    male, female = table.life_expectancy("M"), table.life_expectancy("F")
    pooled = table.life_expectancy()
    assert male < pooled < (male + female) / 2  # more boys than girls are born
    assert pooled == pytest.approx((105 * male + 100 * female) / 205, rel=1e-12)


def test_bad_arguments(table: LifeTable) -> None:
    with pytest.raises(ValueError):
        table.death_age_quantile("M", 1.0)
    with pytest.raises(ValueError):
        table.death_age_quantile("M", -0.1)
    with pytest.raises(ValueError):
        table.death_age_quantile("M", 0.5, survived_to=101.0)
    with pytest.raises(ValueError):
        table.death_age_quantile("X", 0.5)


@settings(max_examples=300)
@given(sexes_st, u_st, u_st, age_st)
def test_quantile_monotone_and_bounded(sex: str, u1: float, u2: float, survived_to: float) -> None:
    table = load_life_table()
    lo, hi = sorted((u1, u2))
    a = table.death_age_quantile(sex, lo, survived_to)
    b = table.death_age_quantile(sex, hi, survived_to)
    assert survived_to <= a <= b < 101.0


@settings(max_examples=300)
@given(sexes_st, st.floats(0.0, 0.999999), st.floats(0.0, 100.999))
def test_quantile_inverts_survival(sex: str, u: float, survived_to: float) -> None:
    # P(death after t | alive at s) = l(t) / l(s) must equal 1 - u at t = quantile(u).
    # (Starting a few ulps below 101 leaves no float room to solve this; the bound < 101 wins.)
    table = load_life_table()
    t = table.death_age_quantile(sex, u, survived_to)
    ratio = _survival_at(table, sex, t) / _survival_at(table, sex, survived_to)
    assert ratio == pytest.approx(1.0 - u, abs=1e-9)


def test_quantile_endpoints(table: LifeTable) -> None:
    assert table.death_age_quantile("F", 0.0, 37.25) == 37.25
    assert table.death_age_quantile("M", 0.0) == 0.0
    # Median male age at death: l(t) = 0.5 falls between 80 and 81 in this table.
    assert 80.0 < table.death_age_quantile("M", 0.5) < 81.0


def _stratified_mean(sex_index: int, survived_to: float, n: int = 200_000) -> float:
    survival, _ = life_table_arrays()
    u = (np.arange(n) + 0.5) / n  # midpoint rule over the quantile function
    ages = sample_death_ages(survival, np.full(n, sex_index, dtype=np.int8), u,
                             np.full(n, survived_to))
    return float(ages.mean())


@pytest.mark.parametrize(("sex", "sex_index"), [("M", 0), ("F", 1)])
def test_mean_death_age_is_life_expectancy(table: LifeTable, sex: str, sex_index: int) -> None:
    assert _stratified_mean(sex_index, 0.0) == pytest.approx(table.life_expectancy(sex), abs=0.01)
    e65 = table.life_expectancy(sex, at_age=65)
    assert _stratified_mean(sex_index, 65.0) == pytest.approx(65.0 + e65, abs=0.01)
    assert _stratified_mean(sex_index, 65.0) == pytest.approx(65.0 + PUBLISHED_E65[sex], abs=0.2)


def test_random_sample_mean(table: LifeTable) -> None:
    survival, _ = life_table_arrays()
    rng = np.random.default_rng(7)
    n = 100_000
    ages = sample_death_ages(survival, np.zeros(n, dtype=np.int8), rng.random(n), np.zeros(n))
    # Standard deviation of age at death is ~15-20 years, so the standard error is ~0.06.
    assert ages.mean() == pytest.approx(table.life_expectancy("M"), abs=0.3)


def test_arrays_layout(table: LifeTable) -> None:
    survival, qx = life_table_arrays()
    assert survival.shape == (2, 102) and qx.shape == (2, 101)
    assert np.array_equal(survival[0], table.survival["M"])
    assert np.array_equal(survival[1], table.survival["F"])
    assert np.array_equal(qx[1], table.qx["F"])


def _python_ages(table: LifeTable, sex_index: np.ndarray, u: np.ndarray,
                 survived_to: np.ndarray) -> np.ndarray:
    return np.array([table.death_age_quantile("MF"[s], float(x), float(a))
                     for s, x, a in zip(sex_index, u, survived_to, strict=True)])


def test_numba_kernel_equals_python_on_grid(table: LifeTable) -> None:
    survival, _ = life_table_arrays()
    starts = [0.0, 0.5, 1.0, 17.3, 64.999, 65.0, 99.0, 99.999999, 100.0, 100.25, 100.999999,
              float(np.nextafter(101.0, 0.0))]
    us = [0.0, 1e-12, 0.001, 0.25, 0.5, 0.75, 0.999, 1.0 - 1e-12, float(np.nextafter(1.0, 0.0))]
    grid = [(s, a, x) for s in (0, 1) for a in starts for x in us]
    sex_index = np.array([g[0] for g in grid], dtype=np.int8)
    survived_to = np.array([g[1] for g in grid])
    u = np.array([g[2] for g in grid])
    got = sample_death_ages(survival, sex_index, u, survived_to)
    expected = _python_ages(table, sex_index, u, survived_to)
    assert np.array_equal(got, expected)
    assert np.all(got >= survived_to) and np.all(got < 101.0)


def test_numba_kernel_equals_python_random(table: LifeTable) -> None:
    survival, _ = life_table_arrays()
    rng = np.random.default_rng(11)
    n = 20_000
    sex_index = rng.integers(0, 2, n).astype(np.int8)
    u = rng.random(n)
    # Half the starting ages near the top of the table, where the open interval matters.
    survived_to = np.where(rng.random(n) < 0.5, rng.uniform(0.0, 101.0, n),
                           rng.uniform(99.0, 101.0, n))
    survived_to = np.minimum(survived_to, np.nextafter(101.0, 0.0))
    got = sample_death_ages(survival, sex_index, u, survived_to)
    assert np.array_equal(got, _python_ages(table, sex_index, u, survived_to))


@settings(max_examples=200, deadline=None)  # the first call compiles or loads the kernel
@given(sexes_st, u_st, age_st)
def test_numba_kernel_equals_python_property(sex: str, u: float, survived_to: float) -> None:
    table = load_life_table()
    survival, _ = life_table_arrays()
    got = sample_death_ages(survival, np.array([0 if sex == "M" else 1], dtype=np.int8),
                            np.array([u]), np.array([survived_to]))
    assert got[0] == table.death_age_quantile(sex, u, survived_to)
