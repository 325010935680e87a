"""Per-person random streams and the GMF distributions (module-format.md §5.2, §10).

Person `i` of a run draws only from its own generator, seeded from (run seed, i), so output
does not depend on how people are spread over workers.
"""

from __future__ import annotations

import hashlib
import math
import random

from simulator.gmf.schema import Distribution


def person_seed(run_seed: int, index: int, attempt: int = 0) -> int:
    digest = hashlib.blake2b(f"{run_seed}:{index}:{attempt}".encode(), digest_size=16).digest()
    return int.from_bytes(digest, "little")


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


class PersonRandom(random.Random):
    """Python's Mersenne Twister, with the few helpers the engine needs."""

    def uuid(self) -> str:
        """A random version-4 UUID string (what uuid.UUID(int=..., version=4) gives, faster)."""
        n = (self.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def int_between(self, low: int, high: int) -> int:
        """Uniform integer in [low, high] inclusive."""
        return low + int(self.random() * (high - low + 1))


def round_half_up(value: float, decimals: int = 0) -> float:
    factor = 10.0**decimals
    return math.floor(value * factor + 0.5) / factor


def sample_range(rng: random.Random, low: float, high: float, decimals: int | None = None) -> float:
    value = low + (high - low) * rng.random()
    if decimals is not None:
        value = round_half_up(value, decimals)
    return value


def sample_distribution(dist: Distribution, rng: random.Random) -> float:
    p = dist.parameters
    kind = dist.kind
    if kind == "EXACT":
        value = p["value"]
    elif kind == "UNIFORM":
        value = p["low"] + (p["high"] - p["low"]) * rng.random()
    elif kind == "GAUSSIAN":
        value = p["mean"] + p["standardDeviation"] * rng.gauss(0.0, 1.0)
        if "min" in p and value < p["min"]:
            value = p["min"]
        if "max" in p and value > p["max"]:
            value = p["max"]
    elif kind == "EXPONENTIAL":
        # Synthea's exponential is shifted by +1 (expected value mean + 1): kept for parity.
        value = 1.0 - p["mean"] * math.log(1.0 - rng.random())
    else:  # TRIANGULAR
        lo, mode, hi = p["min"], p["mode"], p["max"]
        u = rng.random()
        f = (mode - lo) / (hi - lo) if hi != lo else 0.0
        if u < f:
            value = lo + math.sqrt(u * (hi - lo) * (mode - lo))
        else:
            value = hi - math.sqrt((1.0 - u) * (hi - lo) * (hi - mode))
    if dist.round:
        value = float(math.floor(value + 0.5))
    return float(value)
