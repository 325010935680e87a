"""US period life table by sex, and inverse-transform sampling of a natural age at death.

The table (``simulator/data/us_life_table.csv``, source in its header) gives q(x) for whole
ages 0..99 plus a closing "100 and over" row with q = 1, so everybody dies before exact age 101.
Survival l(x)/l(0) is taken as linear within each year of age, i.e. deaths are spread
uniformly over the year, which is the usual life-table convention (a(x) = 0.5) and makes the
inverse transform closed-form.

The Python method ``LifeTable.death_age_quantile`` and the numba kernel ``sample_death_ages``
implement the same arithmetic in the same order, so they return bit-identical ages.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "us_life_table.csv"
N_AGES = 101  # whole ages 0..100, the last one open-ended ("100 and over")
MAX_DEATH_AGE = 101.0
# Largest float below 101: the open interval's right end, so a sample is never 101 itself.
_LAST_AGE = float(np.nextafter(MAX_DEATH_AGE, 0.0))
SEXES = ("M", "F")
# Sex ratio at birth used to pool the two sexes' life expectancies (105 boys : 100 girls).
MALE_BIRTHS_PER_100_FEMALE = 105.0


@dataclass(frozen=True)
class LifeTable:
    qx: dict[str, np.ndarray]  # "M"/"F" -> float64[101]
    survival: dict[str, np.ndarray]  # l(x)/l(0) at exact ages 0..101 (l(101) = 0)
    source: str

    def life_expectancy(self, sex: str | None = None, at_age: int = 0) -> float:
        """Expected remaining years at exact whole age ``at_age`` (e0 by default).

        ``sex=None`` pools the sexes, weighting each sex's value by births (105 M : 100 F);
        that is a birth-weighted figure, meaningful for ``at_age=0``.
        """
        if sex is None:
            w = MALE_BIRTHS_PER_100_FEMALE
            male = self.life_expectancy("M", at_age)
            female = self.life_expectancy("F", at_age)
            return (w * male + 100.0 * female) / (w + 100.0)
        if not 0 <= at_age < N_AGES:
            raise ValueError(f"at_age must be in 0..{N_AGES - 1}, got {at_age}")
        s = self.survival[_check_sex(sex)][at_age:]
        # Linear l(x) within a year: person-years lived in year x = (l(x) + l(x+1)) / 2.
        return float(np.sum(s[:-1] + s[1:]) / 2.0 / s[0])

    def death_age_quantile(self, sex: str, u: float, survived_to: float = 0.0) -> float:
        """Exact age at death (years) at quantile ``u`` of the distribution conditional on
        being alive at age ``survived_to``.

        Non-decreasing in ``u``; always in [survived_to, 101).
        """
        if not 0.0 <= u < 1.0:
            raise ValueError(f"u must be in [0, 1), got {u}")
        if not 0.0 <= survived_to < MAX_DEATH_AGE:
            raise ValueError(f"survived_to must be in [0, 101), got {survived_to}")
        surv = self._survival_lists[_check_sex(sex)]
        lo = int(survived_to)
        alive = surv[lo] + (survived_to - lo) * (surv[lo + 1] - surv[lo])
        target = alive * (1.0 - u)
        # First exact age j > lo with l(j) <= target; survival is non-increasing, so bisect on
        # its negation. The year of death is then [j - 1, j).
        j = bisect.bisect_left(self._neg_survival_lists[sex], -target, lo + 1, N_AGES + 1)
        return _interpolate_death(surv[j - 1], surv[j], j, target, survived_to)

    @functools.cached_property
    def _survival_lists(self) -> dict[str, list[float]]:
        return {sex: self.survival[sex].tolist() for sex in SEXES}

    @functools.cached_property
    def _neg_survival_lists(self) -> dict[str, list[float]]:
        return {sex: (-self.survival[sex]).tolist() for sex in SEXES}


def _interpolate_death(s_prev: float, s_next: float, j: int, target: float,
                       survived_to: float) -> float:
    drop = s_prev - s_next
    age = float(j - 1) if drop <= 0.0 else (j - 1) + (s_prev - target) / drop
    # Rounding can put the solution a hair outside [survived_to, 101); the bounds are the spec.
    return min(max(age, survived_to), _LAST_AGE)


def _check_sex(sex: str) -> str:
    if sex not in SEXES:
        raise ValueError(f"sex must be 'M' or 'F', got {sex!r}")
    return sex


def _survival_from_qx(qx: np.ndarray) -> np.ndarray:
    surv = np.empty(N_AGES + 1)
    surv[0] = 1.0
    surv[1:] = np.cumprod(1.0 - qx)
    surv[N_AGES] = 0.0  # q = 1 in the open interval; make it exactly zero whatever the rounding
    return surv


def _load_rows(path: Path) -> np.ndarray:
    with path.open(encoding="utf-8") as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.startswith("#")]
    header = lines[0].strip().split(",")
    if header != ["age", "qx_male", "qx_female"]:
        raise ValueError(f"{path}: unexpected header {header}")
    return np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]], dtype=np.float64)


def _read_source(path: Path) -> str:
    comments = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            comments.append(line[1:].strip())
    return " ".join(comments)


@functools.cache
def load_life_table(path: Path | None = None) -> LifeTable:
    path = DATA_FILE if path is None else Path(path)
    data = _load_rows(path)
    ages, q_male, q_female = data[:, 0], data[:, 1], data[:, 2]
    if not np.array_equal(ages, np.arange(N_AGES)):
        raise ValueError(f"{path}: expected ages 0..{N_AGES - 1} in order")
    for q in (q_male, q_female):
        if np.any(q[:-1] < 0.0) or np.any(q[:-1] >= 1.0) or q[-1] != 1.0:
            raise ValueError(f"{path}: qx must be in [0, 1) and 1.0 at age {N_AGES - 1}")
    qx = {"M": q_male.copy(), "F": q_female.copy()}
    survival = {sex: _survival_from_qx(q) for sex, q in qx.items()}
    for arr in (*qx.values(), *survival.values()):
        arr.setflags(write=False)  # shared through the cache
    return LifeTable(qx=qx, survival=survival, source=_read_source(path))


def life_table_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Plain arrays of the default table for jitted code: ``(survival, qx)`` with survival of
    shape (2, 102) (l(x)/l(0) at exact ages 0..101) and qx of shape (2, 101); row 0 is male,
    row 1 female (the ``sex_index`` convention of ``sample_death_ages``)."""
    return _arrays()


