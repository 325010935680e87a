"""The exporters of a run, in two halves.

:class:`ShardExport` runs in a worker: per-patient files (FHIR bundles, C-CDA documents) are
written there as each record finishes, and table-like output (CSV rows, NDJSON lines) is returned
to the parent. :class:`RunOutput` runs in the parent: it appends those rows in person-index order
(so the files do not depend on the worker count) and writes the once-per-run files at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from simulator.export.csv import CsvWriter, record_rows, run_level_lines
from simulator.export.fhir import (
    FhirContext,
    patient_bundle,
    patient_bundle_json,
    patient_resources,
)
from simulator.export.fhir.bundle import shared_bundles, shared_resources
from simulator.export.fhir.output import NdjsonWriter, ndjson_lines, parameters, record_filename
from simulator.record import HealthRecord

MAX_PROBLEMS = 200  # validation messages kept per shard and per run (the count is always complete)


def output_dirs(output: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    names = {"csv": "csv", "fhir": "fhir", "ndjson": "fhir_ndjson", "ccda": "ccda"}
    return {f: output / names[f] for f in formats}


@dataclass
class ShardOutput:
    rows: dict[str, list[str]] = field(default_factory=dict)
    ndjson: dict[str, list[bytes]] = field(default_factory=dict)
    written: int = 0  # CSV rows, NDJSON lines and files
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0


class ShardExport:
    def __init__(self, formats: tuple[str, ...], output: Path, world: Any,
                 bundle_mode: str = "transaction", validate: bool = False) -> None:
        self.formats = formats
        self.dirs = output_dirs(output, formats)
        self.world = world
        self.ctx = FhirContext(world.network, world.payers)
        self.bundle_mode = bundle_mode
        self.validator = None
        if validate and ("fhir" in formats or "ndjson" in formats):
            from simulator.export.fhir_validate import validator

            self.validator = validator()
        self.out = ShardOutput()

    def add(self, record: HealthRecord) -> None:
        out = self.out
        formats = self.formats
        if "csv" in formats:
            for name, lines in record_rows(record).items():
                out.rows.setdefault(name, []).extend(lines)
                out.written += len(lines)
        if "fhir" in formats:
            if self.validator is not None:
                bundle = patient_bundle(record, self.ctx, self.bundle_mode)
                self._report(self.validator.validate_bundle(bundle), "")
                data = orjson.dumps(bundle)
            else:
                data = patient_bundle_json(record, self.ctx, self.bundle_mode)
            (self.dirs["fhir"] / record_filename(record, ".json")).write_bytes(data)
            out.written += 1
        if "ndjson" in formats:
            resources = list(patient_resources(record, self.ctx))
            if self.validator is not None:
                for r in resources:
                    self._report(self.validator.validate(r), f"{r['resourceType']}/{r['id']}: ")
            for rtype, lines in ndjson_lines(resources).items():
                out.ndjson.setdefault(rtype, []).extend(lines)
                out.written += len(lines)
        if "ccda" in formats:
            from simulator.export.ccda import ccda_document, ccda_filename

            text = ccda_document(record, self.world.network)
            (self.dirs["ccda"] / ccda_filename(record)).write_text(text, encoding="utf-8")
            out.written += 1

    def _report(self, messages: list[str], prefix: str) -> None:
        out = self.out
        out.problem_count += len(messages)
        room = MAX_PROBLEMS - len(out.problems)
        if room > 0:
            out.problems.extend(prefix + m for m in messages[:room])

    def take(self) -> ShardOutput:
        out, self.out = self.out, ShardOutput()
        return out


class RunOutput:
    """Parent-side writers. Creates the output folders before any worker starts."""

    def __init__(self, output: Path, formats: tuple[str, ...], bundle_mode: str) -> None:
        self.output = output
        self.formats = formats
        self.bundle_mode = bundle_mode
        self.dirs = output_dirs(output, formats)
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self.csv = CsvWriter(self.dirs["csv"]) if "csv" in formats else None
        self.ndjson = NdjsonWriter(self.dirs["ndjson"]) if "ndjson" in formats else None

    def write(self, shard: ShardOutput) -> None:
        if self.csv is not None:
            self.csv.write_lines(shard.rows)
        if self.ndjson is not None:
            self.ndjson.write_lines(shard.ndjson)

    def finish(self, world: Any, org_encounters: dict[str, int],
               clinician_encounters: dict[str, int], csv_rows: Any) -> None:
        """Once-per-run files: CSV organizations/providers/payers, FHIR side bundles, NDJSON
        shared resources and the bulk-data manifest."""
        ctx = FhirContext(world.network, world.payers)
        if self.csv is not None:
            self.csv.write_lines(csv_rows())
        if "fhir" in self.formats and world.network is not None:
            for name, bundle in shared_bundles(ctx, org_encounters, clinician_encounters,
                                               self.bundle_mode).items():
                (self.dirs["fhir"] / f"{name}.json").write_bytes(orjson.dumps(bundle))
        if self.ndjson is not None:
            if world.network is not None:
                self.ndjson.write_lines(ndjson_lines(shared_resources(
                    ctx, org_encounters, clinician_encounters, virtual=True)))
            names = self.ndjson.names()
            self.ndjson.close()
            (self.dirs["ndjson"] / "parameters.json").write_bytes(
                orjson.dumps(parameters(names), option=orjson.OPT_INDENT_2))

    def close(self) -> None:
        if self.csv is not None:
            self.csv.close()
        if self.ndjson is not None:
            self.ndjson.close()


__all__ = ["MAX_PROBLEMS", "RunOutput", "ShardExport", "ShardOutput", "output_dirs", "run_level_lines"]
