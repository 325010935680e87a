"""``--format parquet``: the CSV tables as Parquet datasets with typed columns
(``docs/parquet-export.md``).

One folder per table under ``parquet/``, one file per shard (``shard-0000012.parquet``, in
shard order; the once-per-run tables in ``run.parquet``), so a table reads as one dataset:
``duckdb.sql("select * from 'output/parquet/observations/*.parquet'")``,
``pandas.read_parquet("output/parquet/observations")``. The rows are the CSV rows, parsed
with Arrow's CSV reader into the column types below: so both formats always hold the same
values. Timestamps are UTC milliseconds, dates are days, money is ``decimal(18, 2)``,
counts are 64-bit integers, and codes, descriptions and other repeated texts are
dictionary-encoded; an empty CSV field is a null.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from simulator.export.csv import CSV_FILES, RUN_LEVEL_FILES

__all__ = ["RUN_PART", "ParquetTables", "column_types", "write_table"]

RUN_PART = "run"  # the file of a once-per-run table (organizations, providers, payers)
# CSV text buffered over all of a shard's tables: past it the largest table becomes a row
# group, so a worker holds no more of it whatever the shard size (a large run's are larger)
FLUSH_BYTES = 8 << 20
COMPRESSION = "zstd"

# Column kinds: T timestamp, D date, M money, I integer, F float, C dictionary text; any
# column not named is plain text (ids, names, addresses, free values).
_TIMESTAMPS = {"START", "STOP", "DATE", "START_DATE", "END_DATE", "CURRENTILLNESSDATE",
               "SERVICEDATE", "LASTBILLEDDATE1", "LASTBILLEDDATE2", "LASTBILLEDDATEP",
               "FROMDATE", "TODATE"}
_DATE_TABLES = {"conditions", "allergies", "careplans", "supplies"}  # D, not T (csv-export.md)
_MONEY = {"BASE_ENCOUNTER_COST", "TOTAL_CLAIM_COST", "PAYER_COVERAGE", "BASE_COST",
          "TOTALCOST", "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE", "OUTSTANDING1",
          "OUTSTANDING2", "OUTSTANDINGP", "AMOUNT", "UNITAMOUNT", "PAYMENTS", "ADJUSTMENTS",
          "TRANSFERS", "OUTSTANDING", "AMOUNT_COVERED", "AMOUNT_UNCOVERED"}
_INTEGERS = {"INCOME", "DISPENSES", "QUANTITY", "DEPARTMENTID", "PATIENTDEPARTMENTID",
             "HEALTHCARECLAIMTYPEID1", "HEALTHCARECLAIMTYPEID2", "CHARGEID", "TRANSFEROUTID",
             "FEESCHEDULEID", "DIAGNOSISREF1", "DIAGNOSISREF2", "DIAGNOSISREF3",
             "DIAGNOSISREF4", "UTILIZATION", "ENCOUNTERS", "PROCEDURES", "COVERED_ENCOUNTERS",
             "UNCOVERED_ENCOUNTERS", "COVERED_MEDICATIONS", "UNCOVERED_MEDICATIONS",
             "COVERED_PROCEDURES", "UNCOVERED_PROCEDURES", "COVERED_IMMUNIZATIONS",
             "UNCOVERED_IMMUNIZATIONS", "UNIQUE_CUSTOMERS", "MEMBER_MONTHS"}
_FLOATS = {"LAT", "LON", "QOLS_AVG"}
_CATEGORIES = {"CODE", "DESCRIPTION", "SYSTEM", "CATEGORY", "TYPE", "ENCOUNTERCLASS",
               "REASONCODE", "REASONDESCRIPTION", "PAYER", "SECONDARY_PAYER", "ORGANIZATION",
               "PROVIDER", "PROVIDERID", "SUPERVISINGPROVIDERID", "MARITAL", "RACE",
               "ETHNICITY", "GENDER", "BIRTHPLACE", "CITY", "STATE", "COUNTY", "FIPS", "ZIP",
               "METHOD", "STATUS1", "STATUS2", "STATUSP", "PLACEOFSERVICE", "PROCEDURECODE",
               "NOTES", "TRANSFERTYPE", "PRIMARYPATIENTINSURANCEID",
               "SECONDARYPATIENTINSURANCEID", "REFERRINGPROVIDERID", "PLAN_OWNERSHIP",
               "BODYSITE_CODE", "BODYSITE_DESCRIPTION", "MODALITY_CODE",
               "MODALITY_DESCRIPTION", "SOP_CODE", "SOP_DESCRIPTION", "PROCEDURE_CODE",
               "SPECIALITY", "OWNERSHIP", "REACTION1", "DESCRIPTION1", "SEVERITY1",
               "REACTION2", "DESCRIPTION2", "SEVERITY2", "PREFIX", "SUFFIX",
               *(f"DIAGNOSIS{i}" for i in range(1, 9))}
# per table, where a name means something else there
_OVERRIDES = {
    ("observations", "UNITS"): "C",
    ("claims_transactions", "UNITS"): "I",
    ("organizations", "REVENUE"): "F",  # written as a plain double (csv-export.md §3.13)
    ("payers", "REVENUE"): "M",
}


def _kind(table: str, column: str) -> str:
    if (table, column) in _OVERRIDES:
        return _OVERRIDES[(table, column)]
    if column in _TIMESTAMPS:
        return "D" if table in _DATE_TABLES else "T"
    if column in ("BIRTHDATE", "DEATHDATE"):
        return "D"
    for kind, names in (("M", _MONEY), ("I", _INTEGERS), ("F", _FLOATS), ("C", _CATEGORIES)):
        if column in names:
            return kind
    return "S"


def _columns(table: str) -> tuple[str, ...]:
    return CSV_FILES[table] if table in CSV_FILES else RUN_LEVEL_FILES[table]


def column_types(table: str) -> dict[str, Any]:
    """Each column's Arrow type (every table of the CSV export)."""
    import pyarrow as pa

    types = {"T": pa.timestamp("ms", tz="UTC"), "D": pa.date32(), "M": pa.decimal128(18, 2),
             "I": pa.int64(), "F": pa.float64(), "C": pa.dictionary(pa.int32(), pa.string()),
             "S": pa.string()}
    return {c: types[_kind(table, c)] for c in _columns(table)}


