"""Bulk population sampler: counter-based RNG, shard independence, natural death, options and
the shape of a sampled population against the state profile it came from."""

from __future__ import annotations

import math

import numpy as np
import pytest
import zipcodes
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.engine import timeutil as tu
from simulator.population import rng
from simulator.population import sampler as s
from simulator.population.life_table import life_table_arrays, load_life_table
from simulator.population.people import Population, PopulationOptions
from simulator.population.state_data import state_profile

REF = tu.ymd_ms(2025, 1, 1)
LEAP_REF = tu.ymd_ms(2024, 2, 29)  # years_before() has to fall back to 28 February
SEED = 20240601

u64 = st.integers(0, 2**64 - 1)
small = st.integers(0, 2**40)
fast = settings(max_examples=60, deadline=None)


@pytest.fixture(scope="module")
def ma() -> s.PopulationTables:
    return s.population_tables("Massachusetts", REF)


def _key(seed: int, index: int, stream: int, attempt: int) -> np.uint64:
    # numba hands a uint64 back as a Python int; re-type it as the kernel does
    return np.uint64(rng.person_key(rng.seed64(seed), np.uint64(index), np.uint64(stream),
                                    np.uint64(attempt)))


def _ages(floats: np.ndarray, reference: int) -> np.ndarray:
    return np.array([tu.age_years(int(b), reference) for b in floats[:, s.F_BIRTH]])


# ---------------------------------------------------------------------------------------- rng


@fast
@given(u64, small, st.integers(1, 3), st.integers(0, 5), st.integers(0, 100))
def test_uniform_in_unit_interval_and_deterministic(seed: int, index: int, stream: int, attempt: int,
                                                    draw: int) -> None:
    u = rng.uniform(_key(seed, index, stream, attempt), draw)
    assert 0.0 <= u < 1.0
    assert rng.uniform(_key(seed, index, stream, attempt), draw) == u


@fast
@given(u64, small, st.integers(1, 3), st.integers(0, 5), st.integers(0, 100))
def test_changing_any_key_component_changes_the_number(seed: int, index: int, stream: int,
                                                       attempt: int, draw: int) -> None:
    base = rng.uniform(_key(seed, index, stream, attempt), draw)
    # A collision has probability 2**-53 per pair: any equality here is a keying bug.
    assert rng.uniform(_key(seed ^ 1, index, stream, attempt), draw) != base
    assert rng.uniform(_key(seed, index + 1, stream, attempt), draw) != base
    assert rng.uniform(_key(seed, index, stream % 3 + 1, attempt), draw) != base
    assert rng.uniform(_key(seed, index, stream, attempt + 1), draw) != base
    assert rng.uniform(_key(seed, index, stream, attempt), draw + 1) != base


def test_uniform_and_normal_moments() -> None:
    n = 20_000
    u = np.array([rng.uniform(_key(5, i, 1, 0), 0) for i in range(n)])
    assert len(np.unique(u)) == n
    # 10 equal bins: chi-square with 9 dof; 27.9 is its 0.999 quantile.
    counts = np.bincount((u * 10).astype(int), minlength=10)
    assert ((counts - n / 10) ** 2 / (n / 10)).sum() < 27.9
    z = np.array([rng.normal(_key(5, i, 2, 0), 0) for i in range(n)])
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.std() - 1.0) < 0.03


def test_radical_inverse_known_values() -> None:
    assert [rng.radical_inverse(np.uint64(i), 2) for i in range(1, 8)] == [
        0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875]
    assert rng.radical_inverse(np.uint64(1), 3) == pytest.approx(1 / 3)
    assert rng.radical_inverse(np.uint64(3), 3) == pytest.approx(1 / 9)
    assert rng.radical_inverse(np.uint64(5), 3) == pytest.approx(2 / 3 + 1 / 9)


def _stratified(seed: int, n: int, base: int) -> np.ndarray:
    return np.array([rng.stratified(rng.seed64(seed), np.uint64(i), base) for i in range(n)])


