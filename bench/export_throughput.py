"""Export throughput: people/s and bytes per person for each output format, on one core.

    python bench/export_throughput.py [--population 200] [--modules-dir DIR] [--validate]

People are simulated once and kept in memory; then each exporter turns the same records into
bytes, timed on its own, so the figures are the exporters' cost alone (simulation excluded). The
ratio to the simulation's own time is printed too, as this machine is noisy. With --validate the
FHIR validator's speed (resources/s) is measured as well and every bundle is checked.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import orjson

from simulator.config import RunConfig
from simulator.export.csv import record_rows
from simulator.export.fhir import (
    FhirContext,
    patient_bundle,
    patient_bundle_json,
    patient_resources,
)
from simulator.record import HealthRecord
from simulator.worker import Worker, world


def simulate(config: RunConfig) -> tuple[list[HealthRecord], float]:
    worker = Worker.for_run(config)
    indices = list(range(config.population))
    ints, floats = worker.population.draw(indices)
    began = time.process_time()
    records = [r for k, i in enumerate(indices) for r in worker.records(i, ints[k], floats[k])]
    return records, time.process_time() - began


def timed(records: list[HealthRecord], export: Callable[[HealthRecord], int]) -> tuple[float, int]:
    began = time.process_time()
    size = sum(export(r) for r in records)
    return time.process_time() - began, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modules-dir", type=Path, default=None)
    parser.add_argument("--validate", action="store_true")
    args = parser.parse_args()
    options = {"population": args.population, "seed": args.seed,
               "reference_date": date(2025, 1, 1)}
    if args.modules_dir is not None:
        options["modules_dir"] = args.modules_dir
    config = RunConfig(**options)
    records, sim_seconds = simulate(config)
    shared = world("MA")
    ctx = FhirContext(shared.network, shared.payers)
    people = len(records)

    def csv(r: HealthRecord) -> int:
        return sum(len(line) + 1 for lines in record_rows(r).values() for line in lines)

    def fhir(r: HealthRecord) -> int:
        return len(patient_bundle_json(r, ctx))

    def ndjson(r: HealthRecord) -> int:
        return sum(len(orjson.dumps(x)) + 1 for x in patient_resources(r, ctx))

    exporters: dict[str, Callable[[HealthRecord], int]] = {"csv": csv, "fhir": fhir,
                                                          "ndjson": ndjson}
    try:
        from simulator.export.ccda import ccda_document

        exporters["ccda"] = lambda r: len(ccda_document(r, shared.network).encode())
    except ImportError:
        pass

    print(f"{people} records ({args.population} people) simulated in {sim_seconds:.1f} CPU-s "
          f"({people / sim_seconds:.1f} records/s)")
    print(f"{'format':8} {'records/s':>10} {'CPU-s/rec':>10} {'bytes/rec':>12} {'vs simulation':>14}")
    for name, export in exporters.items():
        seconds, size = timed(records, export)
        print(f"{name:8} {people / seconds:10.1f} {seconds / people:10.4f} {size / people:12,.0f} "
              f"{seconds / sim_seconds:13.2f}x")

    if args.validate:
        from simulator.export.fhir_validate import validator

        check = validator()
        began = time.process_time()
        resources = problems = 0
        for r in records:
            bundle = patient_bundle(r, ctx)
            resources += len(bundle["entry"])
            messages = check.validate_bundle(bundle)
            problems += len(messages)
            for m in messages[:5]:
                print("  ", m)
        seconds = time.process_time() - began
        print(f"validation: {resources} resources, {problems} problems, "
              f"{resources / seconds:,.0f} resources/s")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
