"""Wall time of bulk population sampling: numba kernel vs its Python twin vs plain numpy.

    python bench/sampling.py [--people 100000] [--state Massachusetts] [--python-people 2000]

Three implementations of the same draws for one state's population:
1. `sampler.draw` — the jitted kernel (timed after a warm-up call, best of 3);
2. `sampler.draw(..., jit=False)` — the kernel's pure-Python twin (`draw_people.py_func`), timed
   on `--python-people` people and scaled linearly (it is per-person work, so the scaling is
   fair). Its loop is Python but the helpers it calls (`rng.uniform`, `pick`, `death_age`) are
   still compiled, so the same draw is also timed fully interpreted, in a subprocess with
   NUMBA_DISABLE_JIT=1;
3. `numpy_draw` below — the core draws vectorised over whole arrays: SplitMix64 over uint64
   arrays with the keys of `rng.person_key` / `rng.uniform`, `np.searchsorted` for every
   categorical pick, Box–Muller normals, the life-table inverse transform vectorised.
   Before timing, its columns are checked against the kernel's on the first 1 000 people.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from simulator.engine import timeutil as tu
from simulator.population import rng
from simulator.population import sampler as s
from simulator.population.names import LANGUAGE_LOCALE

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
INV53 = 1.0 / 9007199254740992.0
YEAR_MS = 365.2425 * 86_400_000.0


# ----------------------------------------------------------------- counter-based RNG in numpy


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser over a uint64 array (array arithmetic wraps modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(M2)
    return z ^ (z >> np.uint64(31))


def person_keys(seed: int, index: np.ndarray, stream: int, attempt: int) -> np.ndarray:
    """`rng.person_key` for a whole array of indices."""
    k = mix64(np.array([(seed + GOLDEN) & MASK], dtype=np.uint64))
    k = mix64(k ^ (index.astype(np.uint64) * np.uint64(GOLDEN) + np.uint64(1)))
    k = mix64(k ^ np.uint64((stream * M1 + 2) & MASK))
    return mix64(k ^ np.uint64((attempt * M2 + 3) & MASK))


def uniforms(keys: np.ndarray, draw: int) -> np.ndarray:
    """`rng.uniform(key, draw)` for a whole array of keys."""
    z = mix64(keys + np.uint64(((draw + 1) * GOLDEN) & MASK))
    return (z >> np.uint64(11)).astype(np.float64) * INV53


def normals(keys: np.ndarray, draw: int) -> np.ndarray:
    u1, u2 = uniforms(keys, draw), uniforms(keys, draw + 1)
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


def stratified(seed: int, index: np.ndarray, base: int) -> np.ndarray:
    """Rotated radical inverse of index + 1, digit by digit over the whole array."""
    shift = uniforms(person_keys(seed, np.zeros(1, dtype=np.int64), rng.STREAM_STRATA, base), 0)[0]
    i = index.astype(np.uint64) + np.uint64(1)
    b = np.uint64(base)
    result = np.zeros(index.shape[0])
    f = 1.0 / base
    while i.any():
        result += f * (i % b).astype(np.float64)
        i //= b
        f /= base
    v = result + shift
    return np.where(v >= 1.0, v - 1.0, v)


def pick(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.shape[0] - 1)


def pick_grouped(cdfs: np.ndarray, offsets: np.ndarray, group: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Pick within per-row sub-tables `cdfs[start:start+length]`, one searchsorted per table."""
    out = np.empty(u.shape[0], dtype=np.int64)
    for g in np.unique(group):
        rows = group == g
        start, length = offsets[g]
        out[rows] = pick(cdfs[start:start + length], u[rows])
    return out


def death_ages(survival: np.ndarray, sex: np.ndarray, u: np.ndarray, survived_to: np.ndarray) -> np.ndarray:
    """Life-table inverse transform (`sampler.death_age`) for whole arrays, one sex at a time."""
    n = survival.shape[1] - 1
    out = np.empty(u.shape[0])
    for sx in (0, 1):
        rows = sex == sx
        row = survival[sx]
        a0 = np.minimum(np.maximum(survived_to[rows], 0.0), n - 1e-9)
        k = a0.astype(np.int64)
        l0 = row[k] + (row[k + 1] - row[k]) * (a0 - k)
        target = l0 * (1.0 - u[rows])
        # first exact age j > k with l(j) <= target; survival is decreasing, so search on -l
        j = np.maximum(np.searchsorted(-row, -target, side="left"), k + 1)
        x = j - 1
        hi, lo = row[np.minimum(x, n)], row[np.minimum(x + 1, n)]
        frac = np.divide(hi - target, hi - lo, out=np.zeros_like(target), where=hi > lo)
        age = np.where(x >= n, n - 1e-9, np.maximum(x + frac, a0))
        out[rows] = np.where(l0 <= 0.0, a0, age)
    return out


