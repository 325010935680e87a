"""The keyed random streams of simulator.engine.randomness, for numba code: draw n of a
stream is mix64(key + n · GOLDEN) with key = mix64(person key XOR mix64(stream id))
(engine-behaviour.md §9.1). tests/test_compiled_units.py checks both give the same numbers."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulator.population.rng import mix64  # the same SplitMix64 finaliser

__all__ = ["GOLDEN", "bits", "mix64", "stream_key", "uniform"]

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's increment
_S11 = np.uint64(11)
_UNIT = 1.1102230246251565e-16  # 2^-53
_TWO_PI = 2.0 * math.pi


@nb.njit(cache=True)
def stream_key(person_key: np.uint64, mixed_stream: np.uint64) -> np.uint64:
    """`mixed_stream` is mix64(stream id), computed once per program."""
    return mix64(np.uint64(person_key) ^ np.uint64(mixed_stream))


@nb.njit(cache=True)
def bits(key: np.uint64, n: int) -> np.uint64:
    """Draw n (n ≥ 1) of the stream with this key."""
    return mix64(np.uint64(key) + np.uint64(n) * GOLDEN)


@nb.njit(cache=True)
def uniform(key: np.uint64, n: int) -> float:
    return float(bits(key, n) >> _S11) * _UNIT
