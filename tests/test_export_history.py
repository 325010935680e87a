"""The export window, --years-of-history (docs/engine-behaviour.md §11.2): one test per rule
of what older history is kept, then the window through a whole run."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.export.csv import record_rows
from simulator.export.history import recent_history
from simulator.record import (
    Allergy,
    CarePlan,
    Claim,
    ClaimLine,
    Code,
    Condition,
    Device,
    Encounter,
    HealthRecord,
    Immunization,
    Medication,
    Observation,
    Patient,
    Procedure,
    Report,
    Supply,
)

DAY = 86_400_000
YEAR = 365 * DAY
STOP = 60 * YEAR  # the end of the run (1 January 2030 is not needed: any instant will do)
CUTOFF = STOP - 10 * YEAR
OLD = CUTOFF - 2 * YEAR  # long before the window
NEW = STOP - YEAR  # inside it


def code(c: str) -> Code:
    return Code("SNOMED-CT", c, f"display {c}")


def visit(eid: str, start: int, **groups: list) -> Encounter:
    return Encounter(id=eid, start=start, codes=[code("185349003")], stop=start + 3_600_000,
                     **groups)


def life(*encounters: Encounter) -> HealthRecord:
    return HealthRecord(Patient(id="p1", birthdate=0, gender="F", race="white",
                                ethnicity="nonhispanic"), end_time=STOP,
                        encounters=list(encounters))


def window(record: HealthRecord, years: int = 10) -> HealthRecord:
    return recent_history(record, years, STOP)


def kept_ids(record: HealthRecord, group: str) -> list[str]:
    return [x.id for e in record.encounters for x in getattr(e, group)]


def test_no_window_returns_the_record_itself() -> None:
    record = life(visit("e1", OLD, procedures=[Procedure("p", OLD, [code("1")])]))
    assert window(record, 0) is record


def test_a_record_all_inside_the_window_is_returned_as_is() -> None:
    record = life(visit("e1", NEW, procedures=[Procedure("p", NEW, [code("1")])]))
    assert window(record) is record


def test_entries_are_kept_by_start_inside_the_window_and_dropped_before_it() -> None:
    record = life(
        visit("old", OLD, procedures=[Procedure("p-old", OLD, [code("1")])],
              immunizations=[Immunization("i-old", OLD, [code("2")])]),
        visit("edge", CUTOFF, procedures=[Procedure("p-edge", CUTOFF, [code("1")])]),
        visit("new", NEW, procedures=[Procedure("p-new", NEW, [code("1")])],
              immunizations=[Immunization("i-new", NEW, [code("2")])]),
    )
    out = window(record)
    # the cut-off itself is outside: the window is (cutoff, stop]
    assert kept_ids(out, "procedures") == ["p-new"]
    assert kept_ids(out, "immunizations") == ["i-new"]
    # the visit at the cut-off ended an hour after it: it stays, emptied
    assert [e.id for e in out.encounters] == ["edge", "new"]


def test_an_old_entry_that_stopped_inside_the_window_is_kept() -> None:
    record = life(visit("old", OLD, procedures=[
        Procedure("long", OLD, [code("1")], stop=CUTOFF + DAY),
        Procedure("short", OLD, [code("1")], stop=CUTOFF),
    ]))
    out = window(record)
    assert kept_ids(out, "procedures") == ["long"]
    assert [e.id for e in out.encounters] == ["old"]


def test_a_stop_after_the_end_of_the_run_is_cleared_on_a_copy() -> None:
    proc = Procedure("p", OLD, [code("1")], stop=STOP + DAY)
    record = life(visit("old", OLD, procedures=[proc]))
    out = window(record)
    (kept,) = out.encounters[0].procedures
    assert kept.stop is None
    assert proc.stop == STOP + DAY  # the record given is untouched


def test_old_conditions_are_kept_while_their_code_is_active() -> None:
    record = life(visit("old", OLD, conditions=[
        Condition("active", OLD, [code("44054006")]),
        Condition("ended", OLD, [code("10509002")], stop=OLD + DAY),
        Condition("earlier episode", OLD - YEAR, [code("195662009")], stop=OLD - DAY),
    ]), visit("later", OLD + DAY, conditions=[
        Condition("same code, still active", OLD + DAY, [code("195662009")]),
    ]))
    out = window(record)
    # Synthea looks the code up among the present entries: an old ended episode is kept
    # while a later entry with the same code is still active
    assert kept_ids(out, "conditions") == ["active", "earlier episode",
                                           "same code, still active"]


def test_old_allergies_are_kept_while_active() -> None:
    record = life(visit("old", OLD, allergies=[
        Allergy("active", OLD, [code("300913006")]),
        Allergy("ended", OLD, [code("419474003")], stop=OLD + DAY),
    ]))
    assert kept_ids(window(record), "allergies") == ["active"]


def test_old_medications_are_kept_while_active_and_their_claim_goes_with_them() -> None:
    active = Medication("active", OLD, [code("310965")])
    ended = Medication("ended", OLD, [code("197361")], stop=OLD + DAY)
    for med in (active, ended):
        med.claim = Claim(f"claim-{med.id}", "payer", [ClaimLine(med.id, "medication", 10.0,
                                                                   payer=10.0)])
    out = window(life(visit("old", OLD, medications=[active, ended])))
    (enc,) = out.encounters
    assert [m.id for m in enc.medications] == ["active"]
    assert enc.medications[0].claim is active.claim


def test_old_care_plans_are_kept_while_active() -> None:
    record = life(visit("old", OLD, careplans=[
        CarePlan("active", OLD, [code("698360004")]),
        CarePlan("ended", OLD, [code("53950000")], stop=OLD + DAY),
    ]))
    assert kept_ids(window(record), "careplans") == ["active"]


def test_old_observations_are_dropped_except_the_cause_of_death() -> None:
    cause = Observation("cause", OLD, [Code("LOINC", "69453-9", "Cause of Death")],
                        value=code("22298006"))
    record = life(visit("old", OLD, observations=[
        Observation("weight", OLD, [Code("LOINC", "29463-7", "Body Weight")], value=70.0),
        cause,
    ]))
    assert kept_ids(window(record), "observations") == ["cause"]


def test_old_reports_are_dropped_except_the_death_certificate() -> None:
    record = life(visit("old", OLD, reports=[
        Report("panel", OLD, [Code("LOINC", "24323-8", "Metabolic panel")]),
        Report("certificate", OLD, [Code("LOINC", "69409-1", "Death certificate")]),
    ]))
    assert kept_ids(window(record), "reports") == ["certificate"]


def test_a_removed_entry_takes_its_claim_line_with_it() -> None:
    kept = Condition("active", OLD, [code("44054006")])
    gone = Procedure("gone", OLD, [code("1")], cost=100.0)
    enc = visit("old", OLD, conditions=[kept], procedures=[gone])
    enc.claim = Claim("c1", "payer", [ClaimLine("old", "encounter", 50.0, payer=50.0),
                                      ClaimLine("gone", "procedure", 100.0, payer=80.0,
                                                copay=20.0)])
    out = window(life(enc))
    (view,) = out.encounters
    assert [line.entry_id for line in view.claim.lines] == ["old"]
    assert [line.entry_id for line in enc.claim.lines] == ["old", "gone"]  # untouched


def test_old_encounters_stay_only_for_what_they_still_hold() -> None:
    death_certification = Encounter(id="certification", start=OLD,
                                    codes=[Code("SNOMED-CT", "308646001", "Death Certification")])
    record = life(
        visit("nothing left", OLD, observations=[
            Observation("o", OLD, [Code("LOINC", "8302-2", "Height")], value=1.0)]),
        # devices, supplies and imaging do not keep an encounter
        visit("device only", OLD, devices=[Device("d", OLD, [code("36965003")])],
              supplies=[Supply("s", OLD, [code("419045004")])]),
        visit("active condition", OLD, conditions=[Condition("c", OLD, [code("44054006")])],
              devices=[Device("d2", OLD, [code("36965003")])]),
        death_certification,
        visit("empty but recent", NEW),
    )
    out = window(record)
    assert [e.id for e in out.encounters] == ["active condition", "certification",
                                              "empty but recent"]
    # what is not filtered stays with a kept encounter
    assert kept_ids(out, "devices") == ["d2"]


def test_the_record_given_is_not_changed() -> None:
    record = life(
        visit("old", OLD, conditions=[Condition("c", OLD, [code("44054006")])],
              procedures=[Procedure("p", OLD, [code("1")], stop=STOP + DAY)]),
        visit("older", OLD - YEAR, observations=[
            Observation("o", OLD - YEAR, [Code("LOINC", "8302-2", "Height")], value=1.0)]),
    )
    before = copy.deepcopy(record)
    window(record)
    assert record == before


def test_csv_patient_costs_count_every_claim_of_the_life() -> None:
    old = visit("old", OLD)
    old.claim = Claim("c-old", "payer", [ClaimLine("old", "encounter", 100.0, payer=70.0,
                                                   copay=30.0)], member_id="m")
    new = visit("new", NEW)
    new.claim = Claim("c-new", "payer", [ClaimLine("new", "encounter", 10.0, payer=6.0,
                                                   copay=4.0)], member_id="m")
    record = life(old, new)
    shown = window(record)
    assert [e.id for e in shown.encounters] == ["new"]
    full = record_rows(record, organization_kind=lambda _: None)["patients"][0].split(",")
    part = record_rows(shown, organization_kind=lambda _: None,
                       lifetime=record)["patients"][0].split(",")
    assert full[25:27] == part[25:27] == ["34.00", "76.00"]
    rows = record_rows(shown, organization_kind=lambda _: None, lifetime=record)
    assert [r.split(",")[0] for r in rows["claims"]] == ["c-new"]


# --------------------------------------------------------------------------------------------
# Through a run
# --------------------------------------------------------------------------------------------

RUN = ["-p", "12", "-s", "17", "--format", "csv", "-w", "1", "--reference-date", "2024-06-01"]


def _run(out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(main, [*RUN, "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out / "csv"


def _table(folder: Path, stem: str) -> list[dict[str, str]]:
    with open(folder / f"{stem}.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("history")
    return _run(base / "default"), _run(base / "whole", "--years-of-history", "0")


def test_a_run_writes_ten_years_by_default_and_whole_lives_with_zero(
        both: tuple[Path, Path]) -> None:
    recent, whole = both
    run = json.loads((recent.parent / "run.json").read_text())
    assert run["options"]["years_of_history"] == 10
    cutoff = (dt.datetime(2024, 6, 1, tzinfo=dt.UTC) - dt.timedelta(days=3650)).isoformat()[:10]
    # patients, and each person's lifetime costs, are the same
    assert (recent / "patients.csv").read_bytes() == (whole / "patients.csv").read_bytes()
    for stem, column in (("procedures", "START"), ("immunizations", "DATE"),
                         ("observations", "DATE")):
        old_full = [r for r in _table(whole, stem) if r[column][:10] < cutoff]
        assert old_full, f"the whole lives have {stem} before the window"
        old_kept = [r for r in _table(recent, stem) if r[column][:10] < cutoff
                    and (r.get("STOP") or "")[:10] <= cutoff]
        if stem == "observations":  # only causes of death
            assert {r["CODE"] for r in old_kept} <= {"69453-9"}
        else:
            assert old_kept == []
    # every old condition written is one whose code is still active for that patient
    active = {(r["PATIENT"], r["CODE"]) for r in _table(whole, "conditions") if not r["STOP"]}
    old_conditions = [r for r in _table(recent, "conditions") if r["START"] < cutoff
                      and (not r["STOP"] or r["STOP"] <= cutoff)]
    assert all((r["PATIENT"], r["CODE"]) in active for r in old_conditions)
    # the window writes a subset of the encounters, and each claim belongs to one of them
    recent_encounters = {r["Id"] for r in _table(recent, "encounters")}
    assert recent_encounters < {r["Id"] for r in _table(whole, "encounters")}
    assert {r["APPOINTMENTID"] for r in _table(recent, "claims")} <= recent_encounters


def test_years_of_history_is_checked(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["-p", "1", "-o", str(tmp_path),
                                       "--years-of-history", "ten"])
    assert result.exit_code == 2
    assert "option --years-of-history: expected a whole number" in result.output
    result = CliRunner().invoke(main, ["-p", "1", "-o", str(tmp_path),
                                       "--years-of-history", "-1"])
    assert result.exit_code == 2
    assert "--years-of-history" in result.output
