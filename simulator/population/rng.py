"""Counter-based random numbers for bulk sampling, usable inside numba kernels.

Bulk sampling draws a whole shard at once, yet person `i` must get the same numbers whatever
shard it lands in. So every number is a pure function of (run seed, person index, stream,
draw number): a SplitMix64 finaliser over a key built from them. No generator state is carried
from one person to the next, which also makes the kernels trivially parallel.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53

# Streams: which purpose a number serves, so that adding a draw to one purpose never shifts
# another's numbers.
STREAM_DEMOGRAPHICS = 1
STREAM_LIFE = 2
STREAM_STRATA = 3


@numba.njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(cache=True)
def person_key(seed: np.uint64, index: np.uint64, stream: np.uint64, attempt: np.uint64) -> np.uint64:
    """Key of one person's stream: every draw of that stream hashes (key, draw number)."""
    k = mix64(seed + _GOLDEN)
    k = mix64(k ^ (index * _GOLDEN + np.uint64(1)))
    k = mix64(k ^ (stream * _M1 + np.uint64(2)))
    return mix64(k ^ (attempt * _M2 + np.uint64(3)))


@numba.njit(cache=True, inline="always")
def uniform(key: np.uint64, draw: int) -> float:
    """Uniform double in [0, 1) for draw number `draw` of a stream."""
    z = mix64(key + np.uint64(draw + 1) * _GOLDEN)
    return float(z >> _S11) * _INV53


@numba.njit(cache=True)
def normal(key: np.uint64, draw: int) -> float:
    """Standard normal from two uniforms (Box–Muller, cosine branch): uses draws `draw`, `draw+1`."""
    u1 = uniform(key, draw)
    u2 = uniform(key, draw + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@numba.njit(cache=True)
def radical_inverse(index: np.uint64, base: int) -> float:
    """Van der Corput radical inverse of `index` in `base`: a low-discrepancy sequence."""
    result = 0.0
    f = 1.0 / base
    i = index
    b = np.uint64(base)
    while i > np.uint64(0):
        result += f * float(i % b)
        i = i // b
        f /= base
    return result


@numba.njit(cache=True)
def stratified(seed: np.uint64, index: np.uint64, base: int) -> float:
    """A Halton coordinate, randomly rotated by the seed (Cranley–Patterson).

    Every prefix of people 0..n-1 then covers [0, 1) evenly (discrepancy ~ log n / n rather than
    ~ 1/sqrt n), so a population's age/sex pyramid matches the census figures closely even at
    small sizes, while each person's value still depends only on (seed, index).
    """
    shift = uniform(person_key(seed, np.uint64(0), np.uint64(STREAM_STRATA), np.uint64(base)), 0)
    v = radical_inverse(index + np.uint64(1), base) + shift
    return v - 1.0 if v >= 1.0 else v


@numba.njit(cache=True, inline="always")
def pick(cdf: np.ndarray, u: float) -> int:
    """Index i of the first cdf[i] > u (cdf ascending, last entry 1): inverse-transform draw."""
    lo, hi = 0, cdf.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


def cdf_of(weights: np.ndarray | list[float]) -> np.ndarray:
    """Cumulative distribution of non-negative weights (last entry exactly 1)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError("weights must be a non-empty vector of non-negative numbers with a positive sum")
    c = np.cumsum(w)
    # dividing by the last partial sum (not w.sum(), summed in another order) keeps the cdf
    # non-decreasing, ending exactly at 1, with zero-weight steps flat
    return c / c[-1]


def seed64(seed: int) -> np.uint64:
    return np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
