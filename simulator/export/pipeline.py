"""The exporters of a run, in two halves joined by a shard's part folder.

:class:`ShardExport` runs in a worker and streams everything one shard produces into the
shard's own part folder (``OUTPUT/.parts/shard-…/``): per-patient files (FHIR bundles, C-CDA
documents) and the shard's slice of the table-like files (CSV rows, NDJSON lines), written as
each record finishes, so a worker holds at most one record in memory. :class:`RunOutput` runs in
the parent: it merges part folders in shard order (per-patient files are moved, slices are
appended), so the files do not depend on the worker count, and writes the once-per-run files at
the end. Nothing reaches the final folders before its shard is complete, which is what makes a
killed run resumable (see :mod:`simulator.runstate`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from simulator.export.claim_transactions import ClaimTransactions
from simulator.export.csv import CSV_FILES, record_rows
from simulator.export.fhir import (
    FhirContext,
    patient_bundle,
    patient_bundle_chunks,
    patient_resources,
)
from simulator.export.fhir.bundle import shared_bundles, shared_resources
from simulator.export.fhir.output import ndjson_lines, parameters, record_filename
from simulator.export.history import recent_history
from simulator.record import HealthRecord

MAX_PROBLEMS = 200  # validation messages kept per shard and per run (the count is always complete)
FOLDERS = {"csv": "csv", "fhir": "fhir", "ndjson": "fhir_ndjson", "ccda": "ccda",
           "parquet": "parquet"}
# Formats whose shard slices are appended to one run-wide file per table / resource type.
APPENDED = {"csv": ".csv", "ndjson": ".ndjson"}
# Claim transactions per Parquet row group (made from values, not parsed from CSV text): about
# 4 MB of their CSV text, half of what the other tables buffer (parquet.FLUSH_BYTES).
TRANSACTION_ROW_GROUP = 10_000
# Every file a format writes into its folder (what --overwrite deletes, and only that).
WRITTEN = {"csv": ("*.csv",), "fhir": ("*.json",), "ndjson": ("*.ndjson", "parameters.json"),
           "ccda": ("*.xml",), "parquet": ("*/*.parquet",)}
# Formats written as one folder per table, a file per shard in each (moved in at the merge).
TABLE_FOLDERS = ("parquet",)


def output_dirs(output: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    return {f: output / FOLDERS[f] for f in formats}


class LineFiles:
    """Files in one folder that lines are appended to, opened on first use."""

    def __init__(self, directory: Path, suffix: str) -> None:
        self.directory = directory
        self.suffix = suffix
        self._files: dict[str, BinaryIO] = {}

    def _file(self, name: str) -> BinaryIO:
        f = self._files.get(name)
        if f is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            f = self._files[name] = open(self.directory / f"{name}{self.suffix}", "ab")  # noqa: SIM115
        return f

    def write_text(self, name: str, text: bytes) -> None:
        """Lines already joined, each ending in LF."""
        self._file(name).write(text)

    def write_one(self, name: str, line: bytes) -> None:
        f = self._file(name)
        f.write(line)
        f.write(b"\n")

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


@dataclass
class ShardOutput:
    written: int = 0  # CSV rows, NDJSON lines and files
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0


class ShardExport:
    """Writes one shard's output into ``part_dir`` (mirroring the output folder's layout)."""

    def __init__(self, formats: tuple[str, ...], part_dir: Path, world: Any,
                 bundle_mode: str = "transaction", validate: bool = False,
                 csv_files: tuple[str, ...] | None = None, years_of_history: int = 0,
                 stop_time: int = 0) -> None:
        self.formats = formats
        self.years_of_history = years_of_history  # the export window (export.history)
        self.stop_time = stop_time
        self.csv_files = csv_files
        self.dirs = output_dirs(part_dir, formats)
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self.world = world
        self.ctx = FhirContext(world.network, world.payers)
        self.bundle_mode = bundle_mode
        self.validator = None
        if validate and ("fhir" in formats or "ndjson" in formats):
            from simulator.export.fhir_validate import validator

            self.validator = validator()
        self.lines = {f: LineFiles(self.dirs[f], APPENDED[f]) for f in APPENDED if f in formats}
        self.parquet = None
        if "parquet" in formats:
            from simulator.export.parquet import ParquetTables

            self.parquet = ParquetTables(self.dirs["parquet"], part_dir.name,
                                         csv_files if csv_files is not None else CSV_FILES)
        # where the claim transactions are gathered: as text for the CSV file, as values for
        # the Parquet table (None: no CSV table is written)
        self.transactions = (
            ClaimTransactions(text="csv" in formats, columns=self.parquet is not None)
            if "csv" in formats or self.parquet is not None else None)
        self.out = ShardOutput()

    def add(self, life: HealthRecord) -> None:
        """Writes a life as exported: its last `years_of_history` years (the patient's
        lifetime costs still count every claim)."""
        record = recent_history(life, self.years_of_history, self.stop_time)
        out = self.out
        formats = self.formats
        if self.transactions is not None:
            rows = record_rows(record, files=self.csv_files, lifetime=life,
                               transactions=self.transactions)
            for name, lines in rows.items():
                if lines:
                    self._table_text(name, ("\n".join(lines) + "\n").encode(), len(lines))
            made = self.transactions.rows
            if made:
                self.lines["csv"].write_text("claims_transactions", self.transactions.text())
                self.out.written += made
            if self.transactions.column_rows >= TRANSACTION_ROW_GROUP:
                self._transaction_table()
        if "fhir" in formats:
            path = self.dirs["fhir"] / record_filename(record, ".json")
            if self.validator is not None:
                bundle = patient_bundle(record, self.ctx, self.bundle_mode)
                self._report(self.validator.validate_bundle(bundle), "")
                path.write_bytes(orjson.dumps(bundle))
            else:
                with open(path, "wb") as fh:  # entry by entry: a long record's bundle is large
                    for chunk in patient_bundle_chunks(record, self.ctx, self.bundle_mode):
                        fh.write(chunk)
            out.written += 1
        if "ndjson" in formats:
            ndjson = self.lines["ndjson"]
            for r in patient_resources(record, self.ctx):  # one resource's dicts at a time
                if self.validator is not None:
                    self._report(self.validator.validate(r), f"{r['resourceType']}/{r['id']}: ")
                ndjson.write_one(r["resourceType"], orjson.dumps(r))
                out.written += 1
        if "ccda" in formats:
            from simulator.export.ccda import ccda_chunks, ccda_filename

            with open(self.dirs["ccda"] / ccda_filename(record), "w", encoding="utf-8") as fh:
                for piece in ccda_chunks(record, self.world.network):
                    fh.write(piece)
            out.written += 1

    def _table_text(self, name: str, text: bytes, rows: int) -> None:
        """``rows`` lines of CSV table ``name`` into the CSV file and the Parquet table."""
        if "csv" in self.formats:
            self.lines["csv"].write_text(name, text)
            self.out.written += rows
        if self.parquet is not None:
            before = self.parquet.rows
            self.parquet.add_text(name, text, rows)
            self.out.written += self.parquet.rows - before

    def _transaction_table(self) -> None:
        assert self.parquet is not None and self.transactions is not None
        before = self.parquet.rows
        self.parquet.add_table("claims_transactions", self.transactions.table())
        self.out.written += self.parquet.rows - before

    def _report(self, messages: list[str], prefix: str) -> None:
        out = self.out
        out.problem_count += len(messages)
        room = MAX_PROBLEMS - len(out.problems)
        if room > 0:
            out.problems.extend(prefix + m for m in messages[:room])

    def close(self) -> ShardOutput:
        if self.parquet is not None and self.transactions is not None and (
                self.transactions.column_rows):
            self._transaction_table()
        for files in self.lines.values():
            files.close()
        if self.parquet is not None:
            self.parquet.close()
        return self.out


def append_file(src: BinaryIO, dest: BinaryIO) -> None:
    """Appends all of `src` to `dest` (positioned at its end). In the kernel where it can
    (copy_file_range: a shard's slices are most of what a run writes, and copying them through
    Python cost a tenth of a run's time), else through a buffer."""
    dest.flush()
    size = os.fstat(src.fileno()).st_size
    copied = 0
    try:
        while copied < size:
            n = os.copy_file_range(src.fileno(), dest.fileno(), size - copied)
            if n == 0:
                break
            copied += n
    except (AttributeError, OSError):  # not Linux, or a file system that cannot
        src.seek(copied)
        shutil.copyfileobj(src, dest, 1 << 20)
    dest.seek(0, os.SEEK_END)


class RunOutput:
    """Parent-side output: creates the output folders before any worker starts (or, resuming,
    cuts the appended files back to the sizes of the last merged shard), merges part folders
    and writes the once-per-run files."""

    def __init__(self, output: Path, formats: tuple[str, ...], bundle_mode: str,
                 resume_sizes: dict[str, int] | None = None,
                 csv_files: tuple[str, ...] | None = None) -> None:
        self.output = output
        self.formats = formats
        self.csv_files = tuple(CSV_FILES) if csv_files is None else csv_files
        self.bundle_mode = bundle_mode
        self.dirs = output_dirs(output, formats)
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, BinaryIO] = {}  # relative path -> handle, appended files only
        if resume_sizes is None:
            for f in APPENDED:
                if f in formats:
                    for old in self.dirs[f].glob(f"*{APPENDED[f]}"):
                        old.unlink()
            if "csv" in formats:
                for stem in self.csv_files:
                    self._append(f"csv/{stem}.csv", [",".join(CSV_FILES[stem]).encode()])
        else:
            self._restore(resume_sizes)

    def _restore(self, sizes: dict[str, int]) -> None:
        """Appended files back to their recorded sizes; a file the record does not know was
        begun by a merge that never finished, and goes."""
        for f in APPENDED:
            if f not in self.formats:
                continue
            for path in sorted(self.dirs[f].glob(f"*{APPENDED[f]}")):
                rel = path.relative_to(self.output).as_posix()
                if rel not in sizes:
                    path.unlink()
        for rel, size in sizes.items():
            path = self.output / rel
            if not path.is_file() or path.stat().st_size < size:
                raise FileNotFoundError(f"{path} is missing or shorter than the run record says")
            with open(path, "r+b") as fh:
                fh.truncate(size)

    def _handle(self, rel: str) -> BinaryIO:
        fh = self._files.get(rel)
        if fh is None:
            # written at its end, but not opened for appending: copy_file_range refuses that
            fd = os.open(self.output / rel, os.O_WRONLY | os.O_CREAT, 0o666)
            fh = self._files[rel] = os.fdopen(fd, "wb")
            fh.seek(0, os.SEEK_END)
        return fh

    def _append(self, rel: str, lines: list[bytes]) -> None:
        if lines:
            self._handle(rel).write(b"\n".join(lines) + b"\n")

    def merge(self, part_dir: Path) -> None:
        """Moves a finished shard's per-patient files into place and appends its slices."""
        for fmt, folder in output_dirs(part_dir, self.formats).items():
            if not folder.is_dir():
                continue
            with os.scandir(folder) as entries:
                names = sorted(e.name for e in entries if e.is_file())
            if fmt in APPENDED:
                for name in names:
                    with open(folder / name, "rb") as src:
                        append_file(src, self._handle(f"{FOLDERS[fmt]}/{name}"))
            elif fmt in TABLE_FOLDERS:
                for table in sorted(p for p in folder.iterdir() if p.is_dir()):
                    target = self.dirs[fmt] / table.name
                    target.mkdir(exist_ok=True)
                    for path in sorted(table.iterdir()):
                        os.replace(path, target / path.name)
            else:
                target = self.dirs[fmt]
                for name in names:
                    os.replace(folder / name, target / name)

    def sizes(self) -> dict[str, int]:
        """Every appended file and its size now (flushed), for the run record."""
        for fh in self._files.values():
            fh.flush()
        sizes = {}
        for fmt, suffix in APPENDED.items():
            if fmt in self.formats:
                for path in self.dirs[fmt].glob(f"*{suffix}"):
                    sizes[path.relative_to(self.output).as_posix()] = path.stat().st_size
        return dict(sorted(sizes.items()))

    def finish(self, world: Any, org_encounters: dict[str, int],
               clinician_encounters: dict[str, int], csv_lines: Any) -> None:
        """Once-per-run files: CSV organizations/providers/payers, FHIR side bundles, NDJSON
        shared resources and the bulk-data manifest."""
        ctx = FhirContext(world.network, world.payers)
        tables = csv_lines() if {"csv", "parquet"} & set(self.formats) else {}
        if "csv" in self.formats:
            for stem, lines in tables.items():
                if stem in self.csv_files:
                    self._append(f"csv/{stem}.csv", [line.encode() for line in lines])
        if "parquet" in self.formats:
            from simulator.export.parquet import RUN_PART, write_table

            folder = self.dirs["parquet"]
            for stem, lines in tables.items():
                if stem in self.csv_files:
                    write_table(folder / stem / f"{RUN_PART}.parquet", stem, lines)
            for stem in self.csv_files:  # a table no one had a row of still has its schema
                if not any((folder / stem).glob("*.parquet")):
                    write_table(folder / stem / f"{RUN_PART}.parquet", stem, [])
        if "fhir" in self.formats and world.network is not None:
            for name, bundle in shared_bundles(ctx, org_encounters, clinician_encounters,
                                               self.bundle_mode).items():
                (self.dirs["fhir"] / f"{name}.json").write_bytes(orjson.dumps(bundle))
        if "ndjson" in self.formats:
            if world.network is not None:
                shared = ndjson_lines(shared_resources(
                    ctx, org_encounters, clinician_encounters, virtual=True))
                for rtype, lines in shared.items():
                    self._append(f"fhir_ndjson/{rtype}.ndjson", lines)
            self.close()
            names = sorted(p.name.removesuffix(".ndjson")
                           for p in self.dirs["ndjson"].glob("*.ndjson"))
            (self.dirs["ndjson"] / "parameters.json").write_bytes(
                orjson.dumps(parameters(names), option=orjson.OPT_INDENT_2))

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()


__all__ = ["MAX_PROBLEMS", "TABLE_FOLDERS", "RunOutput", "ShardExport", "ShardOutput",
           "output_dirs"]