@functools.cache
def _arrays() -> tuple[np.ndarray, np.ndarray]:
    table = load_life_table()
    survival = np.stack([table.survival[s] for s in SEXES])
    qx = np.stack([table.qx[s] for s in SEXES])
    survival.setflags(write=False)
    qx.setflags(write=False)
    return survival, qx


@functools.cache
def natural_death_table(deleted: tuple[str, ...] = ()) -> LifeTable:
    """The life table natural death draws from: the whole table, or with the deaths of the
    project's modules ``deleted`` left out (simulator.population.module_mortality)."""
    table = load_life_table()
    if not deleted:
        return table
    from simulator.population.module_mortality import load_module_mortality

    mortality = load_module_mortality()
    all_causes = np.stack([table.qx[s] for s in SEXES])
    natural = mortality.natural_qx(all_causes, deleted)
    qx = {sex: natural[i] for i, sex in enumerate(SEXES)}
    survival = {sex: _survival_from_qx(q) for sex, q in qx.items()}
    for arr in (*qx.values(), *survival.values()):
        arr.setflags(write=False)
    return LifeTable(qx=qx, survival=survival, source=(
        f"{table.source} Less the deaths of the modules {', '.join(deleted)}: "
        f"{mortality.source}"))


def natural_survival(deleted: tuple[str, ...] = ()) -> np.ndarray:
    """``natural_death_table(deleted)``'s survival as a (2, 102) array (row 0 male) for jitted
    code."""
    table = natural_death_table(deleted)
    out = np.ascontiguousarray(np.stack([table.survival[s] for s in SEXES]))
    out.setflags(write=False)
    return out


@numba.njit(cache=True)
def death_age(survival: np.ndarray, sex: int, u: float, survived_to: float) -> float:
    """``LifeTable.death_age_quantile`` for jitted code: the exact age at death of row ``sex``
    (0 = M, 1 = F) of ``survival`` (from ``life_table_arrays``) given survival to ``survived_to``
    (clamped into the table, so ages past its end are allowed)."""
    surv = survival[sex]
    last = surv.shape[0] - 1
    s = min(max(survived_to, 0.0), _LAST_AGE)
    lo = int(s)
    alive = surv[lo] + (s - lo) * (surv[lo + 1] - surv[lo])
    target = alive * (1.0 - u)
    # Same search as bisect_left on -survival over [lo + 1, last + 1): first j with l(j) <= target.
    a = lo + 1
    b = last + 1
    while a < b:
        mid = (a + b) // 2
        if -surv[mid] < -target:
            a = mid + 1
        else:
            b = mid
    j = a
    s_prev = surv[j - 1]
    drop = s_prev - surv[j]
    age = float(j - 1) if drop <= 0.0 else (j - 1) + (s_prev - target) / drop
    return min(max(age, s), _LAST_AGE)


@numba.njit(cache=True)
def sample_death_ages(survival: np.ndarray, sex_index: np.ndarray, u: np.ndarray,
                      survived_to: np.ndarray) -> np.ndarray:
    """Vectorised ``LifeTable.death_age_quantile``: ages at death for each (sex, u, survived_to).

    ``survival`` is the (2, 102) array from ``life_table_arrays``; ``sex_index`` int8, 0 = M,
    1 = F. Inputs are assumed valid (u in [0, 1), survived_to in [0, 101)).
    """
    n = u.shape[0]
    out = np.empty(n, dtype=np.float64)
    for k in range(n):
        out[k] = death_age(survival, sex_index[k], u[k], survived_to[k])
    return out
