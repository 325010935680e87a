"""Prevalence, incidence and life expectancy of a run of the project's modules, against published
targets, by age band and sex.

    python bench/module_targets.py [--population 20000] [--workers 2] [--seed 1] [--keep DIR]
                                   [--from-dir RUN/csv]

Runs ``simulate -p N --format csv`` on the project's default modules (reference date 2024-01-01),
then for every row of ``modules/targets.csv`` prints the published target, the simulated value
with its 95% interval, and whether it is in its band. A row is one measure for one sex (``all``,
``M``, ``F``) and age group; how the measure is read from the CSV files is its ``how`` column:

* ``condition:CODE|CODE`` — living people of the group with an active condition (no STOP) of
  one of the codes (a diagnosis in the record);
* ``observation:LOINC>=X`` / ``observation:LOINC=ANSWER|ANSWER`` — living people of the group
  whose latest observation of that LOINC code is at least X / is one of the answers, among those
  with such an observation (a measurement in the record);
* ``bp:S/D`` — living people of the group whose latest systolic blood pressure is at least S or
  latest diastolic at least D, or who take an antihypertensive for hypertension (an active
  medication of the engine's ANTIHYPERTENSIVES with that reason: the same drugs given for
  heart failure or kidney disease do not count), among those with a blood pressure reading:
  hypertension as a survey measures it, diagnosed or not;
* ``incidence:CODE|CODE`` — first diagnoses of one of the codes per 1,000 person-years of the
  group over the last 5 years (age and sex at diagnosis);
* ``life_expectancy`` — period life expectancy at birth of the row's sex over the last 10 years:
  natural death at the rates of the table the run drew it from (the life table less the
  modules' deaths), module deaths (by their death certificates) at the rates measured on every
  simulated life. A person who dies before the reference date is simulated again conditioned
  on natural survival, so only the first lives measure natural death, and few of them reach
  85: the e0 of the first lives alone is printed too, with its (wide) interval.

Bands: a row of all adults of both sexes (an overall measure) must be within ±15% of its target;
a row of one age band or one sex (a cell) within ±20%, or within its 95% interval where the
sample is too small for that; life expectancy within ±1 year. The death rates by age band are
printed beside the SSA period table's, to show where years of life are lost. Exit code 1 unless
every overall measure and life expectancy is in band and at least 90% of the cells are.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "modules" / "targets.csv"
OVERALL_TOLERANCE = 0.15
CELL_TOLERANCE = 0.20
CELLS_IN_BAND = 0.90
YEARS_TOLERANCE = 1.0  # life expectancy: absolute, in years
REFERENCE = dt.date(2024, 1, 1)
WINDOW_YEARS = 10  # life expectancy's period
INCIDENCE_YEARS = 5
BANDS = [0, 1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85]
Z = 1.96
HYPERTENSION = "59621000"  # SNOMED Essential hypertension: what "treated" means in bp:


@dataclass
class Person:
    id: str
    birth: dt.date
    death: dt.date | None
    first_attempt: bool
    sex: str

    def age(self, on: dt.date) -> float:
        return (on - self.birth).days / 365.25


@dataclass
class Result:
    value: float
    low: float
    high: float
    n: int  # people (prevalence) or events (incidence)


class Run:
    """A run's CSV tables, read once with DuckDB."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db = duckdb.connect()
        self.people = self._people()
        self._cache: dict[tuple[str, ...], object] = {}

    def _csv(self, table: str) -> str:
        path = self.folder / f"{table}.csv"
        return f"read_csv('{path}', header=true, all_varchar=true)"

    def _people(self) -> dict[str, Person]:
        """patients.csv is written in person-index order, the deceased attempts of an index
        first and its living attempt last, so the first row after a living row is an index's
        first life."""
        people: dict[str, Person] = {}
        first = True
        rows = self.db.sql(f"select Id, BIRTHDATE, DEATHDATE, GENDER from {self._csv('patients')}")
        for pid, birth, death, sex in rows.fetchall():
            died = dt.date.fromisoformat(death) if death else None
            people[pid] = Person(pid, dt.date.fromisoformat(birth), died, first, sex)
            first = died is None
        return people

    def cached(self, key: tuple[str, ...], make: Callable[[], object]) -> object:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def with_condition(self, codes: list[str]) -> set[str]:
        def make() -> set[str]:
            rows = self.db.execute(
                f"select distinct PATIENT from {self._csv('conditions')} "
                "where (STOP is null or STOP = '') and list_contains(?, CODE)", [codes])
            return {r[0] for r in rows.fetchall()}
        return self.cached(("condition", *codes), make)  # type: ignore[return-value]

    def first_diagnosis(self, codes: list[str]) -> dict[str, dt.date]:
        def make() -> dict[str, dt.date]:
            rows = self.db.execute(
                f"select PATIENT, min(START) from {self._csv('conditions')} "
                "where list_contains(?, CODE) group by PATIENT", [codes])
            return {p: dt.date.fromisoformat(start[:10]) for p, start in rows.fetchall()}
        return self.cached(("first", *codes), make)  # type: ignore[return-value]

    def latest(self, code: str) -> dict[str, str]:
        def make() -> dict[str, str]:
            rows = self.db.execute(
                f"select PATIENT, arg_max(VALUE, DATE) from {self._csv('observations')} "
                "where CODE = ? group by PATIENT", [code])
            return dict(rows.fetchall())
        return self.cached(("latest", code), make)  # type: ignore[return-value]

    def causes_of_death(self) -> dict[str, str]:
        """Each deceased life's cause (its death certificate's reason code)."""
        def make() -> dict[str, str]:
            rows = self.db.execute(
                f"select PATIENT, REASONCODE from {self._csv('encounters')} "
                "where CODE = '308646001'")
            return dict(rows.fetchall())
        return self.cached(("causes",), make)  # type: ignore[return-value]

    def module_causes(self) -> dict[str, str]:
        """Each cause-of-death code of the project's modules, with its module."""
        from simulator.population.module_mortality import PROJECT_MODULES, cause_modules

        return self.cached(("module causes",), lambda: cause_modules(PROJECT_MODULES))  # type: ignore[return-value]

    def taking(self, codes: list[str], reasons: list[str]) -> set[str]:
        """People with an active medication of one of ``codes`` prescribed for one of
        ``reasons``."""
        def make() -> set[str]:
            rows = self.db.execute(
                f"select distinct PATIENT from {self._csv('medications')} "
                "where (STOP is null or STOP = '') and list_contains(?, CODE) "
                "and list_contains(?, REASONCODE)", [codes, reasons])
            return {r[0] for r in rows.fetchall()}
        return self.cached(("taking", *codes, "for", *reasons), make)  # type: ignore[return-value]


