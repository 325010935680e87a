"""A finished run's folder: its ``run.json`` and its tables, read in bulk with DuckDB.

Each table is read from its Parquet dataset when the run wrote one (typed, columnar, read
fastest) and else from its CSV file, with the CSV read into the very column types the
Parquet export gives (``simulator.export.parquet.column_types``), so every query sees the
same types whichever format the run wrote. Tables are DuckDB views: the large ones
(``claims``, ``claims_transactions``) are scanned where a query needs them, never held; the
rest are copied once, with only the columns the report reads, when first asked for.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from simulator.errors import UserError

RUN_FILE = "run.json"
# DuckDB spills to disk past this rather than growing (the report's own target is 2 GB for
# 10,000 people; `simulate report --memory-limit` sets another)
MEMORY_LIMIT = "1GB"
_SIZE = re.compile(r"\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*", re.IGNORECASE)


def memory_limit(text: str) -> str:
    """A size for DuckDB's memory limit (512MB, 2GB), checked here so a typo is the user's
    error, not DuckDB's."""
    if not _SIZE.fullmatch(text):
        raise UserError(f"option --memory-limit: expected a size such as 512MB or 2GB, got "
                        f"{text!r}")
    return text.strip().replace(" ", "")

# The columns the report reads, per table; tables not named here are only scanned in place
KEPT_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("Id", "BIRTHDATE", "DEATHDATE", "RACE", "ETHNICITY", "GENDER", "INCOME",
                 "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE"),
    "encounters": ("Id", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER",
                   "ENCOUNTERCLASS", "CODE", "TOTAL_CLAIM_COST", "PAYER_COVERAGE",
                   "REASONCODE", "REASONDESCRIPTION"),
    "conditions": ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION"),
    "medications": ("START", "STOP", "PATIENT", "PAYER", "ENCOUNTER", "CODE", "DESCRIPTION",
                    "TOTALCOST", "PAYER_COVERAGE", "REASONCODE"),
    "observations": ("DATE", "PATIENT", "ENCOUNTER", "CODE", "VALUE", "UNITS"),
    "procedures": ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST"),
    "payer_transitions": ("PATIENT", "START_DATE", "END_DATE", "PAYER"),
}


