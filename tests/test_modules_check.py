"""`simulate modules check`: every deliberate mistake in tests/data/broken_modules is found at
its JSON path, and nothing is found in the project's modules or Synthea's corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.authoring.check import (
    ERROR,
    check_paths,
    exit_code,
    loinc_check_digit,
    verhoeff_valid,
)
from simulator.cli import main
from simulator.config import PROJECT_MODULES

BROKEN = Path(__file__).resolve().parent / "data" / "broken_modules"
FIXTURES = sorted(p for p in BROKEN.iterdir() if p.is_dir())
CORPUS = Path(os.environ.get("SYNTHEA_MODULES", Path(__file__).resolve().parents[2] / "shared"
                             / "synthea-modules"))


def test_there_are_at_least_20_distinct_mistakes() -> None:
    assert len(FIXTURES) >= 20
    expected = [json.loads((f / "expected.finding").read_text()) for f in FIXTURES]
    assert len({e["message"] for e in expected}) == len(expected)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_each_mistake_is_found_at_its_json_path(fixture: Path) -> None:
    want = json.loads((fixture / "expected.finding").read_text())
    findings = check_paths([fixture])
    matching = [f for f in findings if f.path == want["path"] and want["message"] in f.message]
    assert matching, "\n".join(f"{f.location()}: {f.severity}: {f.message}" for f in findings)
    assert matching[0].severity == want["severity"]
    assert matching[0].file.endswith("module.json")
    if want["severity"] == "warning":  # the mistake is the only thing wrong with the module
        assert not [f for f in findings if f.severity == ERROR]
    assert exit_code(findings) == (2 if want["severity"] == "error" else 1)


def test_checking_one_file_finds_the_same_as_its_folder() -> None:
    fixture = BROKEN / "transition_to_missing_state"
    by_file = check_paths([fixture / "module.json"])
    by_folder = check_paths([fixture])
    assert [(f.path, f.message) for f in by_file] == [(f.path, f.message) for f in by_folder]
    assert by_file[0].hint == "did you mean 'Height'?"


def test_the_project_modules_are_clean() -> None:
    assert check_paths([PROJECT_MODULES]) == []


def test_the_synthea_corpus_has_no_errors() -> None:
    if not CORPUS.is_dir():
        pytest.skip("Synthea's module corpus is not in ../shared/synthea-modules")
    errors = [f for f in check_paths([CORPUS]) if f.severity == ERROR]
    assert errors == [], "\n".join(f"{f.location()}: {f.message}" for f in errors[:20])


def test_check_digits() -> None:
    assert verhoeff_valid("36971009") and not verhoeff_valid("36971008")
    assert loinc_check_digit("8302") == 2 and loinc_check_digit("4548") == 4


def test_command_reports_every_problem_with_hints_and_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["modules", "check", str(BROKEN / "transition_to_missing_state"),
                                  str(BROKEN / "unreachable_state")])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert any(line.endswith("module.json:states.Visit.direct_transition: error: transition to "
                             "missing state 'Heigth'") for line in lines), result.output
    assert "    hint: did you mean 'Height'?" in lines
    assert "module.json:states.Orphan: warning: unreachable" in result.output
    assert "\x1b[" not in result.output  # colour only on a terminal
    assert "Traceback" not in result.output
    warn = runner.invoke(main, ["modules", "check", str(BROKEN / "unreachable_state")])
    assert warn.exit_code == 1
    clean = runner.invoke(main, ["modules", "check", str(PROJECT_MODULES)])
    assert clean.exit_code == 0 and "no problems found" in clean.output
    missing = runner.invoke(main, ["modules", "check", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output


def test_json_format_for_ci() -> None:
    result = CliRunner().invoke(main, ["modules", "check", "--format", "json",
                                       str(BROKEN / "negative_probability")])
    data = json.loads(result.output)
    assert result.exit_code == 2 and data["errors"] >= 1
    finding = data["findings"][0]
    assert set(finding) == {"file", "path", "severity", "message", "hint"}
    assert finding["path"] == "states.Yearly.distributed_transition[0].distribution"


def test_new_module_is_clean_and_runs(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "my_condition.json"
    result = runner.invoke(main, ["modules", "new", "My condition", "-o", str(target)])
    assert result.exit_code == 0, result.output
    data = json.loads(target.read_text())
    assert data["name"] == "My condition" and "Initial" in data["states"]
    assert check_paths([target]) == []
    again = runner.invoke(main, ["modules", "new", "My condition", "-o", str(target)])
    assert again.exit_code == 2 and "exists" in again.output
    from simulator.testing import run_modules

    run = run_modules({"my_condition": data}, population=60, seed=3)
    assert run.state_counts["ConditionOnset"] > 0 and run.state_counts["MedicationOrder"] > 0