@settings(max_examples=25, deadline=None)
@given(u64, st.integers(1, 1500))
def test_stratified_dyadic_bins_hold_n_over_k(seed: int, n: int) -> None:
    # Indices q*k .. q*k+k-1 of a base-2 sequence sit exactly 1/k apart, so each bin (even after
    # the seed's rotation) gets one point per complete block: a count within 2 of n/k.
    v = _stratified(seed, n, 2)
    assert np.all((v >= 0.0) & (v < 1.0))
    for k in (2, 4, 8, 16):
        counts = np.bincount((v * k).astype(int), minlength=k)
        assert np.abs(counts - n / k).max() < 2.0, (k, counts)


@settings(max_examples=15, deadline=None)
@given(u64)
def test_stratified_first_thousand_in_ten_bins(seed: int) -> None:
    # Independent uniforms would miss 100 per bin by ~10; the rotated sequence by at most 2.
    v = _stratified(seed, 1000, 2)
    counts = np.bincount((v * 10).astype(int), minlength=10)
    assert np.abs(counts - 100).max() <= 2, counts
    w = _stratified(seed, 999, 3)
    assert np.all((w >= 0.0) & (w < 1.0))
    assert np.abs(np.bincount((w * 3).astype(int), minlength=3) - 333).max() <= 2


weights_st = st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)), min_size=1, max_size=40).filter(
    lambda w: sum(w) > 0)


@settings(max_examples=150, deadline=None)
@given(weights_st, st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20), st.data())
def test_pick_is_searchsorted_right(weights: list[float], us: list[float], data: st.DataObject) -> None:
    cdf = rng.cdf_of(weights)
    # Values exactly on a step are where an off-by-one would show.
    us = us + [float(data.draw(st.sampled_from(list(cdf))))]
    for u in us:
        expected = min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)
        assert rng.pick(cdf, u) == expected


@settings(max_examples=300, deadline=None)
@given(weights_st)
@example([0.0, 0.0, 0.0, 1.0894920867212932, 65533.283772662864, 0.0, 458755.0894920867, 0.0])
def test_cdf_of_is_monotone_and_zero_weights_are_unreachable(weights: list[float]) -> None:
    cdf = rng.cdf_of(weights)
    assert cdf[-1] == 1.0
    assert np.all(np.diff(cdf) >= 0.0), cdf
    previous = np.concatenate([[0.0], cdf[:-1]])
    for i, w in enumerate(weights):
        if w == 0.0:
            # An empty step: no u in [0, 1) picks it (ages 101-110 have weight 0, for example).
            assert cdf[i] == previous[i], (i, cdf)
    assert weights[rng.pick(cdf, float(np.nextafter(1.0, 0.0)))] > 0


@pytest.mark.parametrize("bad", [[], [0.0, 0.0], [1.0, -0.1], [1.0, float("nan")], [float("inf"), 1.0],
                                 [[0.5, 0.5]]])
def test_cdf_of_rejects_bad_weights(bad: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        rng.cdf_of(bad)


# --------------------------------------------------------------------------- shard independence


def _same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_shards_do_not_change_anyone(ma: s.PopulationTables) -> None:
    idx = np.arange(100, dtype=np.int64)
    ints, floats = s.draw(ma, SEED, idx)
    assert ints.shape == (100, s.N_INT) and floats.shape == (100, s.N_FLOAT)
    lo, hi = s.draw(ma, SEED, idx[:50]), s.draw(ma, SEED, idx[50:])
    _same((ints, floats), (np.vstack([lo[0], hi[0]]), np.vstack([lo[1], hi[1]])))
    rev = s.draw(ma, SEED, idx[::-1].copy())
    _same((ints, floats), (rev[0][::-1], rev[1][::-1]))
    perm = np.random.default_rng(3).permutation(100)
    shuffled = s.draw(ma, SEED, perm)
    _same((ints[perm], floats[perm]), shuffled)
    # and they differ between people, seeds and attempts
    assert len({tuple(r) for r in floats[:, [s.F_BIRTH, s.F_LAT, s.F_DEATH_AGE]]}) == 100
    other = s.draw(ma, SEED + 1, idx)
    assert not np.array_equal(other[1][:, s.F_LAT], floats[:, s.F_LAT])
    retry = s.draw(ma, SEED, idx, attempt=1)
    np.testing.assert_array_equal(retry[0][:, :s.I_SDOH], ints[:, :s.I_SDOH])  # same demographics
    np.testing.assert_array_equal(retry[1][:, s.F_BIRTH], floats[:, s.F_BIRTH])
    assert np.all(retry[1][:, s.F_DEATH_AGE] != floats[:, s.F_DEATH_AGE])  # new life


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=30, unique=True))
def test_any_index_set_matches_single_draws(indices: list[int]) -> None:
    tables = s.population_tables("Massachusetts", REF)
    ints, floats = s.draw(tables, SEED, np.array(indices))
    for row, i in enumerate(indices):
        one_i, one_f = s.draw(tables, SEED, np.array([i]))
        np.testing.assert_array_equal(one_i[0], ints[row])
        np.testing.assert_array_equal(one_f[0], floats[row])


