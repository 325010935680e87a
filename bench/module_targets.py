"""Prevalence, incidence and life expectancy of a run of the project's modules, against published
targets, by age band and sex.

    python bench/module_targets.py [--population 20000] [--workers 2] [--seed 1] [--keep DIR]
                                   [--from-dir RUN/csv]

Runs ``simulate -p N --format csv`` on the project's default modules (reference date 2024-01-01),
then for every row of ``modules/targets.csv`` prints the published target, the simulated value
with its 95% interval, and whether it is in its band. The measuring is
``simulator/report/targets.py``, with which ``simulate report`` draws the same rows. A row is
one measure for one sex (``all``, ``M``, ``F``) and age group; how the measure is read from the
CSV files is its ``how`` column:

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
  group over the last 5 years (age and sex at diagnosis), age-standardised to the run's own
  population: rates by 5-year age band from the first lives, weighted by every life's
  person-years in the band;
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
import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

from simulator.config import PROJECT_MODULES
from simulator.population.module_mortality import cause_modules, load_module_mortality
from simulator.report.tables import Tables
from simulator.report.targets import (
    BANDS,
    MeasuredRun,
    band_label,
    in_band,
    is_overall,
    read_targets,
    table_rates,
)

CELLS_IN_BAND = 0.90
REFERENCE = dt.date(2024, 1, 1)


def measured_run(folder: Path) -> MeasuredRun:
    """The run's CSV tables, measured as a run of every project module (the whole table of
    module deaths left out of natural death)."""
    return MeasuredRun(Tables.of_csv_folder(folder), REFERENCE,
                       deleted=tuple(sorted(load_module_mortality().q)),
                       causes=cause_modules(PROJECT_MODULES))


def rates(deaths: list[float], exposure: list[float]) -> list[float]:
    return [d / e if e else 0.0 for d, e in zip(deaths, exposure, strict=True)]


def print_death_rates(run: MeasuredRun) -> None:
    print("\ndeath rate per 1,000 person-years, first lives / SSA 2023 period table "
          "(module deaths alone, every life, in brackets)")
    print(f"{'ages':7}{'male':>26}{'female':>26}")
    sim = {s: rates(*run.period_rates(s)) for s in ("M", "F")}
    modules = {s: rates(*run.period_rates(s, "all", run.module_deaths())) for s in ("M", "F")}
    ref = {s: table_rates(s) for s in ("M", "F")}
    for k in range(len(BANDS)):
        cells = "".join(f"{1000 * sim[s][k]:8.1f}/{1000 * ref[s][k]:<6.1f} ({1000 * modules[s][k]:5.1f})"
                        for s in ("M", "F"))
        print(f"{band_label(k):7}{cells}")
    for s in ("M", "F"):
        first = run.observed_life_expectancy(s)
        print(f"e0 {s} from the first lives alone: {first.value:.2f} ({first.low:.2f}-{first.high:.2f})")


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
        run = measured_run(args.from_dir or out / "csv")
        rows = read_targets()
        overall_missed: list[str] = []
        cells = cells_in = 0
        print(f"{'measure':44} {'sex':3} {'ages':6} {'target':>8} {'simulated (95% CI)':>26} "
              f"{'band':>7} ok")
        for row in rows:
            target = float(row["value"])
            result = run.measure(row)
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
