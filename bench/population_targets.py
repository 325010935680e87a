"""Does a simulated population look like the place it is drawn from? (issue 3, "what it must show")

    python bench/population_targets.py [--population 10000] [--seed 1] [--workers 2]
                                       [--state Massachusetts] [--modules-dir DIR] [--top 20]

Runs `simulate -p N -s SEED` (default modules unless --modules-dir), then reads the CSV output
and prints each target, the simulated value and PASS/FAIL:

- the living population's age/sex pyramid, per ~10-year census band and sex, within ±10 %
  relative of the state's ACS figures (bands holding at least 1 % of the population);
- life expectancy at birth implied by the natural-death sampler (100 000 draws): 75–81 years;
- adult (20+) mean BMI, latest measurement of each living adult: 27–30;
- coverage at age 2 (children 24–35 months old): ≥ 4 DTaP doses and ≥ 1 MMR dose before
  24 months, each ≥ 85 %;
- adults' wellness visits: mean gap between consecutive wellness visits from age 20 within
  1–3 years.

It also prints the most prevalent conditions (share of living people ever diagnosed).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import numpy as np

from simulator.config import RunConfig
from simulator.population import sampler
from simulator.population.state_data import state_profile
from simulator.run import run

BMI = "39156-5"
DTAP, MMR = "20", "03"
BANDS = [(0, 9), (10, 19), (20, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 74), (75, 84), (85, 110)]


def _date(text: str) -> date:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date() if "T" in text else date.fromisoformat(text)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _months(birth: date, on: date) -> int:
    return (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)


def census_shares(state: str) -> dict[tuple[str, tuple[int, int]], float]:
    profile = state_profile(state)
    out: dict[tuple[str, tuple[int, int]], float] = defaultdict(float)
    for (lo, hi), m, f in zip(profile.age_bands, profile.age_male, profile.age_female, strict=True):
        for band in BANDS:
            overlap = max(0, min(hi, band[1]) - max(lo, band[0]) + 1)
            if overlap:
                frac = overlap / (min(hi, 110) - lo + 1)
                out[("M", band)] += m * frac
                out[("F", band)] += f * frac
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--population", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--state", default="Massachusetts")
    ap.add_argument("--modules-dir", type=Path)
    ap.add_argument("--reference-date", default="2025-01-01")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--output", type=Path, help="keep the run's output here (default: a temporary folder)")
    args = ap.parse_args()
    ref = date.fromisoformat(args.reference_date)

    with tempfile.TemporaryDirectory() as tmp:
        out = args.output or Path(tmp)
        kwargs = {"modules_dir": args.modules_dir} if args.modules_dir else {}
        config = RunConfig(population=args.population, seed=args.seed, workers=args.workers,
                           state=args.state, output=out, reference_date=ref, **kwargs)
        summary = run(config)
        print(f"simulated {summary.people} people ({summary.dead} deceased records) in "
              f"{summary.seconds:.0f} s with {summary.modules} modules")
        results = evaluate(out / "csv", ref, args.state, args.top, config)
    failed = [name for name, ok in results if not ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} targets met" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def evaluate(csv_dir: Path, ref: date, state: str, top: int, config: RunConfig) -> list[tuple[str, bool]]:
    results: list[tuple[str, bool]] = []

    def report(name: str, target: str, value: str, ok: bool) -> None:
        results.append((name, ok))
        print(f"  {name:<38} target {target:<16} simulated {value:<14} {'PASS' if ok else 'FAIL'}")

    patients = {}
    with open(csv_dir / "patients.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row["DEATHDATE"]:
                patients[row["Id"]] = (_date(row["BIRTHDATE"]), row["GENDER"])

    print("\nage/sex pyramid of the living population vs census (share of all people)")
    census = census_shares(state)
    counts: Counter[tuple[str, tuple[int, int]]] = Counter()
    for birth, sex in patients.values():
        age = _age(birth, ref)
        band = next(b for b in BANDS if b[0] <= age <= b[1])
        counts[(sex, band)] += 1
    n = len(patients)
    for (sex, band), share in sorted(census.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if share < 0.01:
            continue
        sim = counts[(sex, band)] / n
        label = f"{sex} {band[0]}-{band[1] if band[1] < 110 else '+'}"
        report(f"pyramid {label}", f"{share:.4f} ±10%", f"{sim:.4f}", abs(sim - share) <= 0.10 * share)

    print("\nnatural-death sampler")
    tables = sampler.population_tables(config.state, config.reference_time)
    e0 = sampler.life_expectancy_of_sampler(tables, 100_000)
    report("life expectancy at birth (years)", "75-81", f"{e0:.2f}", 75.0 <= e0 <= 81.0)

    print("\nadults and children")
    latest_bmi: dict[str, tuple[str, float]] = {}
    with open(csv_dir / "observations.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["CODE"] == BMI and row["PATIENT"] in patients:
                prev = latest_bmi.get(row["PATIENT"])
                if prev is None or row["DATE"] > prev[0]:
                    latest_bmi[row["PATIENT"]] = (row["DATE"], float(row["VALUE"]))
    adult_bmi = [v for pid, (_, v) in latest_bmi.items() if _age(patients[pid][0], ref) >= 20]
    mean_bmi = float(np.mean(adult_bmi)) if adult_bmi else float("nan")
    report("adult mean BMI", "27-30", f"{mean_bmi:.2f} (n={len(adult_bmi)})", 27.0 <= mean_bmi <= 30.0)

    toddlers = {pid for pid, (birth, _) in patients.items() if 24 <= _months(birth, ref) <= 35}
    doses: dict[str, Counter[str]] = defaultdict(Counter)
    with open(csv_dir / "immunizations.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            pid = row["PATIENT"]
            if pid in toddlers and _months(patients[pid][0], _date(row["DATE"])) < 24:
                doses[pid][row["CODE"]] += 1
    if toddlers:
        dtap = sum(doses[p][DTAP] >= 4 for p in toddlers) / len(toddlers)
        mmr = sum(doses[p][MMR] >= 1 for p in toddlers) / len(toddlers)
    else:
        dtap = mmr = float("nan")
    report("age 2: >=4 DTaP by 24 months", ">= 85%", f"{dtap:.1%} (n={len(toddlers)})", dtap >= 0.85)
    report("age 2: >=1 MMR by 24 months", ">= 85%", f"{mmr:.1%} (n={len(toddlers)})", mmr >= 0.85)

    visits: dict[str, list[date]] = defaultdict(list)
    with open(csv_dir / "encounters.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            pid = row["PATIENT"]
            if row["ENCOUNTERCLASS"] == "wellness" and pid in patients:
                when = _date(row["START"])
                if _age(patients[pid][0], when) >= 20:
                    visits[pid].append(when)
    gaps = [(b - a).days / 365.25 for days in visits.values() for a, b in zip(sorted(days), sorted(days)[1:], strict=False)]
    mean_gap = float(np.mean(gaps)) if gaps else float("nan")
    report("adult wellness visit gap (years)", "1-3", f"{mean_gap:.2f}", 1.0 <= mean_gap <= 3.0)

    print(f"\ntop {top} conditions by prevalence among living people (ever diagnosed)")
    having: dict[tuple[str, str], set[str]] = defaultdict(set)
    with open(csv_dir / "conditions.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["PATIENT"] in patients:
                having[(row["CODE"], row["DESCRIPTION"])].add(row["PATIENT"])
    for (code, text), who in sorted(having.items(), key=lambda kv: -len(kv[1]))[:top]:
        print(f"  {len(who) / max(n, 1):7.2%}  {code:<12} {text}")
    return results


if __name__ == "__main__":
    sys.exit(main())
