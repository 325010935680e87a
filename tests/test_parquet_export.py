"""--format parquet (docs/parquet-export.md): every table as a typed Parquet dataset holding
exactly the CSV's rows, checked through DuckDB, which parses the CSV on its own."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.export.csv import CSV_FILES
from simulator.export.parquet import column_types
from simulator.report.tables import duckdb_type

RUN = ["-p", "15", "-s", "29", "--reference-date", "2024-06-01", "--shard-size", "4"]


def _simulate(out: Path, *args: str) -> Path:
    result = CliRunner().invoke(main, [*RUN, "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # whole lives: every table, devices and imaging included, has rows to compare
    return _simulate(tmp_path_factory.mktemp("parquet"), "--format", "csv,parquet",
                     "--years-of-history", "0", "-w", "1")


def test_every_table_holds_the_csv_rows(run: Path) -> None:
    con = duckdb.connect()
    for table in CSV_FILES:
        types = {name: duckdb_type(t) for name, t in column_types(table).items()}
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
        csv = (f"read_csv('{run / 'csv' / table}.csv', header=true, delim=',', quote='', "
               f"escape='', columns={columns})")
        parquet = f"read_parquet('{run / 'parquet' / table}/*.parquet')"
        n_csv = con.sql(f"select count(*) from {csv}").fetchall()[0][0]
        n_parquet = con.sql(f"select count(*) from {parquet}").fetchall()[0][0]
        assert n_csv == n_parquet, table
        for a, b in ((csv, parquet), (parquet, csv)):
            missing = con.sql(f"select * from {a} except all select * from {b}").fetchall()
            assert missing == [], (table, missing[:3])


def test_columns_are_typed(run: Path) -> None:
    schema = pq.read_schema(next((run / "parquet" / "claims_transactions").glob("*.parquet")))
    assert schema.field("FROMDATE").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("AMOUNT").type == pa.decimal128(18, 2)
    assert schema.field("CHARGEID").type == pa.int64()
    assert pa.types.is_dictionary(schema.field("PROCEDURECODE").type)
    patients = pq.read_table(run / "parquet" / "patients")
    assert patients.schema.field("BIRTHDATE").type == pa.date32()
    assert patients.schema.field("LAT").type == pa.float64()
    assert patients.schema.field("FIPS").type.value_type == pa.string()  # leading zeros kept
    observations = pq.read_table(run / "parquet" / "observations")
    assert pa.types.is_dictionary(observations.schema.field("CODE").type)  # pandas: category


def test_one_file_per_shard_and_the_same_bytes_on_any_worker_count(run: Path,
                                                                   tmp_path: Path) -> None:
    files = sorted(p.name for p in (run / "parquet" / "encounters").iterdir())
    assert files == [f"shard-{i:07d}.parquet" for i in range(4)]
    two = _simulate(tmp_path, "--format", "parquet", "--years-of-history", "0", "-w", "2")
    for path in sorted((run / "parquet").rglob("*.parquet")):
        other = two / path.relative_to(run)
        assert other.read_bytes() == path.read_bytes(), path
    assert not (two / "csv").exists()


def test_table_selection_applies_to_parquet(tmp_path: Path) -> None:
    out = _simulate(tmp_path, "--format", "parquet", "-p", "3", "--csv-files",
                    "patients,encounters")
    assert sorted(p.name for p in (out / "parquet").iterdir()) == ["encounters", "patients"]


def test_a_table_without_rows_still_has_its_schema(tmp_path: Path) -> None:
    out = _simulate(tmp_path, "--format", "parquet", "-p", "1", "-m", "allergies",
                    "--csv-files", "devices,patients")
    devices = pq.read_table(out / "parquet" / "devices")
    assert devices.num_rows == 0
    assert devices.schema.names == list(CSV_FILES["devices"])


def test_claim_transactions_made_as_columns_equal_their_csv_text() -> None:
    """Parquet's claims_transactions are made from values, not parsed from CSV text: the table
    equals the CSV text of the same claims as Arrow parses it, column by column."""
    from datetime import date

    from simulator.config import RunConfig
    from simulator.export.claim_transactions import ClaimTransactions
    from simulator.export.csv import record_rows
    from simulator.export.history import recent_history
    from simulator.export.parquet import _table
    from simulator.worker import Worker

    config = RunConfig(seed=8, engine="compiled", formats=("parquet",), years_of_history=10,
                       reference_date=date(2024, 6, 1))
    worker = Worker.for_run(config)
    ints, floats = worker.population.draw(list(range(20)))
    gathered = ClaimTransactions(text=True, columns=True)
    for i in range(20):
        for record, _ in worker.lives(i, ints[i], floats[i]):
            record_rows(recent_history(record, 10, config.reference_time), lifetime=record,
                        files=("claims_transactions",), transactions=gathered)
    rows = gathered.rows
    assert rows > 1000 and gathered.column_rows == rows
    made, parsed = gathered.table(), _table("claims_transactions", gathered.text())
    assert made.schema.equals(parsed.schema) and made.num_rows == rows
    for name in made.column_names:
        a, b = made[name], parsed[name]
        if pa.types.is_dictionary(a.type):
            a, b = a.cast(a.type.value_type), b.cast(b.type.value_type)
        assert a.equals(b), name
    assert gathered.rows == gathered.column_rows == 0
