"""Throughput of a corpus run: people/s, state entries/s, CPU-s per person and peak RSS.

    python bench/corpus_run.py [--population 1000] [--workers 2] [--modules-dir DIR]

Also checks that every state type the corpus uses (except Physiology, which is disabled as in
Synthea's default configuration) was entered at least once.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

from simulator.config import RunConfig
from simulator.run import run

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "synthea-modules"


def corpus_state_types(modules_dir: Path) -> Counter[str]:
    used: Counter[str] = Counter()
    for path in modules_dir.rglob("*.json"):
        if "lookup_tables" in path.parts:
            continue
        for state in json.loads(path.read_text())["states"].values():
            used[state["type"]] += 1
    return used


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--population", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modules-dir", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.output or Path(tmp) / "out"
        config = RunConfig(
            population=args.population, seed=args.seed, modules_dir=args.modules_dir, output=out,
            reference_date=date(2025, 1, 1), workers=args.workers,
        )
        summary = run(config)
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    entries = sum(summary.state_counts.values())
    print(f"modules dir        {args.modules_dir}")
    print(f"people             {summary.people} ({summary.alive} alive, {summary.dead} dead), workers {args.workers}")
    print(f"wall time          {summary.seconds:.1f} s")
    print(f"people/s           {summary.people_per_second:.1f}")
    print(f"CPU-s per person   {summary.cpu_seconds / max(summary.people, 1):.3f}")
    print(f"state entries      {entries} ({entries / summary.seconds:,.0f}/s)")
    print(f"records written    {summary.records_written}")
    print(f"peak RSS (MB)      main {rss_self:.0f}, largest worker {rss_children:.0f}")
    print("state entries by type:")
    for kind, count in sorted(summary.state_counts.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:18s} {count}")
    used = corpus_state_types(args.modules_dir)
    missing = sorted(t for t in used if t != "Physiology" and summary.state_counts[t] == 0)
    if missing:
        print(f"state types used by the modules but never entered: {', '.join(missing)}")
        return 1
    print(f"every state type used by the modules except Physiology was entered ({len(used) - ('Physiology' in used)} types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
