"""`simulate report` and `simulate ... --report` refuse what they cannot read or write with one
paragraph naming the path or option (exit code 2), never a traceback, and before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import main


def _report(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", *args])
    return result.exit_code, result.output


def _assert_clear(code: int, output: str, *words: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output and "internal error" not in output, output
    assert output.startswith("error: "), output
    for word in words:
        assert word in output, output


def _run_record(folder: Path, **changes: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"record_version": 1, "status": "complete",
              "options": {"reference_date": "2024-01-01", "modules_dir": str(folder)},
              "modules": {}, "counts": {}}
    record.update(changes)
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


def test_a_folder_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-run"
    _assert_clear(*_report(str(missing)), str(missing), "does not exist")


def test_a_folder_without_run_json_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "csv").mkdir()
    _assert_clear(*_report(str(tmp_path)), str(tmp_path), "not a run folder", "run.json")


def test_a_file_is_not_a_run_folder(tmp_path: Path) -> None:
    file = tmp_path / "patients.csv"
    file.write_text("Id\n")
    _assert_clear(*_report(str(file)), str(file), "not a folder")


def test_an_unreadable_run_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{ not json")
    _assert_clear(*_report(str(tmp_path)), str(tmp_path / "run.json"), "cannot read")


def test_a_run_json_without_options_is_not_a_run_record(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text('{"status": "complete"}')
    _assert_clear(*_report(str(tmp_path)), str(tmp_path / "run.json"), "not a run record")


def test_an_unfinished_run_says_how_to_finish_it(tmp_path: Path) -> None:
    _run_record(tmp_path, status="interrupted")
    _assert_clear(*_report(str(tmp_path)), "not complete", "simulate --resume -o", str(tmp_path))


def test_a_csv_file_of_another_layout_is_named(tmp_path: Path) -> None:
    _run_record(tmp_path)
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "patients.csv").write_text("Id,NAME\n1,x\n")
    _assert_clear(*_report(str(tmp_path)), str(tmp_path / "csv" / "patients.csv"), "header")


@pytest.mark.parametrize("page, words", [
    ("", ("is a folder",)),  # the folder itself
    ("report.txt", ("ending in .html",)),
])
def test_a_page_that_cannot_be_written_is_refused(tmp_path: Path, page: str,
                                                  words: tuple[str, ...]) -> None:
    run = _run_record(tmp_path / "run")
    target = tmp_path / page if page else tmp_path
    _assert_clear(*_report(str(run), "-o", str(target)), "option -o", *words)


def test_the_assets_folder_must_not_be_a_file(tmp_path: Path) -> None:
    run = _run_record(tmp_path / "run")
    (tmp_path / "page").write_text("in the way")
    _assert_clear(*_report(str(run), "-o", str(tmp_path / "page.html")),
                  str(tmp_path / "page"), "is a file")


def test_report_flag_on_a_run_without_tables_is_refused_before_it_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["-p", "1", "--format", "fhir", "-o", str(out),
                                       "--report"])
    _assert_clear(result.exit_code, result.output, "option --report", "--format")
    assert not out.exists()


def test_report_flag_with_upload_needs_a_file() -> None:
    result = CliRunner().invoke(main, ["-p", "1", "--upload", "http://localhost:9/fhir",
                                       "--report"])
    _assert_clear(result.exit_code, result.output, "option --report", "--upload")


def test_report_page_given_to_the_flag_is_checked_before_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["-p", "1", "--format", "csv", "-o", str(out),
                                       "--report", str(tmp_path / "page.pdf")])
    _assert_clear(result.exit_code, result.output, "ending in .html")
    assert not out.exists()


def test_overwrite_clears_the_earlier_runs_report(tmp_path: Path) -> None:
    from simulator.run import clear_earlier_run, earlier_run

    run = _run_record(tmp_path / "run")
    (run / "report.html").write_text("<html></html>")
    (run / "report").mkdir()
    (run / "report" / "report.json").write_text("{}")
    (run / "report" / "age-sex-pyramid.png").write_bytes(b"\x89PNG")
    assert {"run.json", "report.html", "report/"} <= set(earlier_run(run))
    assert clear_earlier_run(run) == []
    assert sorted(p.name for p in run.iterdir()) == []


def test_a_memory_limit_that_is_not_a_size_is_named(tmp_path: Path) -> None:
    run = _run_record(tmp_path / "run")
    _assert_clear(*_report(str(run), "--memory-limit", "lots"), "option --memory-limit", "512MB")


def test_report_flag_with_upload_and_a_file_is_the_uploads_json_report(tmp_path: Path) -> None:
    report = tmp_path / "upload.json"
    result = CliRunner().invoke(main, ["-p", "1", "-s", "1", "-w", "1", "--upload",
                                       "http://127.0.0.1:9/fhir", "--dry-run",
                                       "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["dry_run"] is True
