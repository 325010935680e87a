"""The command line: runs, identical output for identical seeds, clear errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.export.csv import CSV_FILES


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args], capture_output=True, text=True, timeout=600
    )


def _csv_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "csv").glob("*.csv"))}


def test_run_writes_every_csv_file_with_headers(tmp_path: Path) -> None:
    result = _simulate("-p", "5", "-s", "1", "-o", str(tmp_path), "--reference-date", "2024-06-01")
    assert result.returncode == 0, result.stderr
    assert "5 people simulated" in result.stdout
    files = _csv_bytes(tmp_path)
    assert sorted(files) == sorted(f"{name}.csv" for name in CSV_FILES)
    for name, header in CSV_FILES.items():
        assert files[f"{name}.csv"].decode().splitlines()[0] == ",".join(header)
    patients = [line.split(",") for line in files["patients.csv"].decode().splitlines()[1:]]
    assert sum(1 for p in patients if not p[2]) == 5  # five living people, plus any deceased records


def test_csv_file_selection_writes_only_those_tables_with_the_same_bytes(tmp_path: Path) -> None:
    common = ["-p", "6", "-s", "4", "--format", "csv", "--reference-date", "2024-06-01"]
    full = _simulate(*common, "-o", str(tmp_path / "full"))
    some = _simulate(*common, "--csv-exclude", "Claims_Transactions.csv,payers",
                     "-o", str(tmp_path / "some"))
    only = _simulate(*common, "--csv-files", "patients,claims", "-o", str(tmp_path / "only"))
    for r in (full, some, only):
        assert r.returncode == 0, r.stderr
    everything = _csv_bytes(tmp_path / "full")
    assert sorted(_csv_bytes(tmp_path / "only")) == ["claims.csv", "patients.csv"]
    written = _csv_bytes(tmp_path / "some")
    assert sorted(written) == sorted(f"{n}.csv" for n in CSV_FILES
                                     if n not in ("claims_transactions", "payers"))
    for name, data in [*written.items(), *_csv_bytes(tmp_path / "only").items()]:
        assert data == everything[name], name  # patients' expenses still count every claim


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path, corpus_dir: Path) -> None:
    common = ["-p", "12", "--modules-dir", str(corpus_dir), "--reference-date", "2024-06-01"]
    a = _simulate(*common, "-s", "7", "-w", "1", "-o", str(tmp_path / "a"))
    b = _simulate(*common, "-s", "7", "-w", "2", "--shard-size", "5", "-o", str(tmp_path / "b"))
    c = _simulate(*common, "-s", "8", "-w", "1", "-o", str(tmp_path / "c"))
    for r in (a, b, c):
        assert r.returncode == 0, r.stderr
    assert _csv_bytes(tmp_path / "a") == _csv_bytes(tmp_path / "b")
    assert _csv_bytes(tmp_path / "a")["encounters.csv"] != _csv_bytes(tmp_path / "c")["encounters.csv"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "ten"], "option --population: expected a whole number, got 'ten'"),
        (["-p", "-3"], "option --population: -3 is not between 0 and 1000000000"),
        (["-g", "X"], "option --gender: expected M or F, got 'X'"),
        (["-a", "40-30"], "option --age: '40-30' is not a range of ages"),
        (["-a", "forty"], "option --age: expected MIN-MAX in years"),
        (["--reference-date", "2024-13-01"], "option --reference-date: expected a date YYYY-MM-DD"),
        (["--format", "pdf"], "option --format: unknown format 'pdf'"),
        (["--modules-dir", "/no/such/dir"], "option --modules-dir: '/no/such/dir' is not a folder"),
        (["-m", "no_such_module*"], "option --module: no top-level module"),
        (["-w", "0"], "option --workers: 0 is not between 1 and 1024"),
        (["--state", "Atlantis"], "--state 'Atlantis': no published demographics"),
        (["--state", "Texas", "--city", "Houstn"], "option --city: no city named 'Houstn' in Texas. Did you mean Houston"),
        (["--csv-files", "patients,nope"], "option --csv-files: unknown CSV file 'nope'"),
        (["--csv-files", "claims", "--csv-exclude", "claims"], "no CSV file is left to write"),
        (["--format", "fhir", "--csv-exclude", "claims"], "the run writes no tables"),
    ],
)
def test_bad_option_values_exit_2_with_one_paragraph(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_broken_module_exits_2_naming_file_and_path(tmp_path: Path) -> None:
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "asthma.json").write_text(json.dumps({"name": "A", "states": {
        "Initial": {"type": "Initial", "direct_transition": "Treat"},
        "Treat": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "Agee"}, "transition": "Terminal"}]},
        "Terminal": {"type": "Terminal"}}}))
    (mods / "sub").mkdir()
    (mods / "caller.json").write_text(json.dumps({"name": "C", "states": {
        "Initial": {"type": "CallSubmodule", "submodule": "sub/missing", "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"}}}))
    result = _simulate("-p", "1", "--modules-dir", str(mods), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "asthma.json: states.Treat.conditional_transition[0].condition: unknown condition_type 'Agee'" in result.stderr
    assert "caller.json: states.Initial.submodule: submodule 'sub/missing' not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # nothing is created before the modules validate


def test_runtime_module_error_names_module_and_state(tmp_path: Path) -> None:
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "obs.json").write_text(json.dumps({"name": "O", "states": {
        "Initial": {"type": "Initial", "direct_transition": "Check"},
        "Check": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "Observation", "operator": ">", "value": 1,
                           "codes": [{"system": "LOINC", "code": "4548-4", "display": "HbA1c"}]},
             "transition": "Terminal"}, {"transition": "Terminal"}]},
        "Terminal": {"type": "Terminal"}}}))
    result = _simulate("-p", "1", "--modules-dir", str(mods), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "obs.json: state 'Check'" in result.stderr
    assert "found no observation" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_file_supplies_options_and_flags_override(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('population = 3\nseed = 5\nreference_date = "2023-01-01"\nage = "30-40"\n')
    result = _simulate("--config", str(config), "-p", "4", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "out" / "csv" / "patients.csv").read_text().splitlines()[1:]
    assert len(lines) == 4
    for line in lines:
        birth_year = int(line.split(",")[1][:4])
        assert 1982 <= birth_year <= 1993
    config.write_text("populaton = 3\n")
    bad = _simulate("--config", str(config), "-o", str(tmp_path / "out2"))
    assert bad.returncode == 2 and "unknown option(s) populaton" in bad.stderr


def test_gender_and_age_are_honoured(tmp_path: Path) -> None:
    result = _simulate("-p", "20", "-g", "F", "-a", "60-70", "-s", "2", "--reference-date", "2020-01-01",
                       "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rows = [line.split(",") for line in (tmp_path / "csv" / "patients.csv").read_text().splitlines()[1:]]
    assert {r[15] for r in rows} == {"F"}
    for r in rows:
        year = int(r[1][:4])
        assert 1949 <= year <= 1960


def test_state_city_gender_and_age_are_honoured_identically_on_any_worker_count(tmp_path: Path) -> None:
    args = ["-p", "24", "-s", "5", "-g", "F", "-a", "30-40", "--state", "Texas", "--city", "Houston",
            "--reference-date", "2024-06-01"]
    one = _simulate(*args, "-w", "1", "-o", str(tmp_path / "one"))
    two = _simulate(*args, "-w", "2", "--shard-size", "5", "-o", str(tmp_path / "two"))
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert _csv_bytes(tmp_path / "one") == _csv_bytes(tmp_path / "two")
    rows = [line.split(",") for line in (tmp_path / "one" / "csv" / "patients.csv").read_text().splitlines()[1:]]
    assert len(rows) >= 24
    for r in rows:
        year, month, day = (int(x) for x in r[1].split("-"))
        age = 2024 - year - ((month, day) > (6, 1))
        assert 30 <= age <= 40, r[1]
        assert (r[15], r[18], r[19], r[20]) == ("F", "Houston", "Texas", "Harris County")
        assert r[22].startswith("77")  # Houston ZIP codes


def test_large_runs_get_larger_shards_whatever_the_workers() -> None:
    """25 people per shard up to 10,000 people; above, at most about 400 shards (Parquet writes
    a file per shard and table); the population alone decides, unless --shard-size says."""
    from simulator.cli import _build_config

    def size(**given: str) -> int:
        return _build_config(given).shard_size

    assert size(population="10") == size(population="10000") == 25
    assert size(population="100000") == 250
    assert size(population="1000000") == size(population="1000000", workers="1") == 2500
    assert size(population="1000001") == 2501
    assert size(population="1000000", shard_size="40") == 40