@pytest.mark.parametrize("attempt", [0, 2])
def test_python_twin_gives_identical_arrays(ma: s.PopulationTables, attempt: int) -> None:
    idx = np.array([0, 1, 7, 123, 99_999, 2**40 + 5])
    _same(s.draw(ma, SEED, idx, attempt, jit=True), s.draw(ma, SEED, idx, attempt, jit=False))


# ------------------------------------------------------------------------------ natural death

SURVIVAL = life_table_arrays()[0]
TABLE = load_life_table()
u_st = st.floats(0.0, 1.0, exclude_max=True)
to_st = st.floats(0.0, 100.99)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1), u_st, u_st, to_st)
@example(0, 0.0, 0.999999, 0.0)
@example(1, 0.5, 0.5, 100.5)
@example(0, 0.9999999999999998, 0.0, 86.0)
def test_death_age_properties(sex: int, u1: float, u2: float, survived_to: float) -> None:
    a1 = s.death_age(SURVIVAL, sex, u1, survived_to)
    a2 = s.death_age(SURVIVAL, sex, u2, survived_to)
    assert survived_to <= a1 < 101.0
    if u1 <= u2:
        assert a1 <= a2
    else:
        assert a1 >= a2
    assert a1 == TABLE.death_age_quantile("MF"[sex], u1, survived_to)


def test_death_age_near_the_table_end() -> None:
    # Someone just short of 101 at the reference date must not be given a death in the past.
    survived_to = float(np.nextafter(101.0, 0.0))
    for sex in (0, 1):
        assert s.death_age(SURVIVAL, sex, 0.5, survived_to) >= survived_to


def test_unconditioned_life_expectancy_is_plausible(ma: s.PopulationTables) -> None:
    # US period life expectancy at birth is about 75.8 (M) / 81.1 (F) (SSA 2023 table used in
    # tests/test_life_table.py); a mixed-sex sample must land between.
    assert 75.0 <= s.life_expectancy_of_sampler(ma, n=100_000) <= 81.0


def test_survived_only_conditions_retries_on_being_alive(ma: s.PopulationTables) -> None:
    idx = np.arange(3000)
    _, f0 = s.draw(ma, SEED, idx, attempt=0)
    exact = (REF - f0[:, s.F_BIRTH]) / (365.2425 * tu.DAY)
    _, f1 = s.draw(ma, SEED, idx, attempt=1, survived_only=True)
    assert np.all(f1[:, s.F_DEATH_AGE] >= exact)
    _, free = s.draw(ma, SEED, idx, attempt=1, survived_only=False)
    assert np.any(free[:, s.F_DEATH_AGE] < exact)  # the flag is what keeps them alive