def duckdb_type(arrow: Any) -> str:
    """The DuckDB column type a Parquet column of this Arrow type is read as."""
    import pyarrow as pa

    if pa.types.is_timestamp(arrow):
        return "TIMESTAMPTZ"
    if pa.types.is_date32(arrow):
        return "DATE"
    if pa.types.is_decimal(arrow):
        return f"DECIMAL({arrow.precision},{arrow.scale})"
    if pa.types.is_int64(arrow):
        return "BIGINT"
    if pa.types.is_float64(arrow):
        return "DOUBLE"
    return "VARCHAR"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Tables:
    """The tables of one run (or of one folder of CSV files), as DuckDB relations."""

    def __init__(self, sources: dict[str, tuple[str, Path]], where: Path,
                 memory: str = MEMORY_LIMIT) -> None:
        from simulator.export.csv import CSV_FILES

        self.where = where
        self.sources = sources  # table -> ("csv" | "parquet", path)
        self.known = tuple(CSV_FILES)
        self._spill = tempfile.TemporaryDirectory(prefix="simulate-report-")
        self.db = duckdb.connect(config={"memory_limit": memory,
                                         "temp_directory": self._spill.name})
        # timestamps are UTC in both formats; dates taken from them must be UTC dates too
        self.db.execute("SET TimeZone = 'UTC'")
        self._ready: set[str] = set()

    @classmethod
    def of_run(cls, folder: Path, memory: str = MEMORY_LIMIT) -> Tables:
        """Every table a run wrote: Parquet where the run wrote it, else CSV."""
        from simulator.export.csv import CSV_FILES

        sources: dict[str, tuple[str, Path]] = {}
        for table in CSV_FILES:
            parquet = folder / "parquet" / table
            csv = folder / "csv" / f"{table}.csv"
            if parquet.is_dir() and any(parquet.glob("*.parquet")):
                sources[table] = ("parquet", parquet)
            elif csv.is_file():
                sources[table] = ("csv", csv)
        return cls(sources, folder, memory)

    @classmethod
    def of_csv_folder(cls, folder: Path) -> Tables:
        """The CSV files of one folder (``bench/module_targets.py --from-dir RUN/csv``)."""
        from simulator.export.csv import CSV_FILES

        return cls({t: ("csv", folder / f"{t}.csv") for t in CSV_FILES
                    if (folder / f"{t}.csv").is_file()}, folder)

    def close(self) -> None:
        self.db.close()
        self._spill.cleanup()

    def has(self, table: str) -> bool:
        return table in self.sources

    def columns(self, table: str) -> tuple[str, ...]:
        """The columns :meth:`rel` gives of a table."""
        from simulator.export.csv import CSV_FILES

        return KEPT_COLUMNS.get(table, CSV_FILES[table])

    def format_of(self, table: str) -> str | None:
        return self.sources[table][0] if table in self.sources else None

    def missing(self, *tables: str) -> list[str]:
        return [t for t in tables if t not in self.sources]

    def why_missing(self, *tables: str) -> str:
        """One phrase for tables a measure needs and the run did not write."""
        gone = self.missing(*tables)
        names = ", ".join(gone)
        return (f"the run wrote no {names} table{'s' if len(gone) > 1 else ''} "
                "(neither csv/ nor parquet/; see --format and --csv-files)")

    def scan(self, table: str) -> str:
        """The table read where it lies, as a FROM clause with every column typed."""
        from simulator.export.parquet import column_types

        fmt, path = self.sources[table]
        if fmt == "parquet":
            files = sorted(str(p) for p in path.glob("*.parquet"))  # shard order
            listed = "[" + ", ".join(_quoted(f) for f in files) + "]"
            return f"read_parquet({listed})"
        types = {c: duckdb_type(t) for c, t in column_types(table).items()}
        self._check_header(table, path, list(types))
        columns = "{" + ", ".join(f"{_quoted(c)}: {_quoted(t)}" for c, t in types.items()) + "}"
        # values are never quoted (csv-export.md §1): a '"' is an ordinary character
        return (f"read_csv({_quoted(str(path))}, header=true, delim=',', quote='', escape='', "
                f"columns={columns})")

    def _check_header(self, table: str, path: Path, expected: list[str]) -> None:
        try:
            with path.open(encoding="utf-8") as fh:
                header = fh.readline().rstrip("\n").split(",")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: cannot read it: {exc}") from None
        if header != expected:
            raise UserError(f"{path}: the header is not that of the {table} table this version "
                            f"writes (csv-export.md §3); expected {','.join(expected)}")

    def rel(self, table: str) -> str:
        """A name to select from: the table's copy with the columns the report reads, or for
        the large tables a view that scans it."""
        if table not in self._ready:
            columns = KEPT_COLUMNS.get(table)
            if columns is None:
                self.db.execute(f"CREATE VIEW {table} AS SELECT * FROM {self.scan(table)}")
            else:
                listed = ", ".join(f'"{c}"' for c in columns)
                self.db.execute(f"CREATE TABLE {table} AS SELECT {listed} FROM {self.scan(table)}")
            self._ready.add(table)
        return table

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.db.execute(query, params or []).fetchall()

    def one(self, query: str, params: list[Any] | None = None) -> Any:
        return self.sql(query, params)[0][0]


class RunFolder:
    """A finished run's folder: its record (``run.json``) and its tables."""

    def __init__(self, folder: Path, memory: str = MEMORY_LIMIT) -> None:
        self.record = read_record(folder)  # its errors name the folder as it was given
        self.folder = folder.resolve()  # the report names it the same way from anywhere
        self.tables = Tables.of_run(self.folder, memory)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.record.get("options", {}))

    @property
    def reference_date(self) -> dt.date:
        return dt.date.fromisoformat(self.options["reference_date"])

    def close(self) -> None:
        self.tables.close()


def read_record(folder: Path) -> dict[str, Any]:
    """``run.json`` of a finished run; anything else is the user's mistake, said plainly."""
    if not folder.exists():
        raise UserError(f"simulate report: {folder} does not exist (give the -o folder of a "
                        "finished run)")
    if not folder.is_dir():
        raise UserError(f"simulate report: {folder} is not a folder (give the -o folder of a "
                        "finished run)")
    path = folder / RUN_FILE
    if not path.is_file():
        raise UserError(f"simulate report: {folder} is not a run folder: it has no {RUN_FILE} "
                        "(give the -o folder of a finished run)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"simulate report: cannot read {path}: {exc}") from None
    options = data.get("options") if isinstance(data, dict) else None
    if not isinstance(options, dict) or "reference_date" not in options:
        raise UserError(f"simulate report: {path} is not a run record (no options with a "
                        "reference_date)")
    try:
        dt.date.fromisoformat(str(options["reference_date"]))
    except ValueError:
        raise UserError(f"simulate report: {path}: options.reference_date "
                        f"{options['reference_date']!r} is not a date") from None
    status = data.get("status")
    if status != "complete":
        raise UserError(f"simulate report: the run in {folder} is not complete (run.json status "
                        f"{status!r}); finish it with: simulate --resume -o {folder}")
    return data
