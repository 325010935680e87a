"""Scale: the same files from 1 worker, 2 workers and a Dask cluster; runs killed (Ctrl-C, a
killed worker, a killed run) and resumed end byte-identical to an uninterrupted run; targeted
cohorts (`--keep-condition`, `-k`)."""

from __future__ import annotations

import csv
import filecmp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from simulator import run as run_module
from simulator.cli import main

ARGS = ["-p", "24", "-s", "8", "--shard-size", "3", "--format", "csv,fhir,ndjson,parquet",
        "--reference-date", "2024-06-01"]
# A run whose shards outlast a signal's way into the run by far, however fast a shard gets:
# after the first shard there are 39 more.
LONG_ARGS = ["-p", "120", *ARGS[2:]]
# Only files the run record names may differ between runs: it records times and paths.
NOT_COMPARED = {"run.json"}


def _simulate(out: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["-o", str(out), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in NOT_COMPARED}


def assert_same_output(a: Path, b: Path, same_shards: bool = True) -> None:
    """The same files, byte for byte; with other shard sizes, the Parquet datasets are made
    of other files (one per shard) and hold the same rows."""
    fa, fb = _files(a), _files(b)
    if not same_shards:
        assert_same_parquet_rows(a / "parquet", b / "parquet")
        fa, fb = ({k: v for k, v in f.items() if not k.startswith("parquet/")} for f in (fa, fb))
    assert sorted(fa) == sorted(fb)
    different = [name for name in fa if not filecmp.cmp(fa[name], fb[name], shallow=False)]
    assert not different, f"files differ: {different[:5]}"


def assert_same_parquet_rows(a: Path, b: Path) -> None:
    import pyarrow.parquet as pq

    tables = sorted(p.name for p in a.iterdir())
    assert tables == sorted(p.name for p in b.iterdir())
    def rows(root: Path, table: str) -> list[tuple[object, ...]]:
        return [tuple("NaN" if v != v else v for v in row.values())  # NaN != NaN
                for row in pq.read_table(root / table).to_pylist()]

    for table in tables:
        assert rows(a, table) == rows(b, table), table


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one_worker")
    _simulate(out, *ARGS, "-w", "1")
    return out


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one_worker_long")
    _simulate(out, *LONG_ARGS, "-w", "1")
    return out


def test_reference_run_is_complete(reference: Path) -> None:
    record = orjson.loads((reference / "run.json").read_bytes())
    assert record["status"] == "complete" and record["shards_done"] == 8
    assert record["counts"]["alive"] == 24
    assert record["options"]["seed"] == 8 and record["versions"]["simulator"]
    assert "obesity.json" in record["modules"]
    assert not (reference / ".parts").exists()
    rows = list(csv.DictReader((reference / "csv" / "patients.csv").open()))
    assert len(rows) == 24 + record["counts"]["dead"]
    for rel, size in record["files"].items():
        assert (reference / rel).stat().st_size == size


def test_two_workers_and_other_shard_sizes_write_the_same_files(reference: Path,
                                                                tmp_path: Path) -> None:
    _simulate(tmp_path / "w2", *ARGS, "-w", "2")
    assert_same_output(reference, tmp_path / "w2")
    args = [a if a != "3" else "5" for a in ARGS]  # shard size 5
    _simulate(tmp_path / "s5", *args, "-w", "2")
    assert_same_output(reference, tmp_path / "s5", same_shards=False)


def test_merge_without_copy_file_range_writes_the_same_files(
        reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices are appended in the kernel where it can; a system or file system that cannot
    (or fails half way) gets the same files through the buffered copy."""
    calls = []

    def refuse(src: int, dst: int, count: int) -> int:
        calls.append(count)
        if len(calls) % 2:  # odd calls copy half of what is asked, even calls fail
            n = os.write(dst, os.read(src, count // 2))
            if n:
                return n
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    _simulate(tmp_path / "buffered", *ARGS, "-w", "1")
    assert calls
    assert_same_output(reference, tmp_path / "buffered")


def test_dask_local_cluster_writes_the_same_files(reference: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        _simulate(tmp_path / "dask", *ARGS, "--cluster", cluster.scheduler_address)
    assert_same_output(reference, tmp_path / "dask")


def test_cluster_address_that_does_not_answer_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator import executors

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "2s")
    result = CliRunner().invoke(main, ["-o", str(tmp_path), "-p", "1",
                                       "--cluster", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "option --cluster" in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------ interrupted runs

# `python -m simulator` with Ctrl-C handled as a terminal would: a process started in the
# background of a script without job control inherits SIGINT ignored, and Python then never
# raises KeyboardInterrupt (CI launched that way once failed the Ctrl-C test for it).
_RUN_WITH_CTRL_C = ("import runpy, signal, sys; signal.signal(signal.SIGINT, "
                    "signal.default_int_handler); sys.argv[0] = 'simulate'; "
                    "runpy.run_module('simulator', run_name='__main__', alter_sys=True)")


def _start(out: Path, *extra: str, args: list[str] = ARGS) -> subprocess.Popen[str]:
    env = {**os.environ, "CI": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", _RUN_WITH_CTRL_C, "-o", str(out), *args, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )


def _wait_for_shards(out: Path, proc: subprocess.Popen[str], shards: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if orjson.loads((out / "run.json").read_bytes())["shards_done"] >= shards:
                return
        except (OSError, orjson.JSONDecodeError, KeyError):
            pass
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("no shard was merged in time")


def _resume(out: Path, *extra: str) -> str:
    result = CliRunner().invoke(main, ["--resume", "-o", str(out), *extra],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_killed_run_resumes_to_the_same_files(long_reference: Path, tmp_path: Path) -> None:
    reference = long_reference
    out = tmp_path / "killed"
    proc = _start(out, "-w", "2", args=LONG_ARGS)
    _wait_for_shards(out, proc, 2)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run, workers included, mid-shard
    proc.wait()
    record = orjson.loads((out / "run.json").read_bytes())
    assert record["status"] == "running" and 2 <= record["shards_done"] < 40
    text = _resume(out, "-w", "1")
    assert "resumed:" in text
    assert_same_output(reference, out)
    assert orjson.loads((out / "run.json").read_bytes())["status"] == "complete"


def test_ctrl_c_stops_workers_and_resume_finishes(long_reference: Path, tmp_path: Path) -> None:
    reference = long_reference
    out = tmp_path / "ctrl_c"
    proc = _start(out, "-w", "2", args=LONG_ARGS)
    _wait_for_shards(out, proc, 1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "simulate --resume -o" in err and "Traceback" not in err
    assert orjson.loads((out / "run.json").read_bytes())["status"] == "interrupted"
    _resume(out, "-w", "2")
    assert_same_output(reference, out)


def test_killed_worker_is_reported_and_resume_finishes(reference: Path, tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "worker"
    proc = _start(out, "-w", "2")
    _wait_for_shards(out, proc, 1)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "no worker processes"
    children[0].kill()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "worker process died" in err and "--resume" in err and "Traceback" not in err
    _resume(out)
    assert_same_output(reference, out)


def test_resume_checks_options_and_modules(reference: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--resume", "-o", str(reference)])
    assert result.exit_code == 0 and "already complete" in result.output
    result = CliRunner().invoke(main, ["--resume", "-o", str(reference), "-p", "25"])
    assert result.exit_code == 2 and "option --population" in result.output
    result = CliRunner().invoke(main, ["--resume", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "nothing to resume" in result.output
    modules = tmp_path / "modules"
    modules.mkdir()
    module = {"name": "m", "gmf_version": 2, "states": {
        "Initial": {"type": "Initial", "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"}}}
    (modules / "m.json").write_bytes(orjson.dumps(module))
    out = tmp_path / "changed"
    _simulate(out, "-p", "2", "--modules-dir", str(modules), "--format", "csv")
    record = orjson.loads((out / "run.json").read_bytes())
    (out / "run.json").write_bytes(orjson.dumps({**record, "status": "running"}))
    module["states"]["Initial"]["direct_transition"] = "Terminal"
    module["name"] = "m2"
    (modules / "m.json").write_bytes(orjson.dumps(module))
    result = CliRunner().invoke(main, ["--resume", "-o", str(out)])
    assert result.exit_code == 2 and "modules changed" in result.output and "m.json" in result.output


def test_two_runs_cannot_share_an_output_folder(tmp_path: Path) -> None:
    import fcntl

    tmp_path.joinpath(".lock").touch()
    with open(tmp_path / ".lock") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = CliRunner().invoke(main, ["-o", str(tmp_path), "-p", "1", "--format", "csv"])
    assert result.exit_code == 2 and "another run is writing" in result.output


# ------------------------------------------------------------------ targeted cohorts

COHORT = ["-p", "200", "-s", "2", "--keep-condition", "diabetes", "--format", "csv",
          "-m", "obesity:diabetes:hypertension", "--reference-date", "2024-06-01"]


@pytest.fixture(scope="module")
def diabetes_cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cohort_w1")
    return out, _simulate(out, *COHORT, "-w", "1")


def test_keep_condition_writes_only_and_exactly_the_kept_people(
        diabetes_cohort: tuple[Path, str]) -> None:
    out, text = diabetes_cohort
    patients = list(csv.DictReader((out / "csv" / "patients.csv").open()))
    living = [p for p in patients if not p["DEATHDATE"]]
    assert len(living) == 200
    diabetic = {r["PATIENT"] for r in csv.DictReader((out / "csv" / "conditions.csv").open())
                if "diabetes" in r["DESCRIPTION"].lower().replace("(", " ").split()}
    assert {p["Id"] for p in patients} <= diabetic
    record = orjson.loads((out / "run.json").read_bytes())
    simulated = record["counts"]["people"]
    assert simulated > 400  # diabetes is far from universal: most people were not kept
    assert f"out of {simulated} people simulated" in text
    assert "people simulated per kept person" in text


def test_keep_condition_is_the_same_on_two_workers(diabetes_cohort: tuple[Path, str],
                                                   tmp_path: Path) -> None:
    _simulate(tmp_path, *COHORT, "-w", "2")
    assert_same_output(diabetes_cohort[0], tmp_path)


def test_keep_module_follows_synthea_semantics(tmp_path: Path) -> None:
    keep = tmp_path / "keep_women.json"
    keep.write_bytes(orjson.dumps({"name": "Keep women", "gmf_version": 2, "states": {
        "Initial": {"type": "Initial", "conditional_transition": [
            {"condition": {"condition_type": "Gender", "gender": "F"}, "transition": "Keep"},
            {"transition": "Terminal"}]},
        "Keep": {"type": "Terminal"}, "Terminal": {"type": "Terminal"}}}))
    out = tmp_path / "out"
    _simulate(out, "-p", "6", "-s", "4", "--format", "csv", "-m", "obesity", "-k", str(keep))
    patients = list(csv.DictReader((out / "csv" / "patients.csv").open()))
    assert len([p for p in patients if not p["DEATHDATE"]]) == 6
    assert {p["GENDER"] for p in patients} == {"F"}


def test_keep_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_keep = tmp_path / "no_keep.json"
    no_keep.write_bytes(orjson.dumps({"name": "x", "gmf_version": 2, "states": {
        "Initial": {"type": "Initial", "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"}}}))
    result = CliRunner().invoke(main, ["-o", str(tmp_path / "o"), "-p", "1", "-k", str(no_keep)])
    assert result.exit_code == 2 and "no state is named 'Keep'" in result.output
    result = CliRunner().invoke(main, ["-o", str(tmp_path / "o"), "-p", "1",
                                       "-k", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "option --keep" in result.output
    monkeypatch.setattr(run_module, "KEEP_MIN_SAMPLE", 6)
    result = CliRunner().invoke(main, ["-o", str(tmp_path / "o"), "-p", "1", "-m", "obesity",
                                       "--shard-size", "3", "--format", "csv",
                                       "--keep-condition", "no such illness"])
    assert result.exit_code == 2 and "no condition the 1 module of this run" in result.output
    result = CliRunner().invoke(main, ["-o", str(tmp_path / "o"), "-p", "1", "-m", "obesity",
                                       "--shard-size", "3", "--format", "csv",
                                       "--keep-condition", "Body mass index 30+ - obesity",
                                       "--age", "0-1"])
    assert result.exit_code == 1 and "kept 0 of the 6 people simulated" in result.output


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_which_lives_leave_reference_cycles(engine: str, tmp_path: Path) -> None:
    """Worker.leaves_cycles decides whether a worker collects after every person or only
    now and then (shard.collect_person): it must say what the lives and every exporter
    really leave."""
    import gc

    from simulator.config import RunConfig
    from simulator.export.pipeline import ShardExport
    from simulator.worker import Worker

    config = RunConfig(engine=engine, seed=3, output=tmp_path)
    worker = Worker.for_run(config)
    export = ShardExport(("csv", "fhir", "ccda"), tmp_path / "out", worker.world,
                         config.fhir_bundle, False, None)
    ints, floats = worker.population.draw(list(range(10)))

    def live(index: int) -> None:
        for record, _ in worker.lives(index, ints[index], floats[index]):
            export.add(record)

    live(0)  # what the first person loads (caches, the provider network) stays
    gc.collect()
    gc.freeze()
    try:
        gc.set_debug(gc.DEBUG_SAVEALL)
        for index in range(1, 10):
            live(index)
        gc.collect()
        cyclic = len(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.unfreeze()
        export.close()
    assert (cyclic > 0) == worker.leaves_cycles, cyclic
