"""Per-person keyed random streams and the GMF distributions (module-format.md §5.2, §10).

Person `i` of a run draws only from streams keyed by (run seed, i, attempt), so output does
not depend on how people are spread over workers; each state and built-in has a stream of its
own, so a draw does not depend on the order of unrelated draws either.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from simulator.gmf.schema import Distribution


def person_seed(run_seed: int, index: int, attempt: int = 0) -> int:
    """The 64-bit key of one attempt at one person of a run: every stream of the person is
    derived from it."""
    digest = hashlib.blake2b(f"{run_seed}:{index}:{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def stream_id(name: str) -> int:
    """The 64-bit id of a named stream ("state:diabetes:Onset", "vitals:lipids", ...)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # splitmix64's increment


def mix64(z: int) -> int:
    """splitmix64's finaliser (Steele, Lea & Flood 2014): a bijection of 64-bit integers whose
    outputs pass BigCrush for consecutive inputs."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)
_TWO_PI = 2.0 * math.pi


class Stream:
    """One keyed random stream of one person: draw n is mix64(key + n · GOLDEN), a pure
    function of (person, stream, n). Every state of every module, and every built-in, draws
    from a stream of its own, so a draw never depends on how many draws other states made
    before it: the same life comes out of any engine that enters the same states in the same
    order (docs/engine-behaviour.md §9.1)."""

    __slots__ = ("key", "n")

    def __init__(self, person_key: int, stream: int) -> None:
        self.key = mix64((person_key ^ mix64(stream)) & MASK64)
        self.n = 0

    def bits64(self) -> int:
        self.n += 1
        return mix64((self.key + self.n * GOLDEN) & MASK64)

    def random(self) -> float:
        """Uniform in [0, 1), 53 bits."""
        return (self.bits64() >> 11) * 1.1102230246251565e-16

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        """Box–Muller from two uniforms (no cached second value, so every normal costs two
        draws whatever came before)."""
        u1 = self.random()
        u2 = self.random()
        return mu + sigma * math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(_TWO_PI * u2)

    def int_between(self, low: int, high: int) -> int:
        """Uniform integer in [low, high] inclusive."""
        return low + int(self.random() * (high - low + 1))

    def getrandbits(self, k: int) -> int:
        """k ≤ 64 random bits."""
        return self.bits64() >> (64 - k)

    def uuid(self) -> str:
        """A random version-4 UUID string (two draws)."""
        hi = self.bits64()
        return uuid_text(hi, self.bits64())


def uuid_text(hi: int, lo: int) -> str:
    """The version-4 UUID made of two 64-bit draws (taken as unsigned)."""
    n = ((((hi & MASK64) << 64) | (lo & MASK64)) & _UUID_CLEAR) | _UUID_SET
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DIGITS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])  # not the hyphens


def uuid_texts(hi: np.ndarray, lo: np.ndarray) -> list[str]:
    """uuid_text of many pairs at once (int64 or uint64 arrays), formatted by numpy."""
    n = len(hi)
    raw = np.empty((n, 16), dtype=np.uint8)
    raw[:, :8] = np.asarray(hi).view(np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, 8:] = np.asarray(lo).view(np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4, as _UUID_CLEAR / _UUID_SET
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # variant 10
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX_DIGITS[raw >> 4]
    digits[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    chars[:, _UUID_DIGITS] = digits
    text = chars.tobytes().decode("ascii")
    return [text[i:i + 36] for i in range(0, 36 * n, 36)]


def round_half_up(value: float, decimals: int = 0) -> float:
    factor = 10.0**decimals
    return math.floor(value * factor + 0.5) / factor


def sample_range(rng: Stream, low: float, high: float, decimals: int | None = None) -> float:
    value = low + (high - low) * rng.random()
    if decimals is not None:
        value = round_half_up(value, decimals)
    return value


def sample_distribution(dist: Distribution, rng: Stream) -> float:
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
