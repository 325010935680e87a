"""The keyed random streams of simulator.engine.randomness, for numba code: draw n of a
stream is mix64(key + n · GOLDEN) with key = mix64(person key XOR mix64(stream id))
(engine-behaviour.md §9.1). tests/test_compiled_rng.py checks both give the same numbers."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_UNIT = 1.1102230246251565e-16  # 2^-53
_TWO_PI = 2.0 * math.pi


@nb.njit(cache=True)
def mix64(z: np.uint64) -> np.uint64:
    z = np.uint64(z)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


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
