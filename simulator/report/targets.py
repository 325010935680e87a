"""The published targets of ``modules/targets.csv`` measured on a run, and life expectancy.

One implementation for ``bench/module_targets.py`` (which runs the project's modules and prints
the table) and ``simulate report`` (which draws it). A row of ``targets.csv`` is one measure
for one sex (``all``, ``M``, ``F``) and age group; its ``how`` column says how it is read from
the tables:

* ``condition:CODE|CODE`` — living people of the group with an active condition (no STOP) of
  one of the codes (a diagnosis in the record);
* ``observation:LOINC>=X`` / ``observation:LOINC=ANSWER|ANSWER`` — living people of the group
  whose latest observation of that LOINC code is at least X / is one of the answers, among
  those with such an observation (a measurement in the record);
* ``bp:S/D`` — living people of the group whose latest systolic blood pressure is at least S
  or latest diastolic at least D, or who take an antihypertensive for hypertension (an active
  medication of the engine's ANTIHYPERTENSIVES with that reason: the same drugs given for
  heart failure or kidney disease do not count), among those with a blood pressure reading:
  hypertension as a survey measures it, diagnosed or not;
* ``incidence:CODE|CODE`` — first diagnoses of one of the codes per 1,000 person-years of the
  group over the last 5 years (age and sex at diagnosis);
* ``life_expectancy`` — period life expectancy at birth of the row's sex over the last 10
  years: natural death at the rates of the table the run drew it from (the life table less
  the deaths of the modules it leaves out), module deaths (by their death certificates) at
  the rates measured on every simulated life. A person who dies before the reference date is
  simulated again conditioned on natural survival, so only the first lives measure natural
  death, and few of them reach 85: :func:`observed_life_expectancy` gives the e0 of the first
  lives alone, with its (wide) interval.

Bands: a row of all adults of both sexes (an overall measure) must be within ±15% of its
target; a row of one age band or one sex (a cell) within ±20%, or within its 95% interval
where the sample is too small for that; life expectancy within ±1 year.

The people are arrays (one row per life written, in the file's order) and every table is
read by DuckDB, so a measure is a few vector operations whatever the population.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from simulator.config import PROJECT_MODULES
from simulator.report.stats import NOT_MEASURED, Result, Z, proportion
from simulator.report.tables import Tables

TARGETS = PROJECT_MODULES / "targets.csv"
OVERALL_TOLERANCE = 0.15
CELL_TOLERANCE = 0.20
YEARS_TOLERANCE = 1.0  # life expectancy: absolute, in years
WINDOW_YEARS = 10  # life expectancy's period
INCIDENCE_YEARS = 5
BANDS = [0, 1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85]
HYPERTENSION = "59621000"  # SNOMED Essential hypertension: what "treated" means in bp:
DEATH_CERTIFICATION = "308646001"  # the encounter a death certificate is written in
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
YEAR = 365.25  # days: ages as the bench has always computed them
EPOCH = dt.date(1970, 1, 1)


def read_targets(path: Path = TARGETS) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _days(day: dt.date) -> int:
    return (day - EPOCH).days


class Lives:
    """Every life a run wrote (a row of ``patients``), as arrays in the file's order.

    ``patients`` is written in person-index order, the deceased attempts of an index first
    and its living attempt last, so the first row after a living row is an index's first
    life."""

    def __init__(self, tables: Tables) -> None:
        patients = tables.rel("patients")
        tables.db.execute(f"""
            CREATE TABLE lives AS
            SELECT rowid AS i, Id,
                   date_diff('day', DATE '1970-01-01', BIRTHDATE) AS birth,
                   CAST(date_diff('day', DATE '1970-01-01', DEATHDATE) AS DOUBLE) AS death,
                   GENDER AS sex,
                   coalesce(lag(DEATHDATE IS NULL) OVER (ORDER BY rowid), true) AS first
            FROM {patients} ORDER BY rowid""")
        columns = tables.db.execute(
            "SELECT birth, coalesce(death, 'NaN'::DOUBLE) AS death, sex, first "
            "FROM lives ORDER BY i").fetchnumpy()
        self.birth = np.asarray(columns["birth"], dtype=np.float64)
        self.death = np.asarray(columns["death"], dtype=np.float64)  # NaN: alive
        self.sex = np.asarray(columns["sex"], dtype=object)
        self.first = np.asarray(columns["first"], dtype=bool)
        self.alive = np.isnan(self.death)
        self.n = len(self.birth)

    def of_sex(self, sex: str) -> np.ndarray:
        return np.ones(self.n, dtype=bool) if sex == "all" else self.sex == sex

    def age(self, on_days: float | np.ndarray) -> np.ndarray:
        return (on_days - self.birth) / YEAR


def age_group(text: str) -> tuple[float, float]:
    if text == "all":
        return 0.0, math.inf
    if text.endswith("+"):
        return float(text[:-1]), math.inf
    low, high = text.split("-")
    return float(low), float(high) + 1


class MeasuredRun:
    """A run's tables with what measuring them needs: the reference date the run lived to,
    the modules natural death left out (``deleted``), and the cause-of-death codes of the
    run's modules with their module (``causes``; None when the modules are not at hand)."""

    def __init__(self, tables: Tables, reference: dt.date, deleted: tuple[str, ...] = (),
                 causes: dict[str, str] | None = None, natural_death: bool = True) -> None:
        self.tables = tables
        self.reference = reference
        self.ref = float(_days(reference))
        self.deleted = deleted
        self.causes = causes
        self.natural_death = natural_death
        self.lives = Lives(tables)
        self._cache: dict[tuple[str, ...], Any] = {}

    # ---------------------------------------------------------------- people found in tables

    def _cached(self, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _mask(self, query: str, params: list[Any]) -> np.ndarray:
        """The lives a query of ``lives.i`` names."""
        found = np.zeros(self.lives.n, dtype=bool)
        rows = self.tables.db.execute(query, params).fetchnumpy()
        found[np.asarray(rows["i"], dtype=np.int64)] = True
        return found

    def with_condition(self, codes: list[str]) -> np.ndarray:
        table = self.tables.rel("conditions")
        return self._cached(("condition", *codes), lambda: self._mask(
            f"SELECT DISTINCT l.i FROM {table} c JOIN lives l ON c.PATIENT = l.Id "
            "WHERE c.STOP IS NULL AND list_contains(?, c.CODE)", [codes]))

    def first_diagnosis(self, codes: list[str]) -> np.ndarray:
        """Day of each life's first diagnosis of one of the codes (NaN: never)."""
        def make() -> np.ndarray:
            table = self.tables.rel("conditions")
            rows = self.tables.db.execute(
                f"SELECT l.i, date_diff('day', DATE '1970-01-01', min(c.START)) AS day "
                f"FROM {table} c JOIN lives l ON c.PATIENT = l.Id "
                "WHERE list_contains(?, c.CODE) GROUP BY l.i", [codes]).fetchnumpy()
            days = np.full(self.lives.n, np.nan)
            days[np.asarray(rows["i"], dtype=np.int64)] = np.asarray(rows["day"], dtype=float)
            return days
        return self._cached(("first", *codes), make)

    def latest(self, code: str) -> tuple[np.ndarray, np.ndarray]:
        """(lives with an observation of ``code``, each one's latest value as text); ties in
        time are broken by the value, so the answer does not depend on the order rows are
        read in."""
        def make() -> tuple[np.ndarray, np.ndarray]:
            table = self.tables.rel("observations")
            rows = self.tables.db.execute(
                f"SELECT l.i, arg_max(o.VALUE, {{'d': o.DATE, 'v': o.VALUE}}) AS value "
                f"FROM {table} o JOIN lives l ON o.PATIENT = l.Id "
                "WHERE o.CODE = ? GROUP BY l.i", [code]).fetchnumpy()
            has = np.zeros(self.lives.n, dtype=bool)
            values = np.full(self.lives.n, None, dtype=object)
            index = np.asarray(rows["i"], dtype=np.int64)
            has[index] = True
            values[index] = np.asarray(rows["value"], dtype=object)
            return has, values
        return self._cached(("latest", code), make)

    def taking(self, codes: list[str], reasons: list[str]) -> np.ndarray:
        """Lives with an active medication of ``codes`` prescribed for one of ``reasons``."""
        table = self.tables.rel("medications")
        return self._cached(("taking", *codes, "for", *reasons), lambda: self._mask(
            f"SELECT DISTINCT l.i FROM {table} m JOIN lives l ON m.PATIENT = l.Id "
            "WHERE m.STOP IS NULL AND list_contains(?, m.CODE) "
            "AND list_contains(?, m.REASONCODE)", [codes, reasons]))

    def died_of(self, codes: Iterable[str]) -> np.ndarray:
        """Lives whose death certificate names one of the cause codes."""
        wanted = sorted(set(codes))
        table = self.tables.rel("encounters")
        return self._cached(("died of", *wanted), lambda: self._mask(
            f"SELECT DISTINCT l.i FROM {table} e JOIN lives l ON e.PATIENT = l.Id "
            "WHERE e.CODE = ? AND list_contains(?, e.REASONCODE)",
            [DEATH_CERTIFICATION, wanted]))

    def code_seen(self, table: str, codes: list[str]) -> bool:
        """Whether any row of ``table`` holds one of the codes (a module of the run records
        it): a measure of a code no module writes is not computable, not zero."""
        rel = self.tables.rel(table)
        return bool(self.tables.one(f"SELECT count(*) FROM (SELECT 1 FROM {rel} "
                                    "WHERE list_contains(?, CODE) LIMIT 1)", [codes]))

    # ---------------------------------------------------------------- the measures

    def living(self, sex: str, group: str) -> np.ndarray:
        low, high = age_group(group)
        age = self.lives.age(self.ref)
        return self.lives.alive & self.lives.of_sex(sex) & (low <= age) & (age < high)

    def condition_share(self, group: np.ndarray, rule: str) -> Result:
        having = self.with_condition(rule.split("|")) & group
        return proportion(int(having.sum()), int(group.sum()))

    def observation_share(self, group: np.ndarray, rule: str) -> Result:
        if ">=" in rule:
            code, threshold = rule.split(">=")
            has, values = self.latest(code)
            chosen = has & group
            numbers = np.array([_number(v) for v in values[chosen]], dtype=float)
            hits = int(np.sum(numbers >= float(threshold)))
        else:
            code, answers = rule.split("=")
            has, values = self.latest(code)
            chosen = has & group
            hits = int(np.isin(values[chosen].astype(str), answers.split("|")).sum())
        return proportion(hits, int(chosen.sum()))

    def measured_bp_share(self, group: np.ndarray, rule: str) -> Result:
        from simulator.engine.vitals import ANTIHYPERTENSIVES

        systolic_min, diastolic_min = (float(x) for x in rule.split("/"))
        has_s, systolic = self.latest(SYSTOLIC)
        has_d, diastolic = self.latest(DIASTOLIC)
        treated = self.taking(sorted(ANTIHYPERTENSIVES), [HYPERTENSION])
        measured = group & has_s & has_d
        s = np.array([_number(v) for v in systolic[measured]], dtype=float)
        d = np.array([_number(v) for v in diastolic[measured]], dtype=float)
        high = (s >= systolic_min) | (d >= diastolic_min) | treated[measured]
        return proportion(int(high.sum()), int(measured.sum()))

    def incidence(self, sex: str, group: str, rule: str) -> Result:
        """First diagnoses per 1,000 person-years of the group over the last INCIDENCE_YEARS,
        age-standardised to the run's own population.

        The rate in each age band comes from the first lives (each person's first life is an
        unconditioned draw, so its rates by age are unbiased); the bands are weighted by the
        person-years every life spent in them over the window (the people alive at the
        reference date, whose ages follow the published population, and the people who died
        during the window). A crude rate of the first lives alone reads too low: their deaths
        are not replaced, so they are younger than the population a published rate counts."""
        low, high = age_group(group)
        start = float(_days(self.reference.replace(year=self.reference.year - INCIDENCE_YEARS)))
        lives = self.lives
        edges = np.array(sorted({low, *(b for b in BANDS if low < b < high)}), dtype=float)
        of_sex = lives.of_sex(sex)
        when = self.first_diagnosis(rule.split("|"))

        def band_years(chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Person-years of the chosen lives in each age band over the window, and the
            band of each one's first diagnosis in it (-1: none)."""
            birth = lives.birth[chosen]
            death = np.where(np.isnan(lives.death[chosen]), self.ref, lives.death[chosen])
            begin, end = np.maximum(birth, start), np.minimum(death, self.ref)
            a0, a1 = (begin - birth) / YEAR, (end - birth) / YEAR
            tops = np.append(edges[1:], high)
            years = np.array([np.sum(np.maximum(np.minimum(a1, top) - np.maximum(a0, bottom),
                                                0.0)) for bottom, top in zip(edges, tops, strict=True)])
            with np.errstate(invalid="ignore"):
                at = (when[chosen] - birth) / YEAR
                inside = (start <= when[chosen]) & (when[chosen] < self.ref) & (low <= at) & (at < high)
            band = np.full(len(birth), -1)
            band[inside] = np.searchsorted(edges, at[inside], side="right") - 1
            return years, band

        years, band = band_years(lives.first & of_sex)
        weight, _ = band_years(of_sex)
        events = np.bincount(band[band >= 0], minlength=len(edges)).astype(float)
        usable = years > 0
        if not usable.any() or weight[usable].sum() == 0:
            return NOT_MEASURED
        share = weight[usable] / weight[usable].sum()
        rate = float(np.sum(share * events[usable] / years[usable])) * 1000.0
        half = Z * math.sqrt(float(np.sum(share**2 * events[usable] / years[usable] ** 2))) * 1000.0
        return Result(rate, max(rate - half, 0.0), rate + half, int(events.sum()))

    def period_rates(self, sex: str, lives: str = "first", died_of: np.ndarray | None = None
                     ) -> tuple[list[float], list[float]]:
        """Deaths and person-years in each age band of BANDS over the last WINDOW_YEARS, of
        the first lives (``lives="first"``) or of every life; with ``died_of``, only the
        deaths of the lives it marks."""
        start = float(_days(self.reference.replace(year=self.reference.year - WINDOW_YEARS)))
        people = self.lives
        chosen = people.sex == sex
        if lives == "first":
            chosen &= people.first
        birth = people.birth[chosen]
        death = people.death[chosen]
        begin = np.maximum(birth, start)
        end = np.minimum(np.where(np.isnan(death), self.ref, death), self.ref)
        inside = end > begin
        a0, a1 = (begin - birth) / YEAR, (end - birth) / YEAR
        exposure = []
        for k, low in enumerate(BANDS):
            high = BANDS[k + 1] if k + 1 < len(BANDS) else math.inf
            overlap = np.minimum(a1, high) - np.maximum(a0, low)
            exposure.append(float(np.sum(overlap[inside & (overlap > 0)])))
        with np.errstate(invalid="ignore"):
            dead = inside & ~np.isnan(death) & (death > start)
        if died_of is not None:
            dead &= died_of[chosen]
        ages = (death[dead] - birth[dead]) / YEAR
        band = np.searchsorted(np.asarray(BANDS, dtype=float), ages, side="right") - 1
        deaths = np.bincount(band, minlength=len(BANDS)).astype(float)
        return [float(d) for d in deaths], exposure

    def module_deaths(self) -> np.ndarray | None:
        """Lives that died of one of the run's modules (None when the modules are unknown)."""
        return None if self.causes is None else self.died_of(self.causes)

    def life_expectancy(self, sex: str) -> Result:
        """Period e0 of one sex: natural death at the rates of the table the run drew it
        from (the life table less the modules' deaths it left out: tests/test_life_table.py
        checks the sampler follows its table), module deaths at the rates measured on every
        simulated life (a retry's module risk is a first life's: only its natural death is
        conditioned on survival, so every life counts, and the old ages get twenty times the
        exposure)."""
        from simulator.population.life_table import natural_death_table

        died = self.module_deaths()
        if died is None:
            return NOT_MEASURED
        if self.natural_death:
            qx = natural_death_table(self.deleted).qx[sex]
        else:  # nobody dies of old age: only the modules kill, and everyone by 101
            qx = np.zeros(101)
            qx[-1] = 1.0
        deaths, exposure = self.period_rates(sex, "all", died)
        rates = [d / e if e else 0.0 for d, e in zip(deaths, exposure, strict=True)]

        def e0(module_rates: list[float]) -> float:
            alive, total = 1.0, 0.0
            for age in range(len(qx)):
                band = max(k for k, low in enumerate(BANDS) if age >= low)
                q = 1.0 - (1.0 - qx[age]) * math.exp(-module_rates[band])
                total += alive * (1.0 - q / 2.0)  # deaths spread over the year
                alive *= 1.0 - q
            return total

        return _with_interval(rates, deaths, exposure, e0)

    def observed_life_expectancy(self, sex: str) -> Result:
        """Period e0 of one sex from the first lives' deaths alone, with an interval from the
        deaths' Poisson error band by band (few first lives reach 85, so it is wide)."""
        deaths, exposure = self.period_rates(sex)
        if not any(exposure):
            return NOT_MEASURED
        rates = [d / e if e else 0.0 for d, e in zip(deaths, exposure, strict=True)]
        return _with_interval(rates, deaths, exposure, life_expectancy_from)

    def measure(self, row: dict[str, str]) -> Result:
        how, sex, group = row["how"], row["sex"], row["age_group"]
        kind, _, rule = how.partition(":")
        if kind == "life_expectancy":
            return self.life_expectancy(sex)
        if kind == "incidence":
            return self.incidence(sex, group, rule)
        people = self.living(sex, group)
        if kind == "condition":
            return self.condition_share(people, rule)
        if kind == "bp":
            return self.measured_bp_share(people, rule)
        if kind == "observation":
            return self.observation_share(people, rule)
        raise ValueError(f"{TARGETS}: unknown how {how!r}")

    def why_not_computable(self, row: dict[str, str]) -> str | None:
        """Why a row cannot be measured on this run (a table not written, a code no module
        of the run records, nobody in the group), or None."""
        kind, _, rule = row["how"].partition(":")
        needs = {"condition": ("conditions",), "incidence": ("conditions",),
                 "observation": ("observations",), "bp": ("observations", "medications"),
                 "life_expectancy": ("encounters",)}[kind]
        if self.tables.missing(*needs):
            return self.tables.why_missing(*needs)
        if kind == "life_expectancy":
            if self.causes is None:
                return ("the run's modules folder is not at hand, so its deaths cannot be told "
                        "from natural ones")
            return None
        if kind in ("condition", "incidence") and not self.code_seen("conditions",
                                                                    rule.split("|")):
            return f"no module of this run records condition {rule}"
        if kind == "observation":
            code = rule.split(">=")[0] if ">=" in rule else rule.split("=")[0]
            if not self.code_seen("observations", [code]):
                return f"no module of this run records observation {code}"
        if kind == "bp" and not self.code_seen("observations", [SYSTOLIC, DIASTOLIC]):
            return "the run records no blood pressure"
        if kind != "incidence" and not self.living(row["sex"], row["age_group"]).any():
            return "nobody of this sex and age group is alive in the run"
        return None


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def life_expectancy_from(rates: list[float]) -> float:
    survivors, total = 1.0, 0.0
    for k, low in enumerate(BANDS):
        rate = rates[k]
        if k + 1 == len(BANDS):  # open band: remaining years = 1 / rate
            total += survivors / rate if rate > 0 else 0.0
            break
        width = BANDS[k + 1] - low
        q = 1 - math.exp(-rate * width)
        total += survivors * (q / rate if rate > 0 else width)  # years lived at a constant rate
        survivors *= 1 - q
    return total


def _with_interval(rates: list[float], deaths: list[float], exposure: list[float],
                   e0: Callable[[list[float]], float]) -> Result:
    """``e0(rates)`` with a 95% interval by the delta method, var(rate) = deaths / exposure²."""
    value = e0(rates)
    variance = 0.0
    for k in range(len(BANDS)):
        if deaths[k] == 0:
            continue
        step = rates[k] * 1e-3
        bumped = list(rates)
        bumped[k] += step
        slope = (e0(bumped) - value) / step
        variance += slope * slope * deaths[k] / exposure[k] ** 2
    half = Z * math.sqrt(variance)
    return Result(value, value - half, value + half, int(sum(deaths)))


def table_rates(sex: str) -> list[float]:
    """The SSA period life table's death rate in each band: deaths over person-years, the open
    band's l(85) / T(85)."""
    from simulator.population.life_table import load_life_table

    survival = load_life_table().survival[sex]
    years = (survival[:-1] + survival[1:]) / 2  # person-years lived at each age
    out = []
    for k, low in enumerate(BANDS):
        high = BANDS[k + 1] if k + 1 < len(BANDS) else len(years)
        out.append(float((survival[low] - survival[high]) / years[low:high].sum()))
    return out


def band_label(k: int) -> str:
    return f"{BANDS[k]}+" if k + 1 == len(BANDS) else f"{BANDS[k]}-{BANDS[k + 1] - 1}"


def is_overall(row: dict[str, str]) -> bool:
    return row["sex"] == "all" and row["age_group"] in ("18+", "20+", "all")


def tolerance(row: dict[str, str]) -> tuple[float, str]:
    """The row's band: (tolerance, description); life expectancy's is absolute, in years."""
    if row["how"].startswith("life_expectancy"):
        return YEARS_TOLERANCE, f"±{YEARS_TOLERANCE:g}y"
    if is_overall(row):
        return OVERALL_TOLERANCE, f"±{OVERALL_TOLERANCE:.0%}"
    return CELL_TOLERANCE, f"±{CELL_TOLERANCE:.0%}|CI"


def in_band(row: dict[str, str], target: float, result: Result) -> tuple[bool, str]:
    """(in band, the band's description)."""
    allowed, band = tolerance(row)
    if row["how"].startswith("life_expectancy"):
        return abs(result.value - target) <= allowed, band
    if is_overall(row):
        return abs(result.value - target) <= allowed * target, band
    near = abs(result.value - target) <= allowed * target
    covers = result.low <= target <= result.high
    return near or covers, band