def age_group(text: str) -> tuple[float, float]:
    if text == "all":
        return 0.0, math.inf
    if text.endswith("+"):
        return float(text[:-1]), math.inf
    low, high = text.split("-")
    return float(low), float(high) + 1


def in_group(p: Person, sex: str, low: float, high: float, on: dt.date) -> bool:
    return (sex == "all" or p.sex == sex) and low <= p.age(on) < high


def living(run: Run, sex: str, group: str) -> set[str]:
    low, high = age_group(group)
    return {p.id for p in run.people.values()
            if p.death is None and in_group(p, sex, low, high, REFERENCE)}


def proportion(hits: int, n: int) -> Result:
    """A share with its Wilson 95% interval."""
    if n == 0:
        return Result(math.nan, math.nan, math.nan, 0)
    p = hits / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return Result(p, centre - half, centre + half, n)


def condition_share(run: Run, group: set[str], rule: str) -> Result:
    having = run.with_condition(rule.split("|")) & group
    return proportion(len(having), len(group))


def observation_share(run: Run, group: set[str], rule: str) -> Result:
    if ">=" in rule:
        code, threshold = rule.split(">=")
        accept = lambda value: float(value) >= float(threshold)  # noqa: E731
    else:
        code, answers = rule.split("=")
        wanted = set(answers.split("|"))
        accept = lambda value: value in wanted  # noqa: E731
    latest = {p: v for p, v in run.latest(code).items() if p in group}
    return proportion(sum(1 for v in latest.values() if accept(v)), len(latest))


def measured_bp_share(run: Run, group: set[str], rule: str) -> Result:
    from simulator.engine.vitals import ANTIHYPERTENSIVES

    systolic_min, diastolic_min = (float(x) for x in rule.split("/"))
    systolic, diastolic = run.latest("8480-6"), run.latest("8462-4")
    treated = run.taking(list(ANTIHYPERTENSIVES), [HYPERTENSION])
    measured = [p for p in group if p in systolic and p in diastolic]
    high = sum(1 for p in measured if float(systolic[p]) >= systolic_min
               or float(diastolic[p]) >= diastolic_min or p in treated)
    return proportion(high, len(measured))