def _table(table: str, text: bytes) -> Any:
    """CSV lines (no header) of one table as an Arrow table of its column types."""
    import pyarrow.csv as pc

    columns = _columns(table)
    return pc.read_csv(
        io.BytesIO(text),
        # one thread: a run's workers are processes, one per core already
        read_options=pc.ReadOptions(column_names=list(columns), block_size=8 << 20,
                                    use_threads=False),
        # values are never quoted (csv-export.md §1): a '"' is an ordinary character
        parse_options=pc.ParseOptions(quote_char=False, double_quote=False, escape_char=False),
        convert_options=pc.ConvertOptions(column_types=column_types(table),
                                          null_values=[""], strings_can_be_null=True,
                                          quoted_strings_can_be_null=False),
    )


def _schema(table: str) -> Any:
    import pyarrow as pa

    return pa.schema(list(column_types(table).items()))


def write_table(path: Path, table: str, lines: Iterable[str]) -> None:
    """A whole table (a once-per-run one) into one file; an empty one keeps its schema."""
    import pyarrow.parquet as pq

    text = "".join(line + "\n" for line in lines).encode()
    data = _table(table, text) if text else _schema(table).empty_table()
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(data, path, compression=COMPRESSION)


class ParquetTables:
    """One shard's rows of every table, written as ``<folder>/<table>/<part>.parquet``: a
    row group of the largest table each time the tables' buffered text passes FLUSH_BYTES,
    and of each table at the end."""

    def __init__(self, folder: Path, part: str, tables: Collection[str]) -> None:
        import pyarrow as pa

        # Arrow's default allocator (mimalloc) keeps what a row group freed for reuse, which
        # measured 20 MB more at a worker's peak; the system's returns it
        pa.set_memory_pool(pa.system_memory_pool())
        self.folder = folder
        self.part = part
        self.tables = tuple(tables)
        self._text: dict[str, list[bytes]] = {t: [] for t in self.tables}
        self._size: dict[str, int] = dict.fromkeys(self.tables, 0)
        self._writers: dict[str, Any] = {}
        self.rows = 0

    def add_text(self, table: str, text: bytes, rows: int) -> None:
        """``rows`` CSV lines of ``table``, each ending in LF."""
        if table not in self._text:
            return
        self._text[table].append(text)
        self._size[table] += len(text)
        self.rows += rows
        if sum(self._size.values()) >= FLUSH_BYTES:
            self._flush(max(self._size, key=self._size.__getitem__))

    def add_table(self, table: str, data: Any) -> None:
        """Rows of ``table`` made as an Arrow table of :func:`column_types` (a row group)."""
        if table in self._text and data.num_rows:
            self._write(table, data)
            self.rows += data.num_rows

    def _flush(self, table: str) -> None:
        chunks = self._text[table]
        if not chunks:
            return
        data = _table(table, b"".join(chunks))
        chunks.clear()
        self._size[table] = 0
        self._write(table, data)

    def _write(self, table: str, data: Any) -> None:
        import pyarrow.parquet as pq

        writer = self._writers.get(table)
        if writer is None:
            path = self.folder / table / f"{self.part}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._writers[table] = pq.ParquetWriter(path, data.schema,
                                                             compression=COMPRESSION)
        writer.write_table(data, row_group_size=data.num_rows)

    def close(self) -> None:
        for table in self.tables:
            self._flush(table)
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