def test_the_oldest_are_made_85_to_89_after_more_than_ten_deaths(ma: s.PopulationTables) -> None:
    """Synthea's rule (engine-behaviour.md §2.1): module deaths can kill a person over 90 in
    every attempt, so from attempt 11 on such a person is drawn again at 85 to 89; everything
    but the age and the life stays."""
    idx = np.arange(20_000)
    ints, floats = s.draw(ma, SEED, idx)
    old = idx[_ages(floats, REF) > s.OLD_AGE_ABOVE]
    young = idx[_ages(floats, REF) <= s.OLD_AGE_ABOVE][:200]
    assert len(old) >= 5
    same_i, same_f = s.draw(ma, SEED, old, attempt=s.OLD_AGE_ATTEMPTS)
    assert np.all(_ages(same_f, REF) > s.OLD_AGE_ABOVE)
    late_i, late_f = s.draw(ma, SEED, old, attempt=s.OLD_AGE_ATTEMPTS + 1)
    ages = _ages(late_f, REF)
    assert np.all((ages >= 85) & (ages <= 89)) and len(set(ages)) > 1
    assert np.array_equal(late_i[:, s.I_AGE], ages)
    exact = (REF - late_f[:, s.F_BIRTH]) / (365.2425 * tu.DAY)
    assert np.all(late_f[:, s.F_DEATH_AGE] >= exact)  # alive at the reference date, as retries are
    for column in (s.I_SEX, s.I_RACE, s.I_FIRST, s.I_LAST, s.I_CITY):
        assert np.array_equal(late_i[:, column], ints[old, column])
    _, young_f = s.draw(ma, SEED, young, attempt=s.OLD_AGE_ATTEMPTS + 1)
    assert np.array_equal(young_f[:, s.F_BIRTH], floats[young, s.F_BIRTH])
    above = s.population_tables("Massachusetts", REF, min_age=91)
    _, kept = s.draw(above, SEED, np.arange(50), attempt=s.OLD_AGE_ATTEMPTS + 1)
    assert np.all(_ages(kept, REF) >= 91)  # an age option above 85 keeps its ages


# ------------------------------------------------------------------------------------ options


def test_gender_option() -> None:
    tables = s.population_tables("Massachusetts", REF, gender="F")
    ints, _ = s.draw(tables, SEED, np.arange(2000))
    assert np.all(ints[:, s.I_SEX] == 1)
    ints, _ = s.draw(s.population_tables("Massachusetts", REF, gender="M"), SEED, np.arange(2000))
    assert np.all(ints[:, s.I_SEX] == 0)


@pytest.mark.parametrize("reference", [REF, LEAP_REF])
def test_age_option(reference: int) -> None:
    tables = s.population_tables("Massachusetts", reference, min_age=30, max_age=40)
    ints, floats = s.draw(tables, SEED, np.arange(3000))
    ages = _ages(floats, reference)
    assert ages.min() >= 30 and ages.max() <= 40
    assert set(ages.tolist()) == set(range(30, 41))
    np.testing.assert_array_equal(ages, ints[:, s.I_AGE])
    assert np.all(floats[:, s.F_BIRTH] < reference)


def test_city_option() -> None:
    pop = Population(PopulationOptions(seed=SEED, reference_time=REF, state="Texas", city="Houston"))
    houston = {z["zip_code"]: (float(z["lat"]), float(z["long"]))
               for z in zipcodes.filter_by(state="TX") if z["city"].lower() == "houston"}
    assert houston
    ints, floats = pop.draw(np.arange(1500))
    seen = set()
    for i in range(1500):
        a = pop.person(i, 0, ints[i], floats[i]).attributes
        assert a["city"] == "Houston" and a["state"] == "Texas"
        lat, lon = houston[a["zip"]]
        assert abs(a["lat"] - lat) <= 0.02 and abs(a["lon"] - lon) <= 0.02
        seen.add(a["zip"])
    assert len(seen) > 20  # people spread over the city's ZIP codes


# --------------------------------------------------------------------------- population shape


def test_massachusetts_population_matches_its_profile(ma: s.PopulationTables) -> None:
    n = 20_000
    profile = state_profile("MA")
    ints, floats = s.draw(ma, SEED, np.arange(n))
    ages = _ages(floats, REF)
    total = sum(profile.age_male) + sum(profile.age_female)
    for (lo, hi), m, f in zip(profile.age_bands, profile.age_male, profile.age_female, strict=True):
        expected = (m + f) / total
        if expected >= 0.03:
            got = np.mean((ages >= lo) & (ages <= hi))
            assert abs(got - expected) <= 0.03 * expected, ((lo, hi), got, expected)
    female = sum(profile.age_female) / total
    assert abs(ints[:, s.I_SEX].mean() - female) <= 0.01 * female

    def within_3sd(got: float, p: float) -> bool:
        return abs(got - p) <= 3 * math.sqrt(p * (1 - p) / n) + 1e-12

    race_total = sum(profile.race.values())
    for k, race in enumerate(s.RACES):
        p = profile.race[race] / race_total
        assert within_3sd(float(np.mean(ints[:, s.I_RACE] == k)), p), race
    assert within_3sd(float(ints[:, s.I_HISPANIC].mean()), profile.hispanic)