def incidence(run: Run, sex: str, group: str, rule: str) -> Result:
    """First diagnoses per 1,000 person-years of the group over the last INCIDENCE_YEARS."""
    low, high = age_group(group)
    start = REFERENCE.replace(year=REFERENCE.year - INCIDENCE_YEARS)
    first = run.first_diagnosis(rule.split("|"))
    years = 0.0
    events = 0
    for p in run.people.values():
        if not p.first_attempt or (sex != "all" and p.sex != sex):
            continue
        begin, end = max(p.birth, start), min(p.death or REFERENCE, REFERENCE)
        a0, a1 = (begin - p.birth).days / 365.25, (end - p.birth).days / 365.25
        years += max(min(a1, high) - max(a0, low), 0.0)
        when = first.get(p.id)
        if when is not None and start <= when < REFERENCE and low <= p.age(when) < high:
            events += 1
    if years == 0:
        return Result(math.nan, math.nan, math.nan, 0)
    half = Z * math.sqrt(events)
    rate = 1000.0 * events / years
    return Result(rate, 1000.0 * max(events - half, 0) / years,
                  1000.0 * (events + half) / years, events)


def period_rates(people: dict[str, Person], sex: str, lives: str = "first",
                 causes: set[str] | None = None, cause_of: dict[str, str] | None = None
                 ) -> tuple[list[float], list[float]]:
    """Deaths and person-years in each age band of BANDS over the last WINDOW_YEARS, of the
    first lives (``lives="first"``) or of every life; with ``causes``, only deaths whose death
    certificate (``cause_of``) names one of them."""
    start = REFERENCE.replace(year=REFERENCE.year - WINDOW_YEARS)
    exposure = [0.0] * len(BANDS)
    deaths = [0.0] * len(BANDS)
    for p in people.values():
        if (lives == "first" and not p.first_attempt) or p.sex != sex:
            continue
        begin = max(p.birth, start)
        end = min(p.death or REFERENCE, REFERENCE)
        if end <= begin:
            continue
        a0, a1 = (begin - p.birth).days / 365.25, (end - p.birth).days / 365.25
        for k, low in enumerate(BANDS):
            high = BANDS[k + 1] if k + 1 < len(BANDS) else math.inf
            overlap = min(a1, high) - max(a0, low)
            if overlap > 0:
                exposure[k] += overlap
        if p.death is not None and p.death > start:
            if causes is not None and (cause_of or {}).get(p.id) not in causes:
                continue
            age = p.age(p.death)
            deaths[max(k for k, low in enumerate(BANDS) if age >= low)] += 1
    return deaths, exposure


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


def observed_life_expectancy(people: dict[str, Person], sex: str) -> Result:
    """Period e0 of one sex from the first lives' deaths alone, with an interval from the
    deaths' Poisson error band by band (few first lives reach 85, so it is wide)."""
    deaths, exposure = period_rates(people, sex)
    rates = [d / e if e else 0.0 for d, e in zip(deaths, exposure, strict=True)]
    return _with_interval(rates, deaths, exposure, life_expectancy_from)


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


def life_expectancy(run: Run, sex: str) -> Result:
    """Period e0 of one sex: natural death at the rates of the table the run drew it from
    (the life table less the modules' deaths: tests/test_life_table.py checks the sampler
    follows its table), module deaths at the rates measured on every simulated life (a
    retry's module risk is a first life's: only its natural death is conditioned on
    survival, so every life counts, and the old ages get twenty times the exposure)."""
    from simulator.population.life_table import natural_death_table
    from simulator.population.module_mortality import load_module_mortality

    natural = natural_death_table(tuple(sorted(load_module_mortality().q)))
    deaths, exposure = period_rates(run.people, sex, "all", set(run.module_causes()),
                                    run.causes_of_death())
    rates = [d / e if e else 0.0 for d, e in zip(deaths, exposure, strict=True)]
    qx = natural.qx[sex]

    def e0(module_rates: list[float]) -> float:
        alive, total = 1.0, 0.0
        for age in range(len(qx)):
            band = max(k for k, low in enumerate(BANDS) if age >= low)
            q = 1.0 - (1.0 - qx[age]) * math.exp(-module_rates[band])
            total += alive * (1.0 - q / 2.0)  # deaths spread over the year
            alive *= 1.0 - q
        return total

    return _with_interval(rates, deaths, exposure, e0)


def table_rates(sex: str) -> list[float]:
    """The SSA period life table's death rate in each band: deaths over person-years, the open
    band's l(85) / T(85)."""
    from simulator.population.life_table import load_life_table

    survival = load_life_table().survival[sex]
    years = (survival[:-1] + survival[1:]) / 2  # person-years lived at each age
    out = []
    for k, low in enumerate(BANDS):
        high = BANDS[k + 1] if k + 1 < len(BANDS) else len(years)
        out.append((survival[low] - survival[high]) / years[low:high].sum())
    return out