# ------------------------------------------------------------------ the draws, vectorised


def numpy_draw(t: s.PopulationTables, seed: int, indices: np.ndarray, attempt: int = 0,
               survived_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's core columns for a whole array of people (others stay zero)."""
    n = indices.shape[0]
    ints = np.zeros((n, s.N_INT), dtype=np.int64)
    floats = np.zeros((n, s.N_FLOAT))
    demo = person_keys(seed, indices, rng.STREAM_DEMOGRAPHICS, 0)
    life = person_keys(seed, indices, rng.STREAM_LIFE, attempt)

    def u(k: int) -> np.ndarray:
        return uniforms(demo, k)

    age = pick(t.age_cdf, stratified(seed, indices, 2))
    if t.fixed_sex >= 0:
        sex = np.full(n, t.fixed_sex, dtype=np.int64)
    else:
        sex = (stratified(seed, indices, 3) < t.female_share[age]).astype(np.int64)
    race = pick(t.race_cdf, u(0))
    hisp = (u(1) < t.hispanic).astype(np.int64)
    group = np.where(hisp == 1, 6, race)
    language = np.empty(n, dtype=np.int64)
    u2 = u(2)
    for g in np.unique(group):
        rows = group == g
        language[rows] = pick(t.language_cdf[g], u2[rows])
    education = pick(t.education_cdf, u(3))
    income = pick(t.income_cdf, u(4))
    city = pick(t.city_cdf, u(5))
    zip_i = (u(6) * t.city_zip_count[city]).astype(np.int64)
    ints[:, s.I_SEX], ints[:, s.I_AGE], ints[:, s.I_RACE], ints[:, s.I_HISPANIC] = sex, age, race, hisp
    ints[:, s.I_LANGUAGE], ints[:, s.I_EDUCATION], ints[:, s.I_INCOME] = language, education, income
    ints[:, s.I_CITY], ints[:, s.I_ZIP] = city, zip_i

    # names: each (locale, list) is one table of the concatenated name cdfs
    offsets = t.name_offsets.reshape(-1, 2)
    loc = LANGUAGE_LOCALE[language]
    first_table = loc * 3 + sex
    last_table = loc * 3 + 2
    ints[:, s.I_STREET_NAME] = pick_grouped(t.name_cdfs, offsets, np.full(n, 2), u(8))
    ints[:, s.I_FIRST] = pick_grouped(t.name_cdfs, offsets, first_table, u(12))
    middle = pick_grouped(t.name_cdfs, offsets, first_table, u(14))
    ints[:, s.I_MIDDLE] = np.where(u(13) < s.MIDDLE_NAME_PROBABILITY, middle, -1)
    ints[:, s.I_LAST] = pick_grouped(t.name_cdfs, offsets, last_table, u(15))
    ints[:, s.I_MOTHER_FIRST] = pick_grouped(t.name_cdfs, offsets, loc * 3 + 1, u(16))
    ints[:, s.I_MOTHER_LAST] = pick_grouped(t.name_cdfs, offsets, last_table, u(17))
    ints[:, s.I_FATHER_FIRST] = pick_grouped(t.name_cdfs, offsets, loc * 3, u(18))
    ints[:, s.I_BIRTH_CITY] = pick(t.birth_city_cdf, u(19))
    ints[:, s.I_INCOME_DOLLARS] = t.income_low[income] + (
        u(45) * (t.income_high[income] - t.income_low[income] + 1)).astype(np.int64)

    birth = t.birth_start[age] + (u(40) * t.birth_span[age]).astype(np.int64)
    floats[:, s.F_BIRTH] = birth
    band = np.array(s.EDUCATION_BANDS)[education]
    floats[:, s.F_EDUCATION_LEVEL] = band[:, 0] + (band[:, 1] - band[:, 0]) * u(41)
    floats[:, s.F_OCCUPATION] = u(42)
    z = t.city_zip_start[city] + zip_i
    floats[:, s.F_LAT] = t.zip_lat[z] + (u(43) - 0.5) * 0.02
    floats[:, s.F_LON] = t.zip_lon[z] + (u(44) - 0.5) * 0.02
    exact_age = (t.reference_time - birth) / YEAR_MS
    floor_age = exact_age if (attempt > 0 and survived_only) else np.zeros(n)
    floats[:, s.F_DEATH_AGE] = death_ages(t.natural_survival, sex, uniforms(life, 0), floor_age)
    z_height = normals(life, 1)
    floats[:, s.F_Z_HEIGHT] = z_height
    floats[:, s.F_Z_WEIGHT_INFANT] = 0.6 * z_height + 0.8 * normals(life, 3)
    floats[:, s.F_Z_HEAD] = 0.5 * z_height + 0.866 * normals(life, 5)
    floats[:, s.F_BMI_START] = normals(life, 7)
    floats[:, s.F_BMI_CHILD] = normals(life, 9)
    floats[:, s.F_BMI_ADULT] = normals(life, 11)
    return ints, floats


INT_CHECKED = (s.I_SEX, s.I_AGE, s.I_RACE, s.I_HISPANIC, s.I_LANGUAGE, s.I_EDUCATION, s.I_INCOME, s.I_CITY,
               s.I_ZIP, s.I_STREET_NAME, s.I_FIRST, s.I_MIDDLE, s.I_LAST, s.I_MOTHER_FIRST,
               s.I_MOTHER_LAST, s.I_FATHER_FIRST, s.I_BIRTH_CITY, s.I_INCOME_DOLLARS)
FLOAT_CHECKED = tuple(range(s.F_BIRTH, s.F_BMI_ADULT + 1))


def check_against_kernel(tables: s.PopulationTables, seed: int, n: int = 1000) -> None:
    idx = np.arange(n, dtype=np.int64)
    ki, kf = s.draw(tables, seed, idx)
    ni, nf = numpy_draw(tables, seed, idx)
    for col in INT_CHECKED:
        if not np.array_equal(ki[:, col], ni[:, col]):
            raise SystemExit(f"numpy and kernel differ in int column {col}")
    # libm and numpy's SIMD log/cos may round differently in the last bit
    if not np.allclose(kf[:, FLOAT_CHECKED], nf[:, FLOAT_CHECKED], rtol=1e-12, atol=1e-12):
        raise SystemExit("numpy and kernel differ in a float column")


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def interpreted_seconds(args: argparse.Namespace, n: int) -> float:
    """Time `n` people with numba switched off entirely (every helper runs as Python)."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, "--state", args.state, "--seed", str(args.seed),
         "--interpreted-only", str(n)],
        env=env, check=True, capture_output=True, text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--interpreted-only", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--python-people", type=int, default=2000,
                        help="people drawn by the pure-Python twin (its time is scaled up)")
    parser.add_argument("--state", default="Massachusetts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    reference = tu.ymd_ms(2025, 1, 1)
    tables = s.population_tables(args.state, reference)
    if args.interpreted_only:
        # child process of interpreted_seconds(): numba is disabled here, so this is pure Python
        few = np.arange(args.interpreted_only, dtype=np.int64)
        print(best_of(lambda: s.draw(tables, args.seed, few), 1))
        return 0
    idx = np.arange(args.people, dtype=np.int64)
    s.draw(tables, args.seed, idx[:100])  # warm-up: load the compiled kernel from numba's cache
    check_against_kernel(tables, args.seed, min(1000, args.people))
    n_checked = min(1000, args.people)
    print(f"numpy version matches the kernel on the first {n_checked} people "
          f"({len(INT_CHECKED)} int and {len(FLOAT_CHECKED)} float columns of {s.N_INT}+{s.N_FLOAT})")

    numba_s = best_of(lambda: s.draw(tables, args.seed, idx), args.repeats)
    numpy_draw(tables, args.seed, idx[:100])
    numpy_s = best_of(lambda: numpy_draw(tables, args.seed, idx), args.repeats)
    few = idx[:min(args.python_people, args.people)]
    python_measured = best_of(lambda: s.draw(tables, args.seed, few, jit=False), 2)
    python_s = python_measured * args.people / few.shape[0]
    interpreted_measured = interpreted_seconds(args, few.shape[0])
    interpreted_s = interpreted_measured * args.people / few.shape[0]

    print(f"\n{args.people:,} people of {tables.state}; best of {args.repeats} for numba and numpy")
    print("speed-up is against the jit=False twin; Python rows are scaled from "
          f"{few.shape[0]:,} people to {args.people:,}")
    width = 47
    print(f"{'method':<{width}}{'seconds':>10}{'people/s':>14}{'vs Python':>11}")
    rows = [
        ("numba kernel (draw)", numba_s),
        ("numpy vectorised (core columns)", numpy_s),
        ("Python twin, jit=False (scaled)", python_s),
        ("fully interpreted, NUMBA_DISABLE_JIT (scaled)", interpreted_s),
    ]
    for name, secs in rows:
        print(f"{name:<{width}}{secs:>10.3f}{args.people / secs:>14,.0f}{python_s / secs:>10.1f}x")
    print(f"\nnumba/numpy time ratio: {numba_s / numpy_s:.2f} "
          f"(numpy computes {len(INT_CHECKED)}+{len(FLOAT_CHECKED)} of the kernel's "
          f"{s.N_INT}+{s.N_FLOAT} columns)")
    print(f"measured on {few.shape[0]:,} people: Python twin {python_measured:.3f} s, "
          f"fully interpreted {interpreted_measured:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
