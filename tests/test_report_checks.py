"""The record checks of `simulate report` find each kind of impossible record, on a run folder
written by hand with one mistake of each kind (no simulation: a few rows of CSV)."""

from __future__ import annotations

import json
from pathlib import Path

from simulator.export.csv import CSV_FILES
from simulator.report.page import write_report

ALIVE, DEAD = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
GHOST = "99999999-9999-4999-8999-999999999999"


def _table(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    columns = CSV_FILES[name]
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    csv = run / "csv"
    csv.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({
        "record_version": 1, "status": "complete", "modules": {}, "counts": {},
        "options": {"reference_date": "2024-01-01", "state": "Massachusetts",
                    "modules_dir": str(tmp_path / "gone"), "years_of_history": 10}}))
    person = {"RACE": "white", "ETHNICITY": "nonhispanic", "INCOME": "50000",
              "HEALTHCARE_EXPENSES": "10.00", "HEALTHCARE_COVERAGE": "90.00"}
    _table(csv, "patients", [
        {**person, "Id": ALIVE, "BIRTHDATE": "1980-05-05", "GENDER": "F"},
        {**person, "Id": ALIVE, "BIRTHDATE": "1980-05-05", "GENDER": "F"},  # repeated id
        {**person, "Id": DEAD, "BIRTHDATE": "1950-01-01", "DEATHDATE": "2020-01-01",
         "GENDER": "M"},
    ])
    encounter = {"ENCOUNTERCLASS": "wellness", "CODE": "162673000",
                 "TOTAL_CLAIM_COST": "125.00", "PAYER_COVERAGE": "100.00"}
    _table(csv, "encounters", [
        {**encounter, "Id": "e1", "PATIENT": ALIVE, "START": "2023-03-01T10:00:00Z",
         "STOP": "2023-03-01T10:15:00Z"},
        {**encounter, "Id": "e2", "PATIENT": GHOST, "START": "2023-03-02T10:00:00Z",
         "STOP": "2023-03-02T10:15:00Z"},  # nobody's
        {**encounter, "Id": "e3", "PATIENT": DEAD, "START": "2021-05-01T10:00:00Z",
         "STOP": "2021-05-01T09:00:00Z"},  # after death, and ends before it starts
    ])
    _table(csv, "conditions", [
        {"START": "2023-03-01", "PATIENT": ALIVE, "ENCOUNTER": "nope", "SYSTEM": "x",
         "CODE": "44054006", "DESCRIPTION": "Diabetes"},  # an encounter that does not exist
    ])
    observation = {"PATIENT": ALIVE, "ENCOUNTER": "e1", "DATE": "2023-03-01T10:00:00Z",
                   "TYPE": "numeric"}
    _table(csv, "observations", [
        {**observation, "CODE": "8302-2", "VALUE": "500.0", "UNITS": "cm"},  # 5 m tall
        {**observation, "CODE": "29463-7", "VALUE": "70.0", "UNITS": "kg"},
        {**observation, "CODE": "", "VALUE": "1.0"},  # no code
    ])
    return run


def test_each_impossible_record_is_found_and_the_page_still_made(tmp_path: Path) -> None:
    run = _run(tmp_path)
    summary = write_report(run)
    assert summary.page.is_file()
    document = json.loads((run / "report" / "report.json").read_text(encoding="utf-8"))
    found = {c["check"]: c["problems"] for c in
             document["sections"]["checks"]["figures"]["checks"]}
    expected = {
        "patients: Id repeated": 1,
        "encounters.PATIENT → patients.Id": 1,
        "encounters: START after the person's death": 1,
        "encounters: STOP before START": 1,
        "conditions.ENCOUNTER → encounters.Id": 1,
        "observations: body height (cm) outside 20–272": 1,
        "observations: body weight (kg) outside 0.3–650": 0,
        "observations: empty CODE": 1,
        "encounters: Id repeated": 0,
    }
    assert {k: found[k] for k in expected} == expected
    assert summary.record_problems == sum(expected.values())
    examples = {c["check"]: c["examples"] for c in
                document["sections"]["checks"]["figures"]["checks"]}
    assert examples["encounters.PATIENT → patients.Id"][0]["PATIENT"] == GHOST
    assert examples["encounters: STOP before START"][0]["START"] == "2021-05-01T10:00:00Z"
    # the tables this run did not write are named, not failed on
    said = " ".join(document["sections"]["checks"]["not_computed"])
    assert "claims_transactions" in said and "medications" in said
    health = " ".join(document["sections"]["health"]["not_computed"])
    assert "modules folder" in health  # the modules are gone: no module deaths to tell apart