def print_death_rates(run: Run) -> None:
    print("\ndeath rate per 1,000 person-years, first lives / SSA 2023 period table "
          "(module deaths alone, every life, in brackets)")
    print(f"{'ages':7}{'male':>26}{'female':>26}")
    causes = set(run.module_causes())
    sim, modules = {}, {}
    for s in ("M", "F"):
        deaths, exposure = period_rates(run.people, s)
        sim[s] = [d / e if e else 0.0 for d, e in zip(deaths, exposure, strict=True)]
        deaths, exposure = period_rates(run.people, s, "all", causes, run.causes_of_death())
        modules[s] = [d / e if e else 0.0 for d, e in zip(deaths, exposure, strict=True)]
    ref = {s: table_rates(s) for s in ("M", "F")}
    for k, low in enumerate(BANDS):
        label = f"{low}+" if k + 1 == len(BANDS) else f"{low}-{BANDS[k + 1] - 1}"
        cells = "".join(f"{1000 * sim[s][k]:8.1f}/{1000 * ref[s][k]:<6.1f} ({1000 * modules[s][k]:5.1f})"
                        for s in ("M", "F"))
        print(f"{label:7}{cells}")
    for s in ("M", "F"):
        first = observed_life_expectancy(run.people, s)
        print(f"e0 {s} from the first lives alone: {first.value:.2f} ({first.low:.2f}-{first.high:.2f})")


def measure(run: Run, row: dict[str, str]) -> Result:
    how, sex, group = row["how"], row["sex"], row["age_group"]
    kind, _, rule = how.partition(":")
    if kind == "life_expectancy":
        return life_expectancy(run, sex)
    if kind == "incidence":
        return incidence(run, sex, group, rule)
    people = living(run, sex, group)
    if kind == "condition":
        return condition_share(run, people, rule)
    if kind == "bp":
        return measured_bp_share(run, people, rule)
    if kind == "observation":
        return observation_share(run, people, rule)
    raise ValueError(f"{TARGETS}: unknown how {how!r}")


def in_band(row: dict[str, str], target: float, result: Result) -> tuple[bool, str]:
    """(in band, the band's description)."""
    if row["how"].startswith("life_expectancy"):
        return abs(result.value - target) <= YEARS_TOLERANCE, f"±{YEARS_TOLERANCE:g}y"
    if is_overall(row):
        return (abs(result.value - target) <= OVERALL_TOLERANCE * target,
                f"±{OVERALL_TOLERANCE:.0%}")
    near = abs(result.value - target) <= CELL_TOLERANCE * target
    covers = result.low <= target <= result.high
    return near or covers, f"±{CELL_TOLERANCE:.0%}|CI"


def is_overall(row: dict[str, str]) -> bool:
    return row["sex"] == "all" and row["age_group"] in ("18+", "20+", "all")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    parser.add_argument("--from-dir", type=Path, help="measure an existing run's csv/ folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        if args.from_dir is None:
            subprocess.run([sys.executable, "-m", "simulator", "-p", str(args.population),
                            "-s", str(args.seed), "-w", str(args.workers), "--format", "csv",
                            "--reference-date", REFERENCE.isoformat(), "-o", str(out)],
                           check=True)
        run = Run(args.from_dir or out / "csv")
        with TARGETS.open() as f:
            rows = list(csv.DictReader(f))
        overall_missed: list[str] = []
        cells = cells_in = 0
        print(f"{'measure':44} {'sex':3} {'ages':6} {'target':>8} {'simulated (95% CI)':>26} "
              f"{'band':>7} ok")
        for row in rows:
            target = float(row["value"])
            result = measure(run, row)
            ok, band = in_band(row, target, result)
            if is_overall(row) or row["how"].startswith("life_expectancy"):
                if not ok:
                    overall_missed.append(f"{row['measure']} ({row['sex']}, {row['age_group']})")
            else:
                cells += 1
                cells_in += ok
            simulated = f"{result.value:8.3f} ({result.low:.3f}-{result.high:.3f})"
            print(f"{row['measure'][:44]:44} {row['sex']:3} {row['age_group']:6} {target:8.3f} "
                  f"{simulated:>26} {band:>7} {'yes' if ok else 'NO'}")
        print_death_rates(run)
        share = cells_in / cells if cells else 1.0
        print(f"\noverall measures and life expectancy out of band: {len(overall_missed)}"
              + (f" ({'; '.join(overall_missed)})" if overall_missed else ""))
        print(f"cells in band: {cells_in}/{cells} ({share:.0%}; {CELLS_IN_BAND:.0%} needed)")
        return 0 if not overall_missed and share >= CELLS_IN_BAND else 1


if __name__ == "__main__":
    raise SystemExit(main())
