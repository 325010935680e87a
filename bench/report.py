"""Time and peak memory of `simulate report` on a run, extrapolated to 100,000 people.

    python bench/report.py [--sizes 1000,10000] [--seed 1] [--workers 2] [--format csv]
                           [--keep DIR] [--from-dir RUN ...]

Simulates each size (`simulate -p N --format csv`: the report then reads CSV, the slower of
its two readers; `--format parquet` measures the other), then runs `simulate report` on the
run in a fresh process and prints its wall time, CPU time and peak resident memory (the
process's own high-water mark, ru_maxrss, which DuckDB's threads count in), with the run's
bytes on disk. With two sizes or more, time and memory are fitted as a + b × people (least
squares) and extrapolated to 100,000 people. DuckDB holds the tables it reads up to its
memory limit (1 GB by default) and spills to disk beyond, so memory does not keep growing
with the population as the fit would have it: the largest run is measured again with
`--memory-limit 256MB`, and its peak, less those 256 MB, plus the default 1 GB bounds what a
larger run needs. Targets (issue 19): at most 60 s and 2 GB for 10,000 people. `--from-dir` measures existing run folders instead of simulating (their
people counted from run.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 60.0
TARGET_MB = 2048.0
TARGET_PEOPLE = 10_000
EXTRAPOLATE_TO = 100_000
CAPPED_MB = 256
DEFAULT_LIMIT_MB = 1024


def simulate(out: Path, people: int, seed: int, workers: int, fmt: str) -> None:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simulator", "-p", str(people), "-s", str(seed),
                    "-w", str(workers), "--format", fmt, "--reference-date", "2024-01-01",
                    "-o", str(out)], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "CI": "1"})
    print(f"simulated {people:,} people in {time.perf_counter() - began:.0f} s ({out})",
          flush=True)


def measure_report(run: Path, *options: str) -> dict[str, float]:
    """`simulate report RUN` in a child process: wall seconds, CPU seconds, peak MB."""
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "report", str(run), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"simulate report {run} failed:\n{err}")
    print("  " + out.strip())
    return {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime,
            "mb": usage.ru_maxrss / 1024}  # ru_maxrss is in KiB on Linux


def disk_mb(run: Path) -> float:
    return sum(p.stat().st_size for p in run.rglob("*") if p.is_file()
               and "report" not in p.relative_to(run).parts[:1]
               and p.name != "report.html") / 2**20


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares a, b of y = a + b x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - b * mx, b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", default="csv", help="csv (default) or parquet")
    parser.add_argument("--keep", type=Path, help="write the runs under this folder and keep them")
    parser.add_argument("--from-dir", type=Path, nargs="+", help="measure these run folders")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        root = args.keep or Path(tmp)
        runs: list[tuple[int, Path]] = []
        if args.from_dir:
            for folder in args.from_dir:
                record = json.loads((folder / "run.json").read_text())
                runs.append((int(record["options"]["population"]), folder))
        else:
            for people in (int(s) for s in args.sizes.split(",")):
                folder = root / f"run-{people}"
                simulate(folder, people, args.seed, args.workers, args.format)
                runs.append((people, folder))
        rows = []
        print(f"{'people':>8} {'run MB':>8} {'report s':>9} {'CPU s':>7} {'peak MB':>8}")
        for people, folder in runs:
            m = measure_report(folder)
            rows.append((people, m))
            print(f"{people:8,} {disk_mb(folder):8,.0f} {m['seconds']:9.1f} {m['cpu']:7.1f} "
                  f"{m['mb']:8,.0f}", flush=True)
        verdict = 0
        for people, m in rows:
            if people == TARGET_PEOPLE:
                ok = m["seconds"] <= TARGET_SECONDS and m["mb"] <= TARGET_MB
                verdict |= not ok
                print(f"target at {TARGET_PEOPLE:,} people: <= {TARGET_SECONDS:.0f} s and "
                      f"<= {TARGET_MB:,.0f} MB: {'met' if ok else 'MISSED'}")
        if len({p for p, _ in rows}) >= 2:
            for key, unit in (("seconds", "s"), ("mb", "MB")):
                a, b = fit([(p, m[key]) for p, m in rows])
                print(f"{key}: {a:,.1f} + {b * 1000:,.3f} per 1,000 people → "
                      f"{a + b * EXTRAPOLATE_TO:,.0f} {unit} at {EXTRAPOLATE_TO:,} people "
                      "(linear extrapolation)")
        people, folder = max(runs)
        capped = measure_report(folder, "--memory-limit", f"{CAPPED_MB}MB")
        bound = capped["mb"] - CAPPED_MB + DEFAULT_LIMIT_MB
        print(f"{people:,} people with DuckDB held to {CAPPED_MB} MB: {capped['seconds']:.1f} s, "
              f"peak {capped['mb']:,.0f} MB; so with its default {DEFAULT_LIMIT_MB:,} MB a run "
              f"of any size peaks near {bound:,.0f} MB plus its Python arrays (a few numbers "
              "per person)")
        return verdict


if __name__ == "__main__":
    raise SystemExit(main())
