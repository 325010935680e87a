"""Bad input never crashes, hangs or passes for success (docs/errors.md): `modules check` and
the run apply one set of module rules with the same messages; runtime guards name file,
state and person; an output folder is never mixed; a run that cannot give what was asked
fails with exit 1; disk errors leave a run that --resume finishes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from simulator import run as run_module
from simulator.authoring.check import ERROR, check_paths
from simulator.cli import main
from simulator.engine import simulation
from simulator.gmf.loader import ModuleLoadError, load_modules

CODE = {"system": "SNOMED-CT", "code": "38341003", "display": "Hypertension"}
LOINC = {"system": "LOINC", "code": "29463-7", "display": "Body weight"}


def module(states: dict[str, Any], name: str = "M") -> dict[str, Any]:
    return {"name": name, "states": {"Terminal": {"type": "Terminal"}, **states}}


def write(folder: Path, modules: dict[str, dict[str, Any]]) -> Path:
    for key, content in modules.items():
        path = folder / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content) if not isinstance(content, str) else content)
    return folder


def simulate(*args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--reference-date", "2020-01-01", "-w", "1",
                                     "--format", "csv"])


def errors_of(folder: Path) -> list[str]:
    return [f"{Path(f.file).name}: {f.path + ': ' if f.path else ''}{f.message}"
            for f in check_paths([folder]) if f.severity == ERROR]


# ------------------------------------------------------------------ one set of module rules

CASES: dict[str, tuple[dict[str, Any], str]] = {
    "submodule calling itself": (
        {"top": module({"Initial": {"type": "CallSubmodule", "submodule": "sub/a",
                                    "direct_transition": "Terminal"}}),
         "sub/a": module({"Initial": {"type": "Delay", "exact": {"quantity": 1, "unit": "days"},
                                      "direct_transition": "Call"},
                          "Call": {"type": "CallSubmodule", "submodule": "sub/b",
                                   "direct_transition": "Terminal"}}, "A"),
         "sub/b": module({"Initial": {"type": "CallSubmodule", "submodule": "sub/a",
                                      "direct_transition": "Terminal"}}, "B")},
        "calls itself (sub/a → sub/b → sub/a)"),
    "Delay of 1e400 years": (
        {"m": '{"name": "M", "states": {"Initial": {"type": "Delay", "exact": {"quantity": '
              '1e400, "unit": "years"}, "direct_transition": "Terminal"}, "Terminal": '
              '{"type": "Terminal"}}}'},
        "states.Initial.exact.quantity: number 1e400 is not a finite number"),
    "Death in NaN years": (
        {"m": '{"name": "M", "states": {"Initial": {"type": "Death", "exact": {"quantity": '
              'NaN, "unit": "years"}, "direct_transition": "Terminal"}, "Terminal": '
              '{"type": "Terminal"}}}'},
        "states.Initial.exact.quantity: number NaN is not a finite number"),
    "a million decimals": (
        {"m": module({"Initial": {"type": "Observation", "codes": [LOINC], "unit": "kg",
                                  "range": {"low": 1, "high": 2, "decimals": 10**6},
                                  "direct_transition": "Terminal"}})},
        "states.Initial.range: decimals 1000000 is not between 0 and 15"),
    "a procedure lasting a million years": (
        {"m": module({"Initial": {"type": "Procedure", "codes": [CODE],
                                  "duration": {"low": 10**6, "high": 10**6, "unit": "years"},
                                  "direct_transition": "Terminal"}})},
        "duration low of 1000000 years is longer than 1000 years"),
    "a Date in the year 10^12": (
        {"m": module({"Initial": {"type": "Guard", "allow": {
            "condition_type": "Date", "operator": ">", "year": 10**12},
            "direct_transition": "Terminal"}})},
        "states.Initial.allow: year 1000000000000 is not between 1 and 9999"),
    "a negative probability": (
        {"m": module({"Initial": {"type": "Initial", "distributed_transition": [
            {"distribution": -0.5, "transition": "Terminal"},
            {"distribution": 1.5, "transition": "Terminal"}]}})},
        "distributed_transition[0].distribution: probability -0.5 is not between 0 and 1"),
    "TRIANGULAR min above max": (
        {"m": module({"Initial": {"type": "Delay", "unit": "days", "distribution": {
            "kind": "TRIANGULAR", "parameters": {"min": 5, "mode": 3, "max": 1}},
            "direct_transition": "Terminal"}})},
        "TRIANGULAR needs min <= mode <= max"),
    "an empty code": (
        {"m": module({"Initial": {"type": "ConditionOnset", "codes": [{**CODE, "code": " "}],
                                  "direct_transition": "Terminal"}})},
        "states.Initial.codes[0]: empty code"),
    "a state defined twice": (
        {"m": '{"name": "M", "states": {"Initial": {"type": "Initial", "direct_transition": '
              '"Terminal"}, "Terminal": {"type": "Terminal"}, "Terminal": {"type": "Terminal"}}}'},
        "states.Terminal: state 'Terminal' is defined twice"),
    "a zero-delay loop": (
        {"m": module({"Initial": {"type": "Simple", "direct_transition": "B"},
                      "B": {"type": "SetAttribute", "attribute": "x", "value": 1,
                            "direct_transition": "Initial"}})},
        "states.B: no way out: the states B, Initial only lead to each other"),
    "a loop whose only way out never opens": (
        {"m": module({"Initial": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "Not", "condition": {"condition_type": "True"}},
             "transition": "Terminal"}, {"transition": "B"}]},
            "B": {"type": "Counter", "attribute": "n", "action": "increment",
                  "direct_transition": "Initial"}})},
        "their ways out never open"),
    "a loop that chooses the same way every time": (
        {"m": module({"Initial": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "Gender", "gender": "M"}, "transition": "B"},
            {"transition": "Terminal"}]},
            "B": {"type": "Simple", "direct_transition": "Initial"}})},
        "endless loop: the states B, Initial lead back to each other"),
    "a Delay of 0 in a loop": (
        {"m": module({"Initial": {"type": "Delay", "exact": {"quantity": 4.9e-324,
                                                             "unit": "days"},
                                  "direct_transition": "B"},
                      "B": {"type": "Simple", "direct_transition": "Initial"}})},
        "no way out: the states B, Initial only lead to each other"),
    "a Death in years that leads to itself": (
        {"m": module({"Initial": {"type": "Death", "exact": {"quantity": 50, "unit": "years"},
                                  "direct_transition": "Initial"}})},
        "no way out: the states Initial only lead to each other"),
    "a closed loop of one-minute Delays": (
        {"m": module({"Initial": {"type": "Delay", "exact": {"quantity": 1, "unit": "minutes"},
                                  "direct_transition": "B"},
                      "B": {"type": "Simple", "direct_transition": "Initial"}})},
        "wait at most 1 minute at a time, so a person who enters them goes round for the rest"),
    "a lone surrogate in a display": (
        {"m": '{"name": "M", "states": {"Initial": {"type": "ConditionOnset", "codes": [{"system": '
              '"SNOMED-CT", "code": "38341003", "display": "\\udc80"}], "direct_transition": '
              '"Terminal"}, "Terminal": {"type": "Terminal"}}}'},
        "states.Initial.codes[0].display: text holds a lone UTF-16 surrogate"),
    "a module that is null": (
        {"m": "null"}, "a module must be a JSON object"),
    "a range too wide to draw from": (
        {"m": module({"Initial": {"type": "Observation", "codes": [LOINC], "unit": "kg",
                                  "range": {"low": -1e308, "high": 1e308},
                                  "direct_transition": "Terminal"}})},
        "range low -1e+308 is beyond ±1e+250"),
    "a lookup table outside lookup_tables/": (
        {"m": module({"Initial": {"type": "Initial", "lookup_table_transition": [
            {"transition": "Terminal", "lookup_table_name": "/etc/passwd"}]}})},
        "lookup_table_name '/etc/passwd' must be the name of a file"),
    "an expression with a 5000-digit number": (
        {"m": module({"Initial": {"type": "SetAttribute", "attribute": "x",
                                  "expression": "9" * 5000, "direct_transition": "Terminal"}})},
        "states.Initial.expression: expression does not parse: Exceeds the limit"),
    "a malformed expression": (
        {"m": module({"Initial": {"type": "SetAttribute", "attribute": "x",
                                  "expression": "#{age} * (2 +", "direct_transition": "Terminal"}})},
        "states.Initial.expression: expression does not parse"),
    "JSON nested 600 levels": (
        {"m": '{"name": "M", "states": {"Initial": {"type": "Initial", "direct_transition": '
              '"Terminal", "remarks": ' + "[" * 600 + "]" * 600 + '}, "Terminal": {"type": '
              '"Terminal"}}}'},
        "nested more than 100 levels deep"),
    "a PriorState naming no state": (
        {"m": module({"Initial": {"type": "Initial", "conditional_transition": [
            {"condition": {"condition_type": "PriorState", "name": "Nowhere"},
             "transition": "Terminal"}, {"transition": "Terminal"}]}})},
        "PriorState name 'Nowhere' is not a state"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_and_run_refuse_the_same_module_with_the_same_message(case: str,
                                                                   tmp_path: Path) -> None:
    modules, message = CASES[case]
    folder = write(tmp_path / "modules", modules)
    found = errors_of(folder)
    assert any(message in line for line in found), found
    with pytest.raises(ModuleLoadError) as refused:
        load_modules(folder)
    assert {str(p).split(": ", 1)[1] for p in refused.value.problems} == \
        {line.split(": ", 1)[1] for line in found}
    result = simulate("-p", "1", "--modules-dir", str(folder), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and message in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out").exists()  # refused before any output exists


def test_lookup_table_cell_over_128_kb_is_a_clear_error(tmp_path: Path) -> None:
    folder = write(tmp_path / "modules", {"m": module({"Initial": {
        "type": "Initial", "lookup_table_transition": [
            {"transition": "Terminal", "default_probability": 1, "lookup_table_name": "t.csv"}]}})})
    (folder / "lookup_tables").mkdir()
    (folder / "lookup_tables" / "t.csv").write_text("gender,Terminal\n" + "M" * 140_000 + ",1\n")
    found = errors_of(folder)
    assert any("lookup table 't.csv': line 2: field larger than field limit" in f for f in found)


# ------------------------------------------------------------------ runtime guards


def test_a_loop_of_one_minute_delays_stops_with_file_state_and_person(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulation, "MAX_STATES_PER_LIFE", 50_000)
    folder = write(tmp_path / "modules", {"minute": module({
        "Initial": {"type": "Delay", "exact": {"quantity": 1, "unit": "minutes"},
                    "direct_transition": "B"},
        "B": {"type": "Simple", "distributed_transition": [
            {"distribution": 1e-9, "transition": "Terminal"},
            {"distribution": 1 - 1e-9, "transition": "Initial"}]}})})
    assert errors_of(folder) == []  # it has a way out: only the run can see it is too slow
    began = time.perf_counter()
    result = simulate("-p", "1", "--modules-dir", str(folder), "-o", str(tmp_path / "out"))
    assert time.perf_counter() - began < 60
    assert result.exit_code == 2
    assert "minute.json: state" in result.output and "(person 0)" in result.output
    assert "more than 50,000 states entered in one life" in result.output
    record = orjson.loads((tmp_path / "out" / "run.json").read_bytes())
    assert record["status"] == "failed" and "minute.json" in record["error"]


def test_a_module_that_kills_everyone_fails_with_exit_1_naming_the_state(tmp_path: Path) -> None:
    folder = write(tmp_path / "modules", {"kill": module({
        "Initial": {"type": "Death", "direct_transition": "Terminal"}})})
    result = simulate("-p", "2", "--modules-dir", str(folder), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    assert "cannot give the population asked for" in result.output
    assert "1000 by kill.json: state 'Initial'" in result.output
    record = orjson.loads((tmp_path / "out" / "run.json").read_bytes())
    assert record["status"] == "failed" and "kill.json: state 'Initial'" in record["error"]


def test_an_age_nobody_reaches_fails_with_exit_1_naming_natural_causes(tmp_path: Path) -> None:
    folder = write(tmp_path / "modules", {"idle": module({
        "Initial": {"type": "Initial", "direct_transition": "Terminal"}})})
    result = simulate("-p", "1", "--age", "110-110", "--modules-dir", str(folder),
                      "-o", str(tmp_path / "out"), "-s", "3")
    if result.exit_code == 0:
        pytest.skip("this seed's 110-year-old survived")
    assert result.exit_code == 1 and "by natural causes" in result.output, result.output


# ------------------------------------------------------------------ targeted cohorts


def test_a_keep_condition_no_module_records_is_refused_before_simulating(tmp_path: Path) -> None:
    result = simulate("-p", "1", "-m", "asthma", "--keep-condition", "xyzzy plugh",
                      "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "option --keep-condition: no condition the 1 module of this run" in result.output
    assert not (tmp_path / "out").exists()


def test_a_keep_rule_that_matches_too_rarely_stops_with_the_rate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "KEEP_MIN_SAMPLE", 20)
    folder = write(tmp_path / "modules", {"rare": module({
        "Initial": {"type": "Initial", "distributed_transition": [
            {"distribution": 0.000001, "transition": "Onset"},
            {"distribution": 0.999999, "transition": "Terminal"}]},
        "Onset": {"type": "ConditionOnset", "codes": [CODE], "direct_transition": "Terminal"}})})
    result = simulate("-p", "5", "--modules-dir", str(folder), "--shard-size", "10",
                      "--keep-condition", "hypertension", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    assert "kept 0 of the 20 people simulated (none; fewer than 1 in 1,000)" in result.output


# ------------------------------------------------------------------ the output folder


def test_an_earlier_run_is_neither_mixed_nor_lost(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("-p", "2", "-m", "asthma", "-o", str(out))
    first = CliRunner().invoke(main, [*args, "--format", "csv,ccda", "--reference-date",
                                      "2020-01-01"])
    assert first.exit_code == 0, first.output
    again = simulate(*args)
    assert again.exit_code == 2 and "holds an earlier run" in again.output
    assert "--resume" in again.output and "--overwrite" in again.output
    (out / "notes.txt").write_text("mine")
    replaced = simulate(*args, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert not (out / "ccda").exists()  # the earlier run's documents are gone
    assert (out / "notes.txt").read_text() == "mine"  # what a run does not write stays
    (out / "csv" / "mine.txt").write_text("mine too")
    refused = simulate(*args, "--overwrite")
    assert refused.exit_code == 2 and "csv/mine.txt" in refused.output
    assert (out / "csv" / "mine.txt").exists()


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_is_one_paragraph_and_resume_finishes_the_run(tmp_path: Path) -> None:
    args = ["-p", "6", "-s", "5", "-m", "asthma", "--shard-size", "2", "--format", "csv,fhir",
            "--reference-date", "2020-01-01", "-w", "1"]
    whole = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    with small_disk(tmp_path / "disk", "300k") as disk:
        out = disk / "out"
        full = CliRunner().invoke(main, [*args, "-o", str(out)])
        assert full.exit_code == 2, full.output
        assert "the disk is full" in full.output and "simulate --resume -o" in full.output
        assert "Traceback" not in full.output
        record = json.loads((out / "run.json").read_text())
        assert record["status"] == "interrupted"
        assert not (out / "run.json.tmp").exists()
        subprocess.run(["mount", "-o", "remount,size=100m", str(disk)], check=True)
        resumed = CliRunner().invoke(main, ["--resume", "-o", str(out)])
        assert resumed.exit_code == 0, resumed.output
        for name in ("patients.csv", "encounters.csv", "claims.csv"):
            assert (out / "csv" / name).read_bytes() == \
                (tmp_path / "whole" / "csv" / name).read_bytes()


def test_a_read_only_output_is_one_paragraph(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "1m") as disk:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        result = simulate("-p", "1", "-m", "asthma", "-o", str(disk / "out"))
        assert result.exit_code == 2
        assert "the file system is read-only" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


# ------------------------------------------------------------------ options and config


@pytest.mark.parametrize(("args", "message"), [
    (["--age", "120-125"], "option --age: '120-125' is not a range of ages between 0 and 110"),
    (["--reference-date", "0001-01-01"], "option --reference-date: 0001-01-01 is outside"),
    (["--reference-date", "9999-12-31"], "option --reference-date: 9999-12-31 is outside"),
    (["-s", str(2**64)], "option --seed: 18446744073709551616 is not between"),
    (["-p", "-1"], "option --population: -1 is not between 0 and"),
    (["-w", "0"], "option --workers: 0 is not between 1 and"),
    (["--resume", "--overwrite"], "give one"),
])
def test_option_values_are_checked_by_range(args: list[str], message: str,
                                            tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("content", "message"), [
    (b"population = inf\n", "option --population: expected a whole number, got inf"),
    (b"format = 5\n", "option --format: expected text, got int 5"),
    (b"age = 3\n", "option --age: expected text, got int 3"),
    (b"validate = \"yes\"\n", "option --validate: expected true or false"),
    (b"module = [\"a\", 1]\n", "option --module: expected text, got int 1"),
    (b"population = 1\nstate = \"\xff\xfe\"\n", "not UTF-8 text"),
    (b"[run\n", "not valid TOML"),
    (b"run = 5\n", "[run] must be a table of options"),
])
def test_config_values_are_checked_by_type(content: bytes, message: str, tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_bytes(content)
    result = CliRunner().invoke(main, ["--config", str(config), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_keep_module_that_is_not_a_module_is_a_clear_error(tmp_path: Path) -> None:
    binary = tmp_path / "binary.json"
    binary.write_bytes(bytes(range(256)) * 8)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for path, message in ((binary, "not UTF-8 text"), (deep, "nested too deeply")):
        result = simulate("-p", "1", "-m", "asthma", "-k", str(path), "-o", str(tmp_path / "o"))
        assert result.exit_code == 2 and "option --keep" in result.output
        assert message in result.output, result.output


def test_modules_check_on_odd_paths(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for target, message in ((tmp_path / "empty", "contains no .json modules"),
                            (Path("/dev/null"), "not a module"),
                            (fifo, "not a module")):
        result = CliRunner().invoke(main, ["modules", "check", str(target)])
        assert result.exit_code == 2 and message in result.output, result.output
    folder = write(tmp_path / "mods", {"ok": module({
        "Initial": {"type": "Initial", "direct_transition": "Terminal"}})})
    os.mkfifo(folder / "stuck.json")  # a FIFO among the modules is reported, never read
    result = CliRunner().invoke(main, ["modules", "check", str(folder)])
    assert result.exit_code == 2 and "stuck.json: error: not a regular file" in result.output
