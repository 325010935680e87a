"""Builds simulator/data/module_mortality.csv: the deaths the project's modules cause, by module,
sex and age band, measured on a finished run of the project's modules.

    python -m simulator -p 1000000 -s 1 --format parquet -o RUN        # or CSV; any size
    python data-sources/module_mortality/build.py RUN [--window 10] [--band 5]

A run of the project's modules draws natural death from the life table less these deaths
(simulator/population/module_mortality.py), so measure on a run made *before* the table
existed or with it: each module's death rate does not depend on natural death (competing risks;
the natural-death age is drawn apart from everything a module reads), so either run gives the
same rates. Rebuild after changing a module's mortality or what leads to it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from simulator.population.module_mortality import DATA_FILE, measure, write

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--band", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DATA_FILE)
    args = parser.parse_args()
    record = json.loads((args.run / "run.json").read_text())
    options, counts = record["options"], record["counts"]
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h"],
                            capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "modules"],
                             capture_output=True, text=True).stdout.strip()
    if commit and changed:
        commit += " with modules/ changes not yet committed (name the commit that lands them)"
    rates = measure(args.run, window_years=args.window, band_years=args.band)
    source = "\n".join([
        "Yearly probability of dying of each of the project's modules, by sex and age band",
        "(from_age..to_age): module deaths / person-years over the "
        f"{args.window} years before the reference date,",
        "q = 1 - exp(-rate). Measured by data-sources/module_mortality/build.py on a run of the",
        f"project's modules at commit {commit or 'unknown'}: {counts['people']:,} people "
        f"({counts['simulated']:,} lives, the deceased",
        f"ones included), seed {options['seed']}, {options['state']}, reference date "
        f"{options['reference_date']}.",
    ])
    write(args.out, rates, source, args.band)
    print(f"wrote {args.out} ({len(rates)} modules)")


if __name__ == "__main__":
    main()
