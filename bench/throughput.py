"""End-to-end throughput and memory of `simulate`, as a user runs it.

    python bench/throughput.py [--sizes 1000,10000] [--workers 1,2] [--formats csv,fhir]
                               [--modules corpus,default] [--engines reference,compiled]
                               [--history 10,0] [--bytes] [--keep-output DIR]

Each combination runs `simulate` in a fresh process and prints people/s and records/s (wall
clock; records count the deceased records too, as Synthea counts them), CPU-s per person
(parent and workers), the workers' CPU ms per person by phase as the run recorded them in
run.json (engine: the SimPy life, or the compiled kernel; records: building HealthRecords from
the kernel's journal, compiled engine only; export: the writers), and the peak resident memory
of the parent and of the largest worker, sampled every 0.1 s with psutil. The numba compile is
paid once per install, before the first run: the first compiled line would include it, so the
bench pays it first in a run of its own and prints it. "corpus" is Synthea's module corpus from ../shared/synthea-modules; "default" is
the project's modules/. Figures of one invocation are comparable with each other; across
invocations this machine's noise applies. Both engines run side by side in one invocation; a
run the compiled engine cannot do yet prints the reason it gave instead of figures (engine-only
figures on what it can run: bench/engine_compare.py).
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "synthea-modules"
FORMATS = {"csv": "csv", "fhir": "fhir,csv", "parquet": "parquet"}


def measure(args: list[str]) -> dict[str, float]:
    began = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-m", "simulator", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CI": "1"})
    parent = psutil.Process(proc.pid)
    peak_parent = peak_worker = 0
    while proc.poll() is None:
        try:
            peak_parent = max(peak_parent, parent.memory_info().rss)
            for child in parent.children(recursive=True):
                peak_worker = max(peak_worker, child.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = proc.communicate()
    if proc.returncode == 2 and "cannot run" in err:
        return {"refused": err.strip().splitlines()[-1]}  # type: ignore[dict-item]
    if proc.returncode != 0:
        raise SystemExit(f"simulate {' '.join(args)} failed:\n{err}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = Path(args[args.index("-o") + 1])
    run = orjson.loads((output / "run.json").read_bytes())
    counts = run.get("counts", {})
    return {
        "phases": run.get("cpu_seconds", {}),
        "records": counts.get("alive", 0) + counts.get("dead", 0),
        "seconds": time.perf_counter() - began,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "parent_mb": peak_parent / 2**20,
        "worker_mb": peak_worker / 2**20,
    }


def print_bytes(output: Path, records: int) -> None:
    """Bytes per record of each table (CSV file, NDJSON resource type) or per-patient folder,
    largest first, and the total."""
    sizes: dict[str, int] = {}
    for path in output.rglob("*"):
        if path.is_file() and ".parts" not in path.parts and path.name != "run.json":
            key = (f"{path.parent.name}/{path.name}" if path.suffix in (".csv", ".ndjson")
                   else f"{path.parent.name}/*{path.suffix}")
            sizes[key] = sizes.get(key, 0) + path.stat().st_size
    total = sum(sizes.values())
    print(f"    bytes per record: {total / max(records, 1) / 1e6:.3f} MB in all", flush=True)
    for key, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if size >= total / 1000:
            print(f"      {key:40} {size / max(records, 1) / 1e3:>10.1f} kB", flush=True)


def compile_once(base: Path, modules: Path) -> None:
    """Pays the numba compile (or loads the cache) in a run of its own, and prints it."""
    began = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "simulator", "-p", "1", "-s", "1", "-w", "1",
                    "--format", "csv", "-o", str(base / "compile"), "--modules-dir", str(modules),
                    "--engine", "compiled"], check=True, capture_output=True,
                   env={**os.environ, "CI": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"compiled engine, first run (numba compile once per install, or its cache loaded): "
          f"{time.perf_counter() - began:.1f} s, {cpu:.1f} CPU-s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--formats", default="csv,fhir")
    parser.add_argument("--modules", default="corpus,default")
    parser.add_argument("--engines", default="reference,compiled")
    parser.add_argument("--history", default="10",
                        help="--years-of-history values (10: Synthea's default; 0: whole lives)")
    parser.add_argument("--bytes", action="store_true",
                        help="after each run, the bytes per record of each table written")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-output", type=Path, default=None,
                        help="write the runs here instead of a temporary folder")
    args = parser.parse_args()
    module_dirs = {"corpus": CORPUS, "default": ROOT / "modules"}
    if "corpus" in args.modules and not CORPUS.is_dir():
        raise SystemExit(f"the Synthea corpus is not at {CORPUS}")
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep_output or Path(tmp)
        if "compiled" in args.engines.split(","):
            compile_once(base, module_dirs[args.modules.split(",")[0]])
        print(f"{'engine':9} {'modules':8} {'format':9} {'years':>5} {'people':>7} "
              f"{'workers':>7} {'people/s':>9} {'records/s':>9} {'CPU-s/person':>12} "
              f"{'engine ms':>9} {'records ms':>10} {'export ms':>9} {'parent MB':>9} "
              f"{'worker MB':>9} {'seconds':>8}")
        combos = itertools.product(args.modules.split(","), args.formats.split(","),
                                   map(int, args.history.split(",")),
                                   map(int, args.sizes.split(",")),
                                   map(int, args.workers.split(",")))
        for modules, fmt, years, size, workers in combos:
            for engine in args.engines.split(","):  # side by side: the same run, both engines
                out = base / f"{engine}-{modules}-{fmt}-y{years}-{size}-w{workers}"
                m = measure(["-p", str(size), "-s", str(args.seed), "-w", str(workers),
                             "--format", FORMATS[fmt], "-o", str(out),
                             "--modules-dir", str(module_dirs[modules]),
                             "--years-of-history", str(years),
                             "--reference-date", "2025-01-01", "--engine", engine])
                head = (f"{engine:9} {modules:8} {FORMATS[fmt]:9} {years:>5} {size:>7} "
                        f"{workers:>7} ")
                if "refused" in m:
                    print(f"{head}refused: {m['refused']}", flush=True)
                    continue
                worker_mb = m["worker_mb"] if workers > 1 else m["parent_mb"]
                ms = {k: 1000 * v / size for k, v in m["phases"].items()}  # type: ignore[union-attr]
                records = f"{ms['records']:>10.1f}" if "records" in ms else f"{'-':>10}"
                print(f"{head}{size / m['seconds']:>9.1f} {m['records'] / m['seconds']:>9.1f} "
                      f"{m['cpu'] / size:>12.3f} "
                      f"{ms.get('engine', 0):>9.1f} {records} {ms.get('export', 0):>9.1f} "
                      f"{m['parent_mb']:>9.0f} {worker_mb:>9.0f} {m['seconds']:>8.1f}",
                      flush=True)
                if args.bytes:
                    print_bytes(out, int(m["records"]))
                if args.keep_output is None:
                    subprocess.run(["rm", "-rf", str(out)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
