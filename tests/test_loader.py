"""Loading modules is validating them: the corpus loads, broken modules are reported precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.gmf import schema as s
from simulator.gmf.loader import ModuleLoadError, load_modules
from simulator.record import Code


def _write(root: Path, name: str, module: dict | str) -> None:
    path = root / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(module if isinstance(module, str) else json.dumps(module))


def _ok_module(**states: dict) -> dict:
    base = {"Initial": {"type": "Initial", "direct_transition": "Terminal"}, "Terminal": {"type": "Terminal"}}
    base.update(states)
    return {"name": "Test", "gmf_version": 2, "states": base}


def _problems(tmp_path: Path) -> list[str]:
    with pytest.raises(ModuleLoadError) as info:
        load_modules(tmp_path)
    return [str(p) for p in info.value.problems]


def test_whole_corpus_loads(corpus_dir: Path) -> None:
    files = sorted(p for p in corpus_dir.rglob("*.json") if "lookup_tables" not in p.parts)
    module_set = load_modules(corpus_dir)
    assert len(module_set.modules) == len(files) == 242
    assert len(module_set.top_level()) == 85
    keys = [m.key for m in module_set.top_level()]
    assert keys == sorted(keys)  # code-point order: upper case first
    assert keys[0] == "AIS_From_School_Screening_to_SOSORT_Recommendations"
    assert keys.index("mTBI") < keys.index("med_rec")


def test_numbers_in_text_fields_keep_their_literal_text(tmp_path: Path) -> None:
    _write(tmp_path, "m", """{"name": "N", "states": {
      "Initial": {"type": "Initial", "direct_transition": "Dx"},
      "Dx": {"type": "ConditionOnset", "codes": [{"system": "SNOMED-CT", "code": 1.50, "display": "x"}],
             "direct_transition": "P"},
      "P": {"type": "Procedure", "codes": [{"system": "SNOMED-CT", "code": 199885, "display": "y"}],
            "duration": {"low": 0.5, "high": 4.7, "unit": "days"}, "direct_transition": "Terminal"},
      "Terminal": {"type": "Terminal"}}}""")
    states = load_modules(tmp_path).modules["m"].states
    assert states["Dx"].codes[0] == Code("SNOMED-CT", "1.50")
    assert states["Dx"].codes[0].code == "1.50"
    assert states["P"].codes[0].code == "199885"
    assert (states["P"].duration.low, states["P"].duration.high) == (0, 4)


def test_condition_type_ignores_whitespace_but_not_case(tmp_path: Path) -> None:
    cond = {"condition_type": "Active  Condition", "codes": [{"system": "SNOMED-CT", "code": "1", "display": "x"}]}
    _write(tmp_path, "m", _ok_module(G={"type": "Guard", "allow": cond, "direct_transition": "Terminal"}))
    assert isinstance(load_modules(tmp_path).modules["m"].states["G"].allow, s.ActiveCondition)
    cond["condition_type"] = "active condition"
    _write(tmp_path, "m", _ok_module(G={"type": "Guard", "allow": cond, "direct_transition": "Terminal"}))
    assert _problems(tmp_path) == ["m.json: states.G.allow: unknown condition_type 'active condition'"]


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (
            {"Treat": {"type": "Simple", "conditional_transition": [
                {"condition": {"condition_type": "Gender", "gender": "F"}, "transition": "Terminal"},
                {"condition": {"condition_type": "Gender", "gender": "M"}, "transition": "Terminal"},
                {"condition": {"condition_type": "Agee", "operator": ">", "quantity": 1, "unit": "years"},
                 "transition": "Terminal"}]}},
            "states.Treat.conditional_transition[2].condition: unknown condition_type 'Agee'",
        ),
        ({"X": {"type": "Simpel", "direct_transition": "Terminal"}}, "states.X: unknown state type 'Simpel'"),
        ({"X": {"type": "Simple", "direct_transition": "Nowhere"}},
         "states.X.direct_transition: transition to missing state 'Nowhere'"),
        ({"X": {"type": "Simple"}}, "states.X: state has no transition"),
        ({"X": {"type": "Delay", "exact": {"quantity": 1, "unit": "fortnights"}, "direct_transition": "Terminal"}},
         "states.X.exact.unit"),
        ({"X": {"type": "Simple", "distributed_transition": [{"transition": "Terminal", "distribution": 0.5},
                                                             {"transition": "Gone", "distribution": 0.5}]}},
         "states.X.distributed_transition[1].transition: transition to missing state 'Gone'"),
        ({"X": {"type": "Guard", "allow": {"condition_type": "Age", "operator": "=>", "quantity": 1, "unit": "years"},
                "direct_transition": "Terminal"}}, "states.X.allow.operator"),
        ({"X": {"type": "Observation", "codes": [{"system": "LOINC", "code": "1", "display": "x"}],
                "exact": {"quantity": 1}, "direct_transition": "Terminal"}},
         "states.X: an observation with 'exact' or 'range' needs a non-blank 'unit'"),
        ({"X": {"type": "Delay", "distribution": {"kind": "GAUSIAN", "parameters": {"mean": 1}}, "unit": "days",
                "direct_transition": "Terminal"}}, "states.X.distribution.kind"),
        ({"X": {"type": "Delay", "distribution": {"kind": "GAUSSIAN", "parameters": {"mean": 1}}, "unit": "days",
                "direct_transition": "Terminal"}},
         "states.X.distribution: GAUSSIAN distribution needs parameter(s) standardDeviation"),
        ({"X": {"type": "Counter", "attribute": "n", "direct_transition": "Terminal"}}, "states.X.action"),
        ({"X": {"type": "VitalSign", "vital_sign": "Blood Presure", "exact": {"quantity": 1},
                "direct_transition": "Terminal"}}, "states.X.vital_sign"),
        ({"X": {"type": "CallSubmodule", "submodule": "meds/none", "direct_transition": "Terminal"}},
         "states.X.submodule: submodule 'meds/none' not found"),
        ({"X": {"type": "Simple", "lookup_table_transition": [
            {"transition": "Terminal", "default_probability": 1, "lookup_table_name": "absent.csv"}]}},
         "states.X.lookup_table_transition[0].lookup_table_name: lookup table 'absent.csv' not found"),
        ({"X": {"type": "Encounter", "encounter_class": "spaceship", "codes": [
            {"system": "SNOMED-CT", "code": "1", "display": "x"}], "direct_transition": "Terminal"}},
         "states.X: unknown encounter_class 'spaceship'"),
        ({"Other": {"type": "Initial", "direct_transition": "Terminal"}},
         "states.Other: a state of type Initial must be named 'Initial'"),
    ],
)
def test_broken_module_is_reported_with_json_path(tmp_path: Path, states: dict, expected: str) -> None:
    _write(tmp_path, "asthma", _ok_module(**states))
    problems = _problems(tmp_path)
    assert any(p.startswith(f"asthma.json: {expected}") for p in problems), problems


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    _write(tmp_path, "bad", '{"name": "x", "states": {,}}')
    assert _problems(tmp_path) == ["bad.json: malformed JSON at line 1 column 26: Expecting property name enclosed in double quotes"]


def test_missing_initial_and_all_problems_reported_together(tmp_path: Path) -> None:
    _write(tmp_path, "a", {"name": "A", "states": {"Terminal": {"type": "Terminal"}}})
    _write(tmp_path, "b", _ok_module(X={"type": "Simple", "direct_transition": "Y"}))
    problems = _problems(tmp_path)
    assert "a.json: states: no state named 'Initial' (the entry point)" in problems
    assert "b.json: states.X.direct_transition: transition to missing state 'Y'" in problems


def test_lookup_table_columns_must_match_transitions(tmp_path: Path) -> None:
    _write(tmp_path, "m", _ok_module(
        A={"type": "Simple", "direct_transition": "Terminal"},
        X={"type": "Simple", "lookup_table_transition": [
            {"transition": "A", "default_probability": 0.5, "lookup_table_name": "t.csv"},
            {"transition": "Terminal", "default_probability": 0.5, "lookup_table_name": "t.csv"}]}))
    (tmp_path / "lookup_tables").mkdir()
    (tmp_path / "lookup_tables" / "t.csv").write_text("age,A,Wrong\n0-10,0.5,0.5\n")
    problems = _problems(tmp_path)
    assert any("column 'Wrong' is not one of the state's transitions" in p for p in problems), problems


def test_gmf_version_above_two_is_rejected(tmp_path: Path) -> None:
    module = _ok_module()
    module["gmf_version"] = 3
    _write(tmp_path, "m", module)
    assert _problems(tmp_path) == ["m.json: gmf_version 3 is newer than supported (2)"]


def test_project_modules_load() -> None:
    from simulator.config import PROJECT_MODULES

    module_set = load_modules(PROJECT_MODULES)
    assert module_set.top_level()
