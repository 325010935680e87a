"""The uploader's own ceiling: `simulate upload` against a server that answers instantly
(bench/instant_fhir_server.mjs, Node), so users can tell the client's limit from their server's.

    python bench/upload_ceiling.py [--people 30] [--concurrency 1,8,32] [--bundle-size 50]

Simulates a run once (FHIR bundles and NDJSON, default modules), then uploads it with each
concurrency, as transaction bundles and as one PUT per NDJSON resource. Prints requests/s,
resources/s, MB/s and the uploader's CPU seconds per request (the server runs in its own
process; on this 2-core machine the two share the cores). Figures of one invocation are
comparable with each other.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True,
                          text=True, env={**os.environ, "CI": "1"}, check=False)


def upload(run: Path, url: str, source: str, concurrency: int, bundle_size: int,
           report: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = simulate("upload", str(run), "--url", url, "--source", source, "--concurrency",
                      str(concurrency), "--bundle-size", str(bundle_size), "--restart",
                      "--upload-state", str(report.with_suffix(".state")), "--report", str(report))
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"upload failed:\n{result.stdout}\n{result.stderr}")
    data = json.loads(report.read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"requests": data["requests"], "resources": data["resources"],
            "rps": data["throughput"]["requests_per_second"],
            "res_ps": data["throughput"]["resources_per_second"],
            "mbps": data["throughput"]["megabytes_per_second"],
            "p50": data["latency_ms"]["p50"], "p99": data["latency_ms"]["p99"],
            "cpu_ms_per_request": 1000 * cpu / max(data["requests"], 1), "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--bundle-size", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("node") is None:
        sys.exit("needs node on PATH for the instant server")
    work = Path(tempfile.mkdtemp(prefix="upload-bench-"))
    try:
        run = work / "run"
        made = simulate("-p", str(args.people), "-s", "1", "--format", "fhir,ndjson",
                        "--reference-date", "2025-01-01", "-o", str(run))
        if made.returncode != 0:
            sys.exit(made.stderr)
        server = subprocess.Popen(["node", str(ROOT / "instant_fhir_server.mjs")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert server.stdout is not None
            url = f"http://127.0.0.1:{int(server.stdout.readline())}/fhir"
            print(f"{args.people} people (default modules), bundles of {args.bundle_size}, "
                  "instant server")
            print(f"{'source':<8} {'conc':>4} {'requests':>8} {'req/s':>8} {'res/s':>9} "
                  f"{'MB/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>10}")
            for source in ("bundles", "ndjson"):
                for c in (int(x) for x in args.concurrency.split(",")):
                    r = upload(run, url, source, c, args.bundle_size, work / f"{source}-{c}.json")
                    print(f"{source:<8} {c:>4} {r['requests']:>8} {r['rps']:>8.1f} "
                          f"{r['res_ps']:>9.0f} {r['mbps']:>6.1f} {r['p50']:>7.2f} "
                          f"{r['p99']:>7.2f} {r['cpu_ms_per_request']:>10.2f}", flush=True)
        finally:
            if server.stdin:
                server.stdin.close()
            server.wait(10)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
