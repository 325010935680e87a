"""CDC 2000 growth charts (LMS method): measurement <-> percentile by sex and age in months.

Data: ``simulator/data/cdc_growth_lms.csv`` (source in its header). The LMS method (Cole 1990)
describes the distribution at each age by a Box-Cox power L, median M and coefficient of
variation S: a z-score z maps to X = M (1 + L S z)^(1/L), or M exp(S z) when L = 0. Between
tabulated ages L, M and S are interpolated linearly; outside the tabulated range the end
values are used (ages are clamped), so callers never get NaN for an out-of-range age.

``chart_value`` (numba) repeats ``GrowthCharts.value`` for jitted population code, taking a
z-score instead of a percentile because the normal quantile is not available in nopython mode.
"""

from __future__ import annotations

import bisect
import functools
import math
from pathlib import Path
from statistics import NormalDist

import numba
import numpy as np

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "cdc_growth_lms.csv"
CHARTS = ("length_infant", "weight_infant", "head_infant", "stature", "weight", "bmi")
SEX_INDEX = {"M": 0, "F": 1}
# The power form is evaluated through log1p/expm1, which stay accurate as L -> 0; only an L this
# small (where 1/L could overflow) switches to the exact L = 0 limit, the log form.
_L_EPS = 1e-12
_NORMAL = NormalDist()


def lms_value(L: float, M: float, S: float, z: float) -> float:
    """Measurement at z-score ``z``."""
    if abs(L) < _L_EPS:
        return M * math.exp(S * z)
    lsz = L * S * z
    if lsz <= -1.0:
        # Beyond the support of the Box-Cox transform: the limit is 0 (L > 0) or +inf (L < 0).
        return 0.0 if L > 0.0 else math.inf
    return M * math.exp(math.log1p(lsz) / L)


def lms_zscore(L: float, M: float, S: float, x: float) -> float:
    """z-score of measurement ``x`` (> 0); inverse of ``lms_value``."""
    if x <= 0.0:
        raise ValueError(f"measurement must be positive, got {x}")
    if abs(L) < _L_EPS:
        return math.log(x / M) / S
    return math.expm1(L * math.log(x / M)) / (L * S)


