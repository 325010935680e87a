"""The two engines side by side on what the compiled engine can run: modules on their own (no
built-in lifecycle, providers or payers), engine time only, on the same people.

    python bench/engine_compare.py [--population 1000] [--modules corpus,default] [--check 50]

For each module folder, every top-level module whose module closure the compiled engine can
lower is kept (the others are listed with the reason); both engines then live the same people
with that set, one after the other in this process, and the bench prints CPU ms per person
for each, their ratio, state entries per person and the compiled engine's one-off costs
(numba compile or cache load, lowering). The first --check people are compared record by
record, so the figures are for identical lives.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

from simulator.compiled.lower import Unsupported, lower
from simulator.engine.program import Program, compile_program
from simulator.gmf import schema as s
from simulator.gmf.loader import ModuleSet, load_modules
from simulator.population.people import Population, PopulationOptions
from simulator.testing import first_difference
from simulator.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"corpus": ROOT.parent / "shared" / "synthea-modules", "default": ROOT / "modules"}


def closure(modules: ModuleSet, key: str) -> set[str]:
    """The module and every submodule it can call, transitively."""
    seen, todo = set(), [key]
    while todo:
        k = todo.pop()
        if k in seen or k not in modules.modules:
            continue
        seen.add(k)
        todo.extend(st.submodule for st in modules.modules[k].states.values()
                    if isinstance(st, s.CallSubmodule))
    return seen


def runnable(modules: ModuleSet) -> tuple[Program, dict[str, str]]:
    """The program of every top-level module the compiled engine can run, and the reasons
    the others were left out."""
    kept: set[str] = set()
    refused: dict[str, str] = {}
    for module in modules.top_level():
        keys = closure(modules, module.key)
        subset = ModuleSet(modules.root, {k: modules.modules[k] for k in keys},
                           modules.lookup_tables)
        try:
            lower(compile_program(subset))
        except Unsupported as exc:
            refused[module.key] = str(exc).split(": ", 1)[-1]
            continue
        kept |= keys
    chosen = ModuleSet(modules.root, {k: modules.modules[k] for k in sorted(kept)},
                       modules.lookup_tables)
    return compile_program(chosen), refused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", type=int, default=1000)
    parser.add_argument("--modules", default="corpus,default")
    parser.add_argument("--check", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for name in args.modules.split(","):
        folder = FOLDERS[name]
        if not folder.is_dir():
            print(f"{name}: {folder} not found, skipped")
            continue
        program, refused = runnable(load_modules(folder))
        print(f"\n{name}: {len(program.top_level)} of {len(program.top_level) + len(refused)} "
              f"top-level modules run compiled")
        reasons = Counter(refused.values())
        for reason, count in reasons.most_common():
            print(f"  left out ({count}): {reason}")
        if not program.top_level:
            continue
        options = PopulationOptions(seed=args.seed, reference_time=(
            date(2025, 1, 1) - date(1970, 1, 1)).days * 86_400_000, natural_death=False)
        people = Population(options)
        began = time.process_time()
        compiled = Worker.for_modules(program, people, lifecycle=False, engine="compiled")
        first = people.make(0)
        compiled.live(first)  # numba: compile, or load the cache
        setup = time.process_time() - began
        reference = Worker.for_modules(program, people, lifecycle=False)
        times: dict[str, float] = {}
        counts: Counter[str] = Counter()
        records = {}
        for label, worker in (("reference", reference), ("compiled", compiled)):
            stats: Counter[str] = Counter()
            began = time.process_time()
            records[label] = [worker.live(people.make(i), stats)[0]
                              for i in range(args.population)]
            times[label] = time.process_time() - began
            counts[label] = sum(stats.values())
        for i in range(min(args.check, args.population)):
            a, b = records["reference"][i], records["compiled"][i]
            if a != b:
                print(f"  person {i} differs: {first_difference(a, b)}")
                return 1
        n = args.population
        print(f"  {'engine':9} {'ms/person':>10} {'states/person':>14}")
        for label in ("reference", "compiled"):
            print(f"  {label:9} {1000 * times[label] / n:>10.3f} {counts[label] / n:>14.0f}")
        print(f"  compiled is {times['reference'] / times['compiled']:.1f}x the reference "
              f"(engine and record building; the first {min(args.check, n)} people identical)")
        print(f"  compiled one-off: {setup:.1f} CPU-s (lowering, numba compile or cache load, "
              "first person)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
