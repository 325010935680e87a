"""The compiled engine lives the same lives as the reference engine: fast-forwarded hazard
loops (with Age flips, signals and lookup tables with age and time ranges), submodules,
encounters and the engine's own visits, on populations large enough to reach the rare paths."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import CORPUS
from test_fast_forward import hazard_module  # tests/ is on the path (rootdir)

from simulator.cli import main
from simulator.compiled.lower import Unsupported
from simulator.engine import simulation
from simulator.testing import module_tree, run_both, run_modules

CODE = {"system": "SNOMED-CT", "code": "44054006", "display": "Diabetes"}


@pytest.mark.parametrize("fast", [True, False])
def test_hazard_loops_with_flips_and_signals(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulation, "FAST_FORWARD", fast)
    result = run_both(hazard_module(), population=300, seed=5, age=(20, 21),
                      reference_date=date(2020, 1, 1), lifecycle=False)
    assert sum(1 for r in result.records for e in r.encounters if e.conditions) > 200


TABLE = """sex,age,time,Onset,Wait
F,0-39,0-1262304000000,0.01,0.99
F,0-39,1262304000001-4102444800000,0.03,0.97
F,40-120,0-4102444800000,0.05,0.95
M,0-120,1990-01-01-2010-12-31,0.02,0.98
"""


def lookup_module() -> dict:
    """A monthly Delay whose odds come from a table with sex, age and time ranges; men outside
    1990-2010 fall back to the default probabilities."""
    return {
        "Initial": {"type": "Initial", "direct_transition": "Sex"},
        "Sex": {"type": "SetAttribute", "attribute": "sex", "value_attribute": "gender",
                "direct_transition": "Wait"},
        "Wait": {"type": "Delay", "exact": {"quantity": 1, "unit": "months"},
                 "lookup_table_transition": [
                     {"transition": "Onset", "default_probability": 0.004,
                      "lookup_table_name": "risk.csv"},
                     {"transition": "Wait", "default_probability": 0.996,
                      "lookup_table_name": "risk.csv"}]},
        "Onset": {"type": "ConditionOnset", "codes": [CODE], "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"},
    }


@pytest.mark.parametrize("fast", [True, False])
def test_lookup_table_hazards(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulation, "FAST_FORWARD", fast)
    result = run_both({"name": "Risk", "states": lookup_module()}, population=300, seed=3,
                      age=(0, 90), lookup_tables={"risk.csv": TABLE}, lifecycle=False)
    onsets = [c.start for r in result.records for e in r.encounters for c in e.conditions]
    assert 50 < len(onsets) < 300


def prior_state_module() -> dict:
    """PriorState over a history the compiled engine keeps short: `Loop`, `Check` and
    `Initial` are named by nothing, so entering them adds no visit, and the monthly `Wait`
    then replaces its own visit where the reference appends `Wait, Loop, Wait`."""
    return {
        "Initial": {"type": "Initial", "direct_transition": "Start"},
        "Start": {"type": "Simple", "direct_transition": "Wait"},
        "Wait": {"type": "Delay", "exact": {"quantity": 1, "unit": "months"},
                 "direct_transition": "Loop"},
        "Loop": {"type": "Simple", "distributed_transition": [
            {"transition": "Wait", "distribution": 0.97},
            {"transition": "Decide", "distribution": 0.03}]},
        "Decide": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "PriorState", "name": "Start",
                           "within": {"quantity": 3, "unit": "years"}},
             "transition": "Recent"},
            {"condition": {"condition_type": "PriorState", "name": "Wait", "since": "Start"},
             "transition": "Later"},
            {"transition": "Terminal"}]},
        "Recent": {"type": "Counter", "attribute": "recent", "action": "increment",
                   "direct_transition": "Check"},
        "Later": {"type": "Counter", "attribute": "later", "action": "increment",
                  "direct_transition": "Check"},
        "Check": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "PriorState", "name": "Decide",
                           "within": {"quantity": 6, "unit": "months"}},
             "transition": "Again"},
            {"transition": "Terminal"}]},
        "Again": {"type": "Delay", "exact": {"quantity": 2, "unit": "years"},
                  "direct_transition": "Wait"},
        "Terminal": {"type": "Terminal"},
    }


def test_prior_state_sees_the_same_history_with_fewer_visits() -> None:
    from simulator.gmf import schema as s
    from simulator.gmf.rules import texts_besides_targets

    states = prior_state_module()
    named = set().union(*(texts_besides_targets(s.ModuleSchema.model_validate(
        {"name": "Prior", "states": states}).states[n]) for n in states))
    assert {"Start", "Wait", "Decide"} <= named
    assert not {"Loop", "Check", "Recent", "Later", "Again"} & named  # only transition targets
    result = run_both({"name": "Prior", "states": states}, population=200, seed=4,
                      age=(0, 30), lifecycle=False)
    for counter in ("recent", "later"):
        assert sum(1 for p in result.people if p.attributes.get(counter)) > 20, counter


def test_encounters_and_symptom_driven_visits() -> None:
    """Module encounters waiting for the lock, wellness visits joined, and symptoms high enough
    to send the person to the emergency room."""
    states = {
        "Initial": {"type": "Initial", "direct_transition": "Wait"},
        "Wait": {"type": "Delay", "range": {"low": 1, "high": 9, "unit": "months"},
                 "direct_transition": "Pain"},
        "Pain": {"type": "Symptom", "symptom": "Pain", "range": {"low": 200, "high": 600},
                 "direct_transition": "Visit"},
        "Visit": {"type": "Encounter", "wellness": True, "direct_transition": "Med"},
        "Med": {"type": "MedicationOrder", "chronic": True,
                "codes": [{"system": "RxNorm", "code": "860975", "display": "Metformin"}],
                "direct_transition": "End"},
        "End": {"type": "EncounterEnd", "direct_transition": "Urgent"},
        "Urgent": {"type": "Encounter", "encounter_class": "emergency",
                   "codes": [{"system": "SNOMED-CT", "code": "50849002", "display": "ER"}],
                   "direct_transition": "Done"},
        "Done": {"type": "EncounterEnd", "direct_transition": "Wait"},
    }
    result = run_both({"name": "Pain", "states": states}, population=40, seed=9, age=(0, 12),
                      lifecycle=False)
    classes = {e.encounter_class for r in result.records for e in r.encounters}
    assert {"wellness", "emergency"} <= classes


ECG = {"system": "LOINC", "code": "131328", "display": "MDC_ECG_ELEC_POTL"}
SERIES = {"name": "Heart", "states": {
    "Initial": {"type": "Initial", "direct_transition": "Trace"},
    "Trace": {"type": "SetAttribute", "attribute": "ecg", "series_data": "0.1 0.5 -0.2",
              "period": 0.01, "direct_transition": "Lead"},
    "Lead": {"type": "SetAttribute", "attribute": "ecg_ii", "series_data": "1 2e-3",
             "direct_transition": "Visit"},
    "Visit": {"type": "Encounter", "encounter_class": "ambulatory", "codes": [
        {"system": "SNOMED-CT", "code": "185345009", "display": "Encounter for symptom"}],
        "direct_transition": "Reading"},
    "Reading": {"type": "Observation", "category": "procedure", "unit": "uV", "codes": [ECG],
                "sampled_data": {"attributes": ["ecg", "no_such_trace", "ecg_ii"],
                                 "origin_value": 0, "factor": 1},
                "direct_transition": "Done"},
    "Done": {"type": "EncounterEnd", "direct_transition": "Once"},
    "Once": {"type": "Delay", "exact": {"quantity": 20, "unit": "years"},
             "direct_transition": "Trace"}}}

# what the compiled engine cannot run yet: a text made in an expression
TEXTS = {"name": "Texts", "states": {
    "Initial": {"type": "Initial", "direct_transition": "Label"},
    "Label": {"type": "SetAttribute", "attribute": "label",
              "expression": "if #{age} > 40 then 'older' else 'younger'",
              "direct_transition": "Terminal"},
    "Terminal": {"type": "Terminal"}}}


def test_series_data_and_its_observations() -> None:
    """SetAttribute's series data, and the sampled-data Observation that records the series
    its attributes hold at the time (one unset), in both engines."""
    result = run_both(SERIES, population=6, seed=4, age=(30, 60), lifecycle=False)
    values = [o.value for r in result.records for e in r.encounters for o in e.observations]
    assert values and all(v == [0.1, 0.5, -0.2, 1.0, 0.002] for v in values)
    assert all(p.attributes["ecg"] == {"series": [0.1, 0.5, -0.2], "period": 0.01}
               for p in result.people)


def test_what_it_cannot_run_is_refused_by_name() -> None:
    """What the compiled engine cannot run yet is a load-time error naming module, state and
    feature, with the way out."""
    with pytest.raises(Unsupported, match=r"module\.json: state 'Label': the compiled engine "
                                          r"cannot run .*String.* yet; run with --engine "
                                          r"reference"):
        run_modules(TEXTS, population=1, engine="compiled", lifecycle=False)


def test_own_modules_live_the_same_lives() -> None:
    """Every module of modules/ together, without the lifecycle, person by person."""
    from simulator.config import PROJECT_MODULES

    names = sorted(p.stem for p in PROJECT_MODULES.glob("*.json"))
    result = run_both(module_tree(*names), population=120, seed=7, age=(0, 90),
                      lifecycle=False)
    assert sum(len(r.encounters) for r in result.records) > 1000


def test_records_leave_out_only_the_observations_the_window_drops() -> None:
    """With an export window, a compiled record leaves out the observations (and panels) made
    before its cut-off; the rest of the record is the whole one, and an entry left out is
    still made, the same, when asked for by id."""
    from simulator.compiled.replay import J_OBSERVATION, J_PANEL
    from simulator.config import RunConfig
    from simulator.worker import Worker

    config = RunConfig(seed=3, engine="compiled", reference_date=date(2024, 6, 1))
    worker = Worker.for_run(config)
    replay = worker._compiled.replay  # type: ignore[attr-defined]
    assert replay.window_safe
    journals = []
    build = replay.build
    replay.build = lambda rows, values, *options: (  # type: ignore[method-assign]
        journals.append((rows.copy(), values.copy(), dict(replay.person_attributes))),
        build(rows, values, *options))[1]
    try:
        ints, floats = worker.population.draw(list(range(6)))
        for i in range(6):
            list(worker.lives(i, ints[i], floats[i]))
    finally:
        del replay.build
    since = worker.exported_since
    assert since is not None
    left_out = 0
    for rows, values, attributes in journals:
        replay.person_attributes = attributes
        whole, whole_entries, _ = replay.build(rows, values)
        part, part_entries, _ = replay.build(rows, values, since)
        assert len(whole) == len(part)
        for a, b in zip(whole, part, strict=True):
            recent = [o for o in a.observations if o.start > since]
            assert b.observations == recent
            assert (a.conditions, a.procedures, a.medications, a.claim) == (
                b.conditions, b.procedures, b.medications, b.claim)
        for row in rows:
            if row[0] in (J_OBSERVATION, J_PANEL) and row[1] <= since:
                left_out += 1
                made = part_entries[int(row[2])]
                expected = whole_entries[int(row[2])]
                assert (made.id, made.start, made.codes, made.value) == (
                    expected.id, expected.start, expected.codes, expected.value)
    assert left_out > 100


@pytest.mark.parametrize("years", [10, 0])
def test_observation_lines_write_what_observation_objects_write(years: int) -> None:
    """A run writing only CSV or Parquet gets its observations as CSV lines made from the
    journal (panels and the export window included): the exporter writes the same rows as from
    Observation objects."""
    from simulator.config import RunConfig
    from simulator.export.csv import record_rows
    from simulator.export.history import recent_history
    from simulator.worker import Worker

    config = RunConfig(seed=5, engine="compiled", formats=("csv", "parquet"),
                       years_of_history=years, reference_date=date(2024, 6, 1))
    as_text, as_objects = Worker.for_run(config), Worker.for_run(config, objects=True)
    assert as_text.observation_text and not as_objects.observation_text
    ints, floats = as_text.population.draw(list(range(40)))
    lines = panels = 0
    for i in range(40):
        for (a, _), (b, _) in zip(as_text.lives(i, ints[i], floats[i]),
                                  as_objects.lives(i, ints[i], floats[i]), strict=True):
            assert all(not e.observations for e in a.encounters if e.observation_lines)
            assert all(e.observation_lines is None for e in b.encounters)
            rows_a = record_rows(recent_history(a, years, config.reference_time), lifetime=a)
            rows_b = record_rows(recent_history(b, years, config.reference_time), lifetime=b)
            assert rows_a == rows_b
            lines += sum(len(e.observation_lines or ()) for e in a.encounters)
            panels += sum(1 for e in b.encounters for o in e.observations if o.children)
    assert lines > 1000 and panels > 10


def test_engine_option_refuses_before_writing(tmp_path: Path) -> None:
    """A run the compiled engine (the default) cannot do fails at once, exit 2, with nothing
    written."""
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "texts.json").write_text(json.dumps(TEXTS))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["-p", "1", "--modules-dir", str(modules), "-o", str(out)])
    assert result.exit_code == 2
    assert "texts.json: state 'Label': the compiled engine cannot run" in result.output
    assert "--engine reference" in result.output
    assert not out.exists()
    bad = CliRunner().invoke(main, ["-p", "1", "--engine", "fast", "-o", str(out)])
    assert bad.exit_code == 2 and "unknown engine 'fast'" in bad.output


@pytest.mark.parametrize(("modules", "population", "years"),
                         [("own", 500, "0"), ("own", 300, "10"), ("corpus", 200, "10"),
                          ("corpus", 60, "0")])
def test_full_runs_write_the_same_csv(tmp_path: Path, modules: str, population: int,
                                      years: str) -> None:
    """The bar for the compiled engine: a whole run (lifecycle, providers, payers and claims,
    every module) writes byte-identical CSV with both engines, for Synthea's corpus too; whole
    lives, and the default 10 years (where the compiled records leave out the observations
    the window drops)."""
    args = ["-p", str(population), "-s", "11", "--format", "csv", "-w", "2",
            "--years-of-history", years]
    if modules == "corpus":
        if not CORPUS.is_dir():
            pytest.skip("Synthea's module corpus is not in ../shared/synthea-modules")
        args += ["--modules-dir", str(CORPUS)]
    written = {}
    for engine in ("reference", "compiled"):
        out = tmp_path / engine
        result = CliRunner().invoke(main, [*args, "--engine", engine, "-o", str(out)])
        assert result.exit_code == 0, result.output
        written[engine] = {p.name: p.read_bytes() for p in sorted((out / "csv").glob("*.csv"))}
    assert len(written["reference"]) >= 15
    assert written["reference"].keys() == written["compiled"].keys()
    for name, data in written["reference"].items():
        assert data == written["compiled"][name], f"{name} differs between the engines"
    assert written["reference"]["claims.csv"].count(b"\n") > population


def test_keep_module_keeps_the_same_people(tmp_path: Path) -> None:
    """A keep module (walked in the kernel at the end of each life, death ignored) keeps the
    same people, deceased records too, as the reference engine; run.json splits the CPU time
    by phase for each engine."""
    keep = tmp_path / "keep.json"
    keep.write_text(json.dumps({"name": "Keep", "gmf_version": 2, "states": {
        "Initial": {"type": "Initial", "conditional_transition": [
            {"condition": {"condition_type": "And", "conditions": [
                {"condition_type": "Gender", "gender": "F"},
                {"condition_type": "Active Condition", "codes": [
                    {"system": "SNOMED-CT", "code": "162864005", "display": "BMI 30+"}]}]},
             "transition": "Count"},
            {"transition": "Terminal"}]},
        "Count": {"type": "Counter", "attribute": "kept", "action": "increment",
                  "direct_transition": "Keep"},
        "Keep": {"type": "Terminal"}, "Terminal": {"type": "Terminal"}}}))
    written, phases = {}, {}
    for engine in ("reference", "compiled"):
        out = tmp_path / engine
        result = CliRunner().invoke(main, ["-p", "12", "-s", "3", "--format", "csv", "-w", "1",
                                           "-m", "obesity", "-k", str(keep), "--engine", engine,
                                           "-o", str(out)])
        assert result.exit_code == 0, result.output
        written[engine] = {p.name: p.read_bytes() for p in sorted((out / "csv").glob("*.csv"))}
        phases[engine] = json.loads((out / "run.json").read_text())["cpu_seconds"]
    assert written["reference"] == written["compiled"]
    patients = list(csv.DictReader(io.StringIO(written["compiled"]["patients.csv"].decode())))
    assert len([p for p in patients if not p["DEATHDATE"]]) == 12
    assert {p["GENDER"] for p in patients} == {"F"}
    assert {"engine", "export", "setup", "gc"} <= phases["reference"].keys()
    assert "records" in phases["compiled"] and "records" not in phases["reference"]
    for split in phases.values():
        assert sum(v for k, v in split.items() if k != "total") <= split["total"] + 0.01  # rounding


def lives_with(lifecycle: tuple, states: dict, population: int, seed: int = 2,
               world: Any = None) -> None:
    """Both engines with some of the built-in lifecycle processes, person by person."""
    import tempfile

    from simulator.compiled.engine import CompiledEngine
    from simulator.engine.simulation import PersonSim, World
    from simulator.population.people import Population, PopulationOptions
    from simulator.testing import first_difference, write_module_tree
    from simulator.worker import compile_modules

    with tempfile.TemporaryDirectory() as tmp:
        program = compile_modules(write_module_tree(Path(tmp), {"m": {"name": "M",
                                                                   "states": states}}))
    options = PopulationOptions(seed=seed, reference_time=(date(2024, 1, 1) - date(1970, 1, 1)).days
                                * 86_400_000, min_age=0, max_age=90)
    world = world or World(immunizations=False)
    engine = CompiledEngine(program, lifecycle, world)
    for i in range(population):
        a, b = Population(options).make(i), Population(options).make(i)
        ref = PersonSim(program, a, options.reference_time, None, lifecycle, world).run()
        got = engine.live(b, options.reference_time).record
        assert ref == got, f"person {i}: {first_difference(ref, got)}"
        assert dict(a.attributes) == dict(b.attributes), first_difference(
            dict(a.attributes), dict(b.attributes), "attributes")


def test_life_events_and_natural_death() -> None:
    """Smoking, licences, marriage and married names, employment, quitting and natural death
    happen at the same instants with the same values in both engines; a module reacting to
    them (a Guard on smoking, a Counter on unemployment) sees the same."""
    from simulator.builtin.lifecycle import life_events, natural_death

    states = {
        "Initial": {"type": "Initial", "direct_transition": "Smokes"},
        "Smokes": {"type": "Guard", "allow": {"condition_type": "Attribute",
                                               "attribute": "smoker", "operator": "==",
                                               "value": True}, "direct_transition": "Cough"},
        "Cough": {"type": "Symptom", "symptom": "Cough", "range": {"low": 10, "high": 90},
                  "direct_transition": "Job"},
        "Job": {"type": "Guard", "allow": {"condition_type": "Attribute",
                                            "attribute": "unemployed", "operator": "==",
                                            "value": True}, "direct_transition": "Count"},
        "Count": {"type": "Counter", "attribute": "job losses", "action": "increment",
                  "direct_transition": "Wait"},
        "Wait": {"type": "Delay", "exact": {"quantity": 1, "unit": "years"},
                 "direct_transition": "Job"},
    }
    lives_with((life_events, natural_death), states, population=60)


def test_routine_immunizations_at_engine_visits() -> None:
    """Every due dose of the schedule at wellness and symptom-driven visits, catch-up
    included, across ages 0-90."""
    states = {
        "Initial": {"type": "Initial", "direct_transition": "Wait"},
        "Wait": {"type": "Delay", "range": {"low": 2, "high": 30, "unit": "months"},
                 "direct_transition": "Pain"},
        "Pain": {"type": "Symptom", "symptom": "Pain", "range": {"low": 100, "high": 600},
                 "direct_transition": "Wait"},
    }
    from simulator.engine.simulation import World

    lives_with((), states, population=60, world=World(immunizations=True))


def test_covid19_vaccination() -> None:
    """The programme-start decision and both doses at visits of their own, for people alive
    in 2021 of every age."""
    from simulator.builtin.covid19_immunization import covid19_immunization
    from simulator.builtin.lifecycle import natural_death

    states = {"Initial": {"type": "Initial", "direct_transition": "Terminal"},
              "Terminal": {"type": "Terminal"}}
    lives_with((covid19_immunization, natural_death), states, population=80)


def test_providers() -> None:
    """Each encounter at the person's nearest organization for its class, with a clinician
    drawn there; the death certificate too."""
    from simulator.builtin.lifecycle import life_events, natural_death
    from simulator.engine.simulation import World
    from simulator.providers.network import provider_network

    states = {
        "Initial": {"type": "Initial", "direct_transition": "Wait"},
        "Wait": {"type": "Delay", "range": {"low": 1, "high": 8, "unit": "years"},
                 "direct_transition": "ER"},
        "ER": {"type": "Encounter", "encounter_class": "emergency",
               "codes": [{"system": "SNOMED-CT", "code": "50849002", "display": "ER"}],
               "direct_transition": "End"},
        "End": {"type": "EncounterEnd", "direct_transition": "Wait"},
    }
    lives_with((life_events, natural_death), states, population=40,
               world=World(network=provider_network("MA"), immunizations=True))


def test_insurance_and_claims() -> None:
    """The yearly plan choice (with pregnancy and kidney failure changing who Medicaid and
    Medicare accept), coverage periods with member ids, the payer of each visit, and claims:
    lines billed as a visit ends and late ones (a procedure and a medication recorded after
    the visit ended), deductibles carried from claim to claim."""
    from simulator.builtin.lifecycle import life_events, natural_death
    from simulator.engine.simulation import World
    from simulator.payers.insurance import insurance_process
    from simulator.payers.plans import load_payers
    from simulator.providers.network import provider_network

    code = {"system": "SNOMED-CT", "code": "185349003", "display": "Visit"}
    states = {
        "Initial": {"type": "Initial", "direct_transition": "Wait"},
        "Wait": {"type": "Delay", "range": {"low": 2, "high": 9, "unit": "years"},
                 "distributed_transition": [
                     {"distribution": 0.2, "transition": "Pregnant"},
                     {"distribution": 0.1, "transition": "Kidneys"},
                     {"distribution": 0.7, "transition": "Visit"}]},
        "Pregnant": {"type": "SetAttribute", "attribute": "pregnant", "value": True,
                     "direct_transition": "Visit"},
        "Kidneys": {"type": "SetAttribute", "attribute": "end_stage_renal_disease",
                    "value": True, "direct_transition": "Visit"},
        "Visit": {"type": "Encounter", "encounter_class": "ambulatory", "codes": [code],
                  "direct_transition": "Surgery"},
        "Surgery": {"type": "Procedure", "codes": [
            {"system": "SNOMED-CT", "code": "80146002", "display": "Appendectomy"}],
            "direct_transition": "Drug"},
        "Drug": {"type": "MedicationOrder", "codes": [
            {"system": "RxNorm", "code": "313782", "display": "Acetaminophen"}],
            "direct_transition": "End"},
        "End": {"type": "EncounterEnd", "direct_transition": "Late"},
        "Late": {"type": "Procedure", "codes": [
            {"system": "SNOMED-CT", "code": "73761001", "display": "Colonoscopy"}],
            "direct_transition": "LateDrug"},
        "LateDrug": {"type": "MedicationOrder", "codes": [
            {"system": "RxNorm", "code": "197361", "display": "Amlodipine"}],
            "direct_transition": "Unpregnant"},
        "Unpregnant": {"type": "SetAttribute", "attribute": "pregnant",
                       "direct_transition": "Wait"},
    }
    lives_with((insurance_process, life_events, natural_death), states, population=60,
               world=World(network=provider_network("MA"), payers=load_payers(),
                           immunizations=True))


def test_weight_management_and_the_whole_lifecycle() -> None:
    """Every built-in process at once (DEFAULT_LIFECYCLE): yearly weight-management checks
    from BMI and BMI-for-age, episodes that end and start again, a module's trigger waking the
    process early (SimPy's any_of, one event later than a plain wait), and modules reading
    the managed weight."""
    from simulator.builtin.lifecycle import DEFAULT_LIFECYCLE
    from simulator.engine.simulation import World
    from simulator.payers.plans import load_payers
    from simulator.providers.network import provider_network

    weight = {"system": "LOINC", "code": "29463-7", "display": "Body Weight"}
    states = {
        "Initial": {"type": "Initial", "direct_transition": "Wait"},
        "Wait": {"type": "Delay", "range": {"low": 1, "high": 6, "unit": "years"},
                 "distributed_transition": [
                     {"distribution": 0.3, "transition": "Trigger"},
                     {"distribution": 0.7, "transition": "Visit"}]},
        "Trigger": {"type": "SetAttribute", "attribute": "trigger_weight_loss", "value": True,
                    "direct_transition": "Settle"},
        "Settle": {"type": "Delay", "exact": {"quantity": 1, "unit": "days"},
                   "direct_transition": "Untrigger"},
        "Untrigger": {"type": "SetAttribute", "attribute": "trigger_weight_loss",
                      "direct_transition": "Visit"},
        "Visit": {"type": "Encounter", "encounter_class": "ambulatory",
                  "codes": [{"system": "SNOMED-CT", "code": "185349003", "display": "Visit"}],
                  "direct_transition": "Weigh"},
        "Weigh": {"type": "Observation", "category": "vital-signs", "codes": [weight],
                  "vital_sign": "Weight", "unit": "kg", "direct_transition": "End"},
        "End": {"type": "EncounterEnd", "conditional_transition": [
            {"condition": {"condition_type": "Attribute", "attribute":
                           "active_weight_management", "operator": "==", "value": True},
             "transition": "Managed"},
            {"transition": "Wait"}]},
        "Managed": {"type": "Counter", "attribute": "managed_visits", "action": "increment",
                    "direct_transition": "Wait"},
    }
    lives_with(DEFAULT_LIFECYCLE, states, population=60,
               world=World(network=provider_network("MA"), payers=load_payers(),
                           immunizations=True))