class GrowthCharts:
    """All six charts, held as plain lists for fast scalar lookups and as arrays for numba."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = DATA_FILE if path is None else Path(path)
        self._ages: dict[str, list[float]] = {}
        self._lms: dict[str, list[list[tuple[float, float, float]]]] = {}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._load()

    def _load(self) -> None:
        rows: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
        with self.path.open(encoding="utf-8") as fh:
            lines = [ln.strip() for ln in fh if ln.strip() and not ln.startswith("#")]
        if lines[0].split(",") != ["chart", "sex", "agemos", "L", "M", "S"]:
            raise ValueError(f"{self.path}: unexpected header {lines[0]!r}")
        for ln in lines[1:]:
            chart, sex, *nums = ln.split(",")
            age, L, M, S = (float(v) for v in nums)
            rows.setdefault((chart, sex), []).append((age, L, M, S))
        for chart in CHARTS:
            by_sex = [rows.get((chart, sex)) for sex in SEX_INDEX]
            if any(r is None for r in by_sex):
                raise ValueError(f"{self.path}: chart {chart} lacks a sex")
            ages = [r[0] for r in by_sex[0]]
            if [r[0] for r in by_sex[1]] != ages:
                raise ValueError(f"{self.path}: chart {chart} has different ages by sex")
            if any(a >= b for a, b in zip(ages, ages[1:], strict=False)):
                raise ValueError(f"{self.path}: chart {chart} ages not strictly increasing")
            self._ages[chart] = ages
            self._lms[chart] = [[r[1:] for r in sex_rows] for sex_rows in by_sex]
            lms = np.array([[r[1:] for r in sex_rows] for sex_rows in by_sex], dtype=np.float64)
            age_arr = np.array(ages, dtype=np.float64)
            age_arr.setflags(write=False)
            lms.setflags(write=False)
            self._arrays[chart] = (age_arr, lms)
        unknown = {chart for chart, _ in rows} - set(CHARTS)
        if unknown:
            raise ValueError(f"{self.path}: unknown charts {sorted(unknown)}")

    def lms(self, chart: str, sex: str, age_months: float) -> tuple[float, float, float]:
        """L, M, S at ``age_months``, linearly interpolated; clamped to the tabulated range."""
        ages = self._chart_ages(chart)
        table = self._lms[chart][_sex_index(sex)]
        if age_months <= ages[0]:
            return table[0]
        if age_months >= ages[-1]:
            return table[-1]
        i = bisect.bisect_right(ages, age_months) - 1
        w = (age_months - ages[i]) / (ages[i + 1] - ages[i])
        lo, hi = table[i], table[i + 1]
        return (lo[0] + w * (hi[0] - lo[0]), lo[1] + w * (hi[1] - lo[1]),
                lo[2] + w * (hi[2] - lo[2]))

    def value(self, chart: str, sex: str, age_months: float, percentile: float) -> float:
        """Measurement at ``percentile`` (a probability in (0, 1)).

        With L < 0 the LMS curve has a finite upper support (1 + L S z > 0): e.g. BMI for girls at
        240 months ends near p = 0.9973, weight near p = 0.9996. Beyond it this returns +inf
        (and 0.0 beyond the lower support when L > 0); callers sampling percentiles should cap them.
        """
        if not 0.0 < percentile < 1.0:
            raise ValueError(f"percentile must be in (0, 1), got {percentile}")
        return lms_value(*self.lms(chart, sex, age_months), _NORMAL.inv_cdf(percentile))

    def percentile(self, chart: str, sex: str, age_months: float, value: float) -> float:
        """Percentile (probability in [0, 1]) of measurement ``value``."""
        return _NORMAL.cdf(lms_zscore(*self.lms(chart, sex, age_months), value))

    def arrays(self, chart: str) -> tuple[np.ndarray, np.ndarray]:
        """(ages float64[n], LMS float64[2, n, 3]) with sex index 0 = M, 1 = F; read-only."""
        self._chart_ages(chart)
        return self._arrays[chart]

    def age_range(self, chart: str) -> tuple[float, float]:
        ages = self._chart_ages(chart)
        return ages[0], ages[-1]

    def _chart_ages(self, chart: str) -> list[float]:
        try:
            return self._ages[chart]
        except KeyError:
            raise ValueError(f"unknown chart {chart!r}; expected one of {CHARTS}") from None


def _sex_index(sex: str) -> int:
    try:
        return SEX_INDEX[sex]
    except KeyError:
        raise ValueError(f"sex must be 'M' or 'F', got {sex!r}") from None


@functools.cache
def growth_charts() -> GrowthCharts:
    return GrowthCharts()


@numba.njit(cache=True)
def chart_value(ages: np.ndarray, lms: np.ndarray, sex_index: int, age_months: float,
                z: float) -> float:
    """``GrowthCharts.value`` for jitted code, from a z-score: arrays from ``arrays(chart)``."""
    n = ages.shape[0]
    table = lms[sex_index]
    if age_months <= ages[0]:
        L, M, S = table[0, 0], table[0, 1], table[0, 2]
    elif age_months >= ages[n - 1]:
        L, M, S = table[n - 1, 0], table[n - 1, 1], table[n - 1, 2]
    else:
        # bisect_right(ages, age_months) - 1: last i with ages[i] <= age_months.
        a, b = 0, n
        while a < b:
            mid = (a + b) // 2
            if age_months < ages[mid]:
                b = mid
            else:
                a = mid + 1
        i = a - 1
        w = (age_months - ages[i]) / (ages[i + 1] - ages[i])
        L = table[i, 0] + w * (table[i + 1, 0] - table[i, 0])
        M = table[i, 1] + w * (table[i + 1, 1] - table[i, 1])
        S = table[i, 2] + w * (table[i + 1, 2] - table[i, 2])
    if abs(L) < _L_EPS:
        return M * math.exp(S * z)
    lsz = L * S * z
    if lsz <= -1.0:
        return 0.0 if L > 0.0 else math.inf
    return M * math.exp(math.log1p(lsz) / L)
