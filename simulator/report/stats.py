"""Shares and rates with their 95% intervals, and the bands a simulated figure is judged by."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z = 1.96  # two-sided 95%


@dataclass(frozen=True)
class Result:
    """A simulated figure: its value, 95% interval and sample size (people for a share,
    events for a rate or a life expectancy). NaN values when there was nobody to measure."""

    value: float
    low: float
    high: float
    n: int

    @property
    def measured(self) -> bool:
        return not math.isnan(self.value)


NOT_MEASURED = Result(math.nan, math.nan, math.nan, 0)


def proportion(hits: int, n: int) -> Result:
    """A share with its Wilson 95% interval (good at small n and near 0 or 1, where the
    normal approximation gives intervals below zero)."""
    if n == 0:
        return NOT_MEASURED
    p = hits / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return Result(p, centre - half, centre + half, n)


def poisson_rate(events: int, exposure: float, per: float = 1.0) -> Result:
    """``events / exposure × per`` with a normal-approximation Poisson 95% interval."""
    if exposure <= 0:
        return NOT_MEASURED
    half = Z * math.sqrt(events)
    return Result(per * events / exposure, per * max(events - half, 0) / exposure,
                  per * (events + half) / exposure, events)


def near(value: float, reference: float, tolerance: float) -> bool:
    """Within ``tolerance`` (relative) of the reference."""
    return abs(value - reference) <= tolerance * abs(reference)


def share_in_band(result: Result, reference: float, tolerance: float) -> bool:
    """A simulated share agrees with a published one when it is within ``tolerance`` of it
    (relative), or when the sample is too small to tell: the reference lies within the
    share's 95% interval."""
    return near(result.value, reference, tolerance) or result.low <= reference <= result.high
