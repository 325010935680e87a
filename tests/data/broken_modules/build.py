"""Writes the broken-module fixtures: one folder per deliberate mistake, each holding
`module.json` (plus what the mistake needs) and `expected.finding` (JSON) — the finding `simulate modules
check` must report (severity, JSON path, words of the message).

    python tests/data/broken_modules/build.py

Every fixture is the same small, valid module (`BASE`) with one mistake made to it, so a finding
in a fixture can only come from its mistake.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

SINUSITIS = {"system": "SNOMED-CT", "code": "36971009", "display": "Sinusitis (disorder)"}
VISIT = {"system": "SNOMED-CT", "code": "185345009", "display": "Encounter for symptom (procedure)"}
AMOXICILLIN = {"system": "RxNorm", "code": "308182", "display": "Amoxicillin 250 MG Oral Capsule"}
HEIGHT = {"system": "LOINC", "code": "8302-2", "display": "Body Height"}

BASE: dict[str, Any] = {
    "name": "Broken example",
    "gmf_version": 2,
    "states": {
        "Initial": {"type": "Initial", "direct_transition": "Age_Guard"},
        "Age_Guard": {"type": "Guard", "allow": {"condition_type": "Age", "operator": ">=",
                                                 "quantity": 18, "unit": "years"},
                      "direct_transition": "Yearly"},
        "Yearly": {"type": "Delay", "exact": {"quantity": 1, "unit": "years"},
                   "distributed_transition": [{"distribution": 0.1, "transition": "Onset"},
                                              {"distribution": 0.9, "transition": "Yearly"}]},
        "Onset": {"type": "ConditionOnset", "target_encounter": "Visit", "codes": [SINUSITIS],
                  "direct_transition": "Visit"},
        "Visit": {"type": "Encounter", "encounter_class": "ambulatory", "codes": [VISIT],
                  "direct_transition": "Height"},
        "Height": {"type": "Observation", "category": "vital-signs", "codes": [HEIGHT],
                   "unit": "cm", "range": {"low": 150, "high": 190},
                   "direct_transition": "Med"},
        "Med": {"type": "MedicationOrder", "codes": [AMOXICILLIN], "reason": "Onset",
                "direct_transition": "End_Visit"},
        "End_Visit": {"type": "EncounterEnd", "direct_transition": "Wait"},
        "Wait": {"type": "Delay", "range": {"low": 7, "high": 21, "unit": "days"},
                 "direct_transition": "End_Med"},
        "End_Med": {"type": "MedicationEnd", "medication_order": "Med",
                    "direct_transition": "End_Condition"},
        "End_Condition": {"type": "ConditionEnd", "condition_onset": "Onset",
                          "direct_transition": "Done"},
        "Done": {"type": "Terminal"},
    },
}

Edit = Callable[[dict[str, Any]], Any]
FIXTURES: list[tuple[str, Edit, str, str, str]] = []


def fixture(name: str, severity: str, path: str, words: str) -> Callable[[Edit], Edit]:
    def register(edit: Edit) -> Edit:
        FIXTURES.append((name, edit, severity, path, words))
        return edit
    return register


def st(m: dict[str, Any]) -> dict[str, Any]:
    return m["states"]


@fixture("malformed_json", "error", "", "malformed JSON at line")
def _(m):
    return json.dumps(m, indent=2).replace('"Done"\n', '"Done",\n', 1)


@fixture("duplicate_state", "error", "states.Wait", "'Wait' is defined twice")
def _(m):
    text = json.dumps(m, indent=2)
    extra = '"Wait": {"type": "Delay", "exact": {"quantity": 3, "unit": "days"}, ' \
            '"direct_transition": "End_Med"},\n    "End_Med"'
    return text.replace('"End_Med": {', extra + ': {', 1)


@fixture("unknown_state_type", "error", "states.Wait", "unknown state type 'Dealy'")
def _(m):
    st(m)["Wait"]["type"] = "Dealy"


@fixture("unknown_condition_type", "error", "states.Age_Guard.allow", "unknown condition_type 'Agee'")
def _(m):
    st(m)["Age_Guard"]["allow"]["condition_type"] = "Agee"


@fixture("missing_required_member", "error", "states.Age_Guard.allow", "required member is missing")
def _(m):
    del st(m)["Age_Guard"]["allow"]


@fixture("wrong_value_type", "error", "states.Age_Guard.allow.quantity", "eighteen")
def _(m):
    st(m)["Age_Guard"]["allow"]["quantity"] = "eighteen"


@fixture("transition_to_missing_state", "error", "states.Visit.direct_transition",
         "transition to missing state 'Heigth'")
def _(m):
    st(m)["Visit"]["direct_transition"] = "Heigth"


@fixture("state_without_transition", "error", "states.End_Visit", "state has no transition")
def _(m):
    del st(m)["End_Visit"]["direct_transition"]


@fixture("no_initial_state", "error", "states", "no state named 'Initial'")
def _(m):
    st(m)["Start"] = st(m).pop("Initial")
    st(m)["Start"]["type"] = "Simple"


@fixture("unreachable_state", "warning", "states.Orphan", "unreachable")
def _(m):
    st(m)["Orphan"] = {"type": "Simple", "direct_transition": "Done"}


@fixture("loop_without_a_wait", "error", "states.Loop_A", "no way out")
def _(m):
    st(m)["End_Condition"]["direct_transition"] = "Loop_A"
    st(m)["Loop_A"] = {"type": "Simple", "direct_transition": "Loop_B"}
    st(m)["Loop_B"] = {"type": "Counter", "attribute": "loops", "action": "increment",
                       "direct_transition": "Loop_A"}


@fixture("probabilities_above_one", "warning", "states.Yearly.distributed_transition",
         "sum to 1.1, more than 1")
def _(m):
    st(m)["Yearly"]["distributed_transition"][0]["distribution"] = 0.2


@fixture("probabilities_below_one", "warning", "states.Yearly.distributed_transition",
         "sum to 0.9, less than 1")
def _(m):
    st(m)["Yearly"]["distributed_transition"][1]["distribution"] = 0.8


@fixture("negative_probability", "error", "states.Yearly.distributed_transition[0].distribution",
         "probability -0.1 is not between 0 and 1")
def _(m):
    st(m)["Yearly"]["distributed_transition"][0]["distribution"] = -0.1
    st(m)["Yearly"]["distributed_transition"][1]["distribution"] = 1.1


@fixture("attribute_never_set", "warning",
         "states.Age_Guard.allow.conditions[1].attribute", "'sinus_risk' is read but no module sets it")
def _(m):
    age = st(m)["Age_Guard"]["allow"]
    st(m)["Age_Guard"]["allow"] = {"condition_type": "And", "conditions": [
        age, {"condition_type": "Attribute", "attribute": "sinus_risk", "operator": "==",
              "value": True}]}


@fixture("snomed_code_not_digits", "warning", "states.Onset.codes[0].code",
         "'3697l009' is not a SNOMED CT identifier")
def _(m):
    st(m)["Onset"]["codes"][0]["code"] = "3697l009"


@fixture("snomed_check_digit", "warning", "states.Onset.codes[0].code", "fails its Verhoeff check")
def _(m):
    st(m)["Onset"]["codes"][0]["code"] = "36971008"


@fixture("loinc_code_malformed", "warning", "states.Height.codes[0].code", "'8302' is not a LOINC code")
def _(m):
    st(m)["Height"]["codes"][0]["code"] = "8302"


@fixture("loinc_check_digit", "warning", "states.Height.codes[0].code", "LOINC code 8302-3 fails")
def _(m):
    st(m)["Height"]["codes"][0]["code"] = "8302-3"


@fixture("unknown_code_system", "warning", "states.Onset.codes[0].system",
         "unknown code system 'SNOMED'")
def _(m):
    st(m)["Onset"]["codes"][0]["system"] = "SNOMED"


@fixture("empty_code", "error", "states.Med.codes[0].code", "empty code")
def _(m):
    st(m)["Med"]["codes"][0]["code"] = ""


@fixture("missing_submodule", "error", "states.Treat.submodule",
         "submodule 'sinusitis/treatment' not found")
def _(m):
    st(m)["End_Visit"]["direct_transition"] = "Treat"
    st(m)["Treat"] = {"type": "CallSubmodule", "submodule": "sinusitis/treatment",
                      "direct_transition": "Wait"}


@fixture("missing_lookup_table", "error",
         "states.Yearly.lookup_table_transition[0].lookup_table_name",
         "lookup table 'sinus_risk.csv' not found")
def _(m):
    del st(m)["Yearly"]["distributed_transition"]
    st(m)["Yearly"]["lookup_table_transition"] = [
        {"transition": "Onset", "default_probability": 0.1, "lookup_table_name": "sinus_risk.csv"},
        {"transition": "Yearly", "default_probability": 0.9, "lookup_table_name": "sinus_risk.csv"}]


@fixture("target_encounter_not_an_encounter", "error", "states.Onset.target_encounter",
         "'Wait' is a Delay, not an Encounter")
def _(m):
    st(m)["Onset"]["target_encounter"] = "Wait"


@fixture("target_encounter_misspelled", "warning", "states.Onset.target_encounter",
         "'Vist' is not an Encounter state")
def _(m):
    st(m)["Onset"]["target_encounter"] = "Vist"


@fixture("condition_end_names_wrong_state", "warning", "states.End_Condition.condition_onset",
         "'Visit' is a Encounter, not a ConditionOnset")
def _(m):
    st(m)["End_Condition"]["condition_onset"] = "Visit"


@fixture("medication_end_names_missing_state", "warning", "states.End_Med.medication_order",
         "'Medication' is not a state of this module")
def _(m):
    st(m)["End_Med"]["medication_order"] = "Medication"


@fixture("prior_state_names_missing_state", "error", "states.Age_Guard.allow.conditions[1].name",
         "PriorState name 'Onsett' is not a state")
def _(m):
    age = st(m)["Age_Guard"]["allow"]
    st(m)["Age_Guard"]["allow"] = {"condition_type": "And", "conditions": [
        age, {"condition_type": "PriorState", "name": "Onsett"}]}


@fixture("misspelled_member", "warning", "states.Onset.target_encouter",
         "unknown member 'target_encouter'")
def _(m):
    st(m)["Onset"]["target_encouter"] = st(m)["Onset"].pop("target_encounter")


@fixture("range_reversed", "warning", "states.Wait.range", "range low 21 is above high 7")
def _(m):
    st(m)["Wait"]["range"] = {"low": 21, "high": 7, "unit": "days"}


@fixture("bad_distribution_parameter", "error", "states.Wait.distribution.parameters",
         "standardDeviation is negative")
def _(m):
    del st(m)["Wait"]["range"]
    st(m)["Wait"]["distribution"] = {"kind": "GAUSSIAN",
                                     "parameters": {"mean": 14, "standardDeviation": -2}}
    st(m)["Wait"]["unit"] = "days"


@fixture("observation_without_unit", "error", "states.Height", "needs a non-blank 'unit'")
def _(m):
    del st(m)["Height"]["unit"]


@fixture("lookup_table_columns_mismatch", "error",
         "states.Yearly.lookup_table_transition[0].lookup_table_name", "is not one of the state's")
def _(m):
    del st(m)["Yearly"]["distributed_transition"]
    st(m)["Yearly"]["lookup_table_transition"] = [
        {"transition": "Onset", "default_probability": 0.1, "lookup_table_name": "sinus_risk.csv"},
        {"transition": "Yearly", "default_probability": 0.9, "lookup_table_name": "sinus_risk.csv"}]
    return {"lookup_tables/sinus_risk.csv": "age,Onset,Stay\n18-140,0.1,0.9\n"}


def build() -> None:
    for old in HERE.iterdir():
        if old.is_dir():
            shutil.rmtree(old)
    for name, edit, severity, path, words in FIXTURES:
        folder = HERE / name
        folder.mkdir()
        module = copy.deepcopy(BASE)
        result = edit(module)
        extra: dict[str, str] = {}
        if isinstance(result, str):
            text = result
        else:
            text = json.dumps(module, indent=2)
            extra = result or {}
        (folder / "module.json").write_text(text + "\n", encoding="utf-8")
        for rel, content in extra.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(content, encoding="utf-8")
        expected = {"severity": severity, "path": path, "message": words}
        (folder / "expected.finding").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    build()
    print(f"{len(FIXTURES)} fixtures written to {HERE}")
