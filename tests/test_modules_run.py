"""`simulate modules run MODULE`: the per-state table matches what the module was written to do.

Rates are checked against the module's probabilities with a tolerance of 4 binomial standard
errors, so a wrong count (or a counting bug) fails while the seed-to-seed noise does not.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from simulator.authoring import trial
from simulator.cli import main
from simulator.engine import timeutil as tu
from simulator.testing import run_modules, write_module_tree

REFERENCE = date(2020, 1, 1)


def code(number: str, display: str) -> dict[str, str]:
    return {"system": "SNOMED-CT", "code": number, "display": display}


CONDITION_A = code("195662009", "Acute viral pharyngitis (disorder)")
CONDITION_B = code("444814009", "Viral sinusitis (disorder)")
DEATH_CAUSE = code("233604007", "Pneumonia (disorder)")

BRANCHES = {
    "name": "Branches",
    "states": {
        "Initial": {"type": "Initial", "direct_transition": "Branch"},
        "Branch": {"type": "Simple", "distributed_transition": [
            {"distribution": 0.3, "transition": "Onset_A"},
            {"distribution": 0.7, "transition": "Wait_Ten_Days"}]},
        "Onset_A": {"type": "ConditionOnset", "codes": [CONDITION_A], "direct_transition": "Fate"},
        "Fate": {"type": "Simple", "distributed_transition": [
            {"distribution": 0.2, "transition": "Die"},
            {"distribution": 0.8, "transition": "Terminal"}]},
        "Die": {"type": "Death", "codes": [DEATH_CAUSE], "direct_transition": "Terminal"},
        "Wait_Ten_Days": {"type": "Delay", "exact": {"quantity": 10, "unit": "days"},
                          "direct_transition": "Onset_B"},
        "Onset_B": {"type": "ConditionOnset", "codes": [CONDITION_B], "direct_transition": "Terminal"},
        "Never": {"type": "Simple", "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"},
    },
}


def within_binomial(count: int, n: int, p: float) -> bool:
    se = math.sqrt(n * p * (1 - p))
    return abs(count - n * p) <= 4 * se


def by_state(report: trial.TrialReport, key: str) -> dict[str, trial.StateStats]:
    return {st.name: st for st in report.states[key]}


def run_spec(spec: str, modules_dir: Path, **options: Any) -> trial.TrialReport:
    program = trial.load_trial_program(trial.find_module(spec, modules_dir))
    return trial.run_trial(program, trial.TrialOptions(reference_date=REFERENCE, **options))


def run_tree(tmp_path: Path, tree: dict[str, Any], key: str, **options: Any) -> trial.TrialReport:
    return run_spec(key, write_module_tree(tmp_path / "modules", tree), **options)


@pytest.fixture(scope="module")
def branches(tmp_path_factory: pytest.TempPathFactory) -> trial.TrialReport:
    return run_tree(tmp_path_factory.mktemp("branches"), {"branches": BRANCHES}, "branches",
                    population=1000, seed=3, age=(1, 80), lifecycle=False)


def test_counts_follow_the_transition_probabilities(branches: trial.TrialReport) -> None:
    states = by_state(branches, "branches")
    n = 1000
    assert states["Branch"].people == states["Branch"].entries == n
    a, wait = states["Onset_A"].people, states["Wait_Ten_Days"].people
    assert a + wait == n
    assert within_binomial(a, n, 0.3), a
    assert within_binomial(states["Die"].people, a, 0.2), (states["Die"].people, a)
    assert states["Never"].people == states["Never"].entries == 0
    assert list(states) == list(BRANCHES["states"])  # the module's own order


def test_fixed_delay_time_is_exact(branches: trial.TrialReport) -> None:
    wait = by_state(branches, "branches")["Wait_Ten_Days"]
    assert wait.finished == wait.entries == wait.people  # everyone is older than 10 days
    assert wait.mean_ms() == wait.median_ms() == 10 * tu.DAY
    row = next(r for r in trial.report_json(branches)["modules"]["branches"]
               if r["state"] == "Wait_Ten_Days")
    assert row["mean_days"] == row["median_days"] == 10.0


def test_conditions_and_module_deaths(branches: trial.TrialReport) -> None:
    states = by_state(branches, "branches")
    conditions = {c.code: c for c in branches.produced["conditions"]}
    assert conditions["195662009"].people == states["Onset_A"].people
    assert conditions["444814009"].people == states["Wait_Ten_Days"].people
    assert conditions["444814009"].active_at_end == conditions["444814009"].people
    died = states["Die"].people
    assert died > 0
    assert states["Terminal"].people == 1000 - died  # the walk stops at an immediate death
    assert branches.deaths == branches.module_deaths == died  # no lifecycle: no natural death
    assert branches.deaths_by_state == {"Die": died}


HAZARD = {
    "name": "Hazard",
    "states": {
        "Initial": {"type": "Initial", "direct_transition": "Monthly_Risk"},
        # A fast-forwarded hazard loop: an Age flip ends a skip early, and the lifecycle's
        # smoking attribute interrupts skips while they run.
        "Monthly_Risk": {"type": "Delay", "exact": {"quantity": 30, "unit": "days"},
                         "complex_transition": [
            {"condition": {"condition_type": "Attribute", "attribute": "smoker",
                           "operator": "==", "value": True},
             "distributions": [{"distribution": 0.01, "transition": "Onset"},
                               {"distribution": 0.99, "transition": "Monthly_Risk"}]},
            {"condition": {"condition_type": "Age", "operator": "<", "quantity": 18,
                           "unit": "years"},
             "distributions": [{"distribution": 0.002, "transition": "Onset"},
                               {"distribution": 0.998, "transition": "Monthly_Risk"}]},
            {"distributions": [{"distribution": 0.005, "transition": "Onset"},
                               {"distribution": 0.995, "transition": "Monthly_Risk"}]}]},
        "Onset": {"type": "ConditionOnset", "codes": [CONDITION_A], "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"},
    },
}


def test_hazard_loop_entries_count_every_iteration(tmp_path: Path) -> None:
    """The loop is fast-forwarded: its iterations are rebuilt from the visit windows. The same
    people simulated by run_modules (same seed, same engine) give the true count: the loop is
    entered every 30 days from birth until the onset, or until death or the reference date."""
    options = {"population": 120, "seed": 5, "age": (20, 60), "lifecycle": True}
    report = run_tree(tmp_path, {"hazard": HAZARD}, "hazard", **options)
    truth = run_modules({"hazard": HAZARD}, reference_date=REFERENCE, **options)
    period = 30 * tu.DAY
    entries, still_in, onsets = 0, 0, 0
    for record in truth.records:
        onset = [c.start for e in record.encounters for c in e.conditions
                 if c.codes[0].code == CONDITION_A["code"]]
        if onset:
            onsets += 1
            entries += (onset[0] - record.patient.birthdate) // period
        else:
            still_in += 1
            entries += -(-(record.end_time - record.patient.birthdate) // period)
    loop = by_state(report, "hazard")["Monthly_Risk"]
    assert 10 < onsets < 110  # both kinds of people are there
    assert loop.entries == entries
    assert loop.in_at_end == still_in
    assert loop.mean_ms() == period
    assert by_state(report, "hazard")["Onset"].people == onsets
    assert report.deaths == sum(r.patient.deathdate is not None for r in truth.records)
    assert report.module_deaths == 0


def test_submodules_resolve_and_broken_neighbours_do_not_matter(tmp_path: Path) -> None:
    caller = {"name": "Caller", "states": {
        "Initial": {"type": "CallSubmodule", "submodule": "caller/treat", "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"}}}
    treat = {"name": "Treat", "states": {
        "Initial": {"type": "Initial", "direct_transition": "Visit"},
        "Visit": {"type": "Encounter", "encounter_class": "ambulatory",
                  "codes": [code("185345009", "Encounter for symptom (procedure)")],
                  "direct_transition": "Drug"},
        "Drug": {"type": "MedicationOrder",
                 "codes": [{"system": "RxNorm", "code": "313782", "display": "Acetaminophen 325 MG Oral Tablet"}],
                 "direct_transition": "End"},
        "End": {"type": "EncounterEnd", "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"}}}
    root = write_module_tree(tmp_path / "mods", {"caller": caller, "caller/treat": treat})
    (root / "broken.json").write_text("{not json", encoding="utf-8")
    report = run_spec(str(root / "caller.json"), tmp_path / "elsewhere", population=20,
                      lifecycle=False)
    assert by_state(report, "caller/treat")["Drug"].people == 20
    assert report.produced["medications"][0].people == 20
    encounter = report.produced["encounters"][0]
    assert (encounter.people, encounter.entries) == (20, 20)
    assert "ambulatory" in encounter.display


def write_branches(tmp_path: Path) -> Path:
    path = tmp_path / "branches.json"
    path.write_text(json.dumps(BRANCHES), encoding="utf-8")
    return path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["modules", "run", *args])


def test_cli_text_table(tmp_path: Path) -> None:
    result = invoke(str(write_branches(tmp_path)), "-p", "40", "--no-lifecycle",
                    "--reference-date", "2020-01-01", "--age", "1-80")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Branches (")
    # state, type, people, %, entries, in at end, mean time, median time
    wait = next(line.split() for line in lines if line.split()[:1] == ["Wait_Ten_Days"])
    assert wait[1] == "Delay" and wait[2] == wait[4] and wait[5] == "0"
    assert wait[-4:] == ["10", "d", "10", "d"]
    names = [line.split()[0] for line in lines if line.split()[:1] and line.split()[0] in BRANCHES["states"]]
    assert names == list(BRANCHES["states"])
    assert "conditions recorded" in result.output
    assert lines[-1].startswith("deaths: ")


def test_cli_json_output(tmp_path: Path) -> None:
    result = invoke(str(write_branches(tmp_path)), "-p", "30", "-s", "2", "--no-lifecycle",
                    "--reference-date", "2020-01-01", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"module", "options", "modules", "produced", "deaths"}
    assert data["module"]["key"] == "branches"
    assert data["options"] == {"population": 30, "seed": 2, "reference_date": "2020-01-01",
                               "age": None, "gender": None, "lifecycle": False}
    rows = data["modules"]["branches"]
    assert [r["state"] for r in rows] == list(BRANCHES["states"])
    assert set(rows[0]) == {"state", "type", "people", "people_percent", "entries", "in_at_end",
                            "finished_visits", "mean_days", "median_days"}
    assert rows[0]["people"] == 30 and rows[0]["people_percent"] == 100.0
    assert set(data["produced"]) <= {"conditions", "allergies", "medications", "careplans",
                                     "procedures", "immunizations", "devices", "encounters"}
    deaths = data["deaths"]
    assert deaths["total"] == deaths["by_module"] + deaths["natural_or_other"]


@pytest.mark.parametrize(("args", "message"), [
    (["no_such_module"], "module 'no_such_module'"),
    (["missing.json"], "module file 'missing.json' does not exist"),
    (["{module}", "-p", "0"], "option --population"),
    (["{module}", "-p", "many"], "option --population"),
    (["{module}", "--gender", "X"], "option --gender"),
    (["{module}", "--age", "40"], "option --age"),
    (["{module}", "--reference-date", "2020-13-40"], "option --reference-date"),
    (["{module}", "--format", "xml"], "option --format"),
    (["{broken}"], "broken.json"),
    (["{failing}", "-p", "2", "--no-lifecycle"], "failing.json: state 'Initial'"),
])
def test_cli_errors_exit_2_without_traceback(tmp_path: Path, args: list[str], message: str) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"name": "Broken", "states": {"Initial": {"type": "Nope"}}}))
    failing = tmp_path / "failing.json"  # fails while running: the attribute is never set
    failing.write_text(json.dumps({"name": "Failing", "states": {
        "Initial": {"type": "Death", "referenced_by_attribute": "never_set", "direct_transition": "T"},
        "T": {"type": "Terminal"}}}))
    paths = {"module": str(write_branches(tmp_path)), "broken": str(broken), "failing": str(failing)}
    result = invoke(*[a.format(**paths) for a in args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")
    assert message in result.output
    assert "Traceback" not in result.output
