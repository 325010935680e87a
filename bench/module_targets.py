"""Adult prevalence of the main conditions and life expectancy, against published targets.

    python bench/module_targets.py [--population 10000] [--workers 2] [--seed 1] [--keep DIR]

Runs ``simulate -p N --format csv`` on the project's default modules, then for every row of
``modules/targets.csv`` prints the published target, the simulated value and whether it is within
±20 % (relative). How each measure is read from the CSV files is the row's ``how`` column:

* ``condition:CODE|CODE`` — living people in the age group with an active condition (no STOP)
  of one of the codes;
* ``observation:LOINC>=X`` / ``observation:LOINC=CODE|CODE`` — living people in the age group
  whose latest observation of that LOINC code is at least X / is one of the codes, among those
  with such an observation;
* ``life_expectancy`` — period life expectancy at birth from the deaths and person-years of the
  last 10 years before the reference date (first simulated life of each person index only: a
  person who dies before the reference date is simulated again conditioned on survival, which
  would bias mortality down).

Exit code 1 if any target is missed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "modules" / "targets.csv"
TOLERANCE = 0.20
REFERENCE = dt.date(2024, 1, 1)
WINDOW_YEARS = 10
BANDS = [0, 1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85]


@dataclass
class Person:
    id: str
    birth: dt.date
    death: dt.date | None
    first_attempt: bool

    def age(self, on: dt.date) -> float:
        return (on - self.birth).days / 365.25


def read_people(folder: Path) -> dict[str, Person]:
    """patients.csv is written in person-index order, deceased attempts of an index first and
    its living attempt last, so the first row after a living row is an index's first life."""
    people: dict[str, Person] = {}
    first = True
    with (folder / "patients.csv").open() as f:
        for row in csv.DictReader(f):
            death = dt.date.fromisoformat(row["DEATHDATE"]) if row["DEATHDATE"] else None
            people[row["Id"]] = Person(row["Id"], dt.date.fromisoformat(row["BIRTHDATE"]), death,
                                       first)
            first = death is None
    return people


def age_group(text: str) -> tuple[float, float]:
    if text.endswith("+"):
        return float(text[:-1]), math.inf
    low, high = text.split("-")
    return float(low), float(high) + 1


def living_in(people: dict[str, Person], group: str) -> set[str]:
    low, high = age_group(group)
    return {p.id for p in people.values() if p.death is None and low <= p.age(REFERENCE) < high}


def condition_share(folder: Path, people: set[str], codes: set[str]) -> float:
    having = set()
    with (folder / "conditions.csv").open() as f:
        for row in csv.DictReader(f):
            if not row["STOP"] and row["CODE"] in codes and row["PATIENT"] in people:
                having.add(row["PATIENT"])
    return len(having) / max(len(people), 1)


def observation_share(folder: Path, people: set[str], rule: str) -> float:
    if ">=" in rule:
        code, threshold = rule.split(">=")
        accept = lambda value: float(value) >= float(threshold)  # noqa: E731
    else:
        code, answers = rule.split("=")
        wanted = set(answers.split("|"))
        accept = lambda value: value in wanted  # noqa: E731
    latest: dict[str, tuple[str, str]] = {}
    with (folder / "observations.csv").open() as f:
        for row in csv.DictReader(f):
            if row["CODE"] == code and row["PATIENT"] in people:
                seen = latest.get(row["PATIENT"])
                if seen is None or row["DATE"] >= seen[0]:
                    latest[row["PATIENT"]] = (row["DATE"], row["VALUE"])
    if not latest:
        return float("nan")
    return sum(1 for _, value in latest.values() if accept(value)) / len(latest)


def life_expectancy(people: dict[str, Person]) -> float:
    start = REFERENCE.replace(year=REFERENCE.year - WINDOW_YEARS)
    exposure = defaultdict(float)
    deaths = defaultdict(int)
    for p in people.values():
        if not p.first_attempt:
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
            age = p.age(p.death)
            deaths[max(k for k, low in enumerate(BANDS) if age >= low)] += 1
    survivors, total = 1.0, 0.0
    for k, low in enumerate(BANDS):
        rate = deaths[k] / exposure[k] if exposure[k] else 0.0
        if k + 1 == len(BANDS):  # open band: remaining years = 1 / rate
            total += survivors / rate if rate > 0 else 0.0
            break
        width = BANDS[k + 1] - low
        q = 1 - math.exp(-rate * width)
        total += survivors * (q / rate if rate > 0 else width)  # years lived at a constant rate
        survivors *= 1 - q
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--population", type=int, default=10000)
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
        folder = args.from_dir or out / "csv"
        people = read_people(folder)
        with TARGETS.open() as f:
            targets = list(csv.DictReader(f))
        failed = 0
        print(f"{'measure':28} {'ages':6} {'target':>8} {'simulated':>10}  ok  source")
        for t in targets:
            how = t["how"]
            target = float(t["value"])
            if how == "life_expectancy":
                value = life_expectancy(people)
            else:
                group = living_in(people, t["age_group"])
                kind, rule = how.split(":", 1)
                if kind == "condition":
                    value = condition_share(folder, group, set(rule.split("|")))
                else:
                    value = observation_share(folder, group, rule)
            ok = abs(value - target) <= TOLERANCE * target
            failed += not ok
            print(f"{t['measure']:28} {t['age_group']:6} {target:8.3f} {value:10.3f}  "
                  f"{'yes' if ok else 'NO ':3} {t['source'][:70]}")
        print(f"{len(targets) - failed}/{len(targets)} within ±{TOLERANCE:.0%}")
        return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
