"""`simulate modules new NAME`: a small, valid module to start from.

It shows the shape most disease modules share — wait for an age, draw a yearly onset, diagnose
at a visit, treat, recover — with a comment on every state in its ``remarks``. Its clinical
content (acute sinusitis, with real SNOMED CT and RxNorm codes) is an example to replace, and
its numbers are marked as illustrative: the author swaps in the condition's own codes and
sourced figures.
"""

from __future__ import annotations

import json
import re
from typing import Any


def file_name(name: str) -> str:
    stem = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower() or "new_module"
    return f"{stem}.json"


def _code(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


SINUSITIS = _code("SNOMED-CT", "36971009", "Sinusitis (disorder)")
SYMPTOM_VISIT = _code("SNOMED-CT", "185345009", "Encounter for symptom (procedure)")
AMOXICILLIN = _code("RxNorm", "308182", "Amoxicillin 250 MG Oral Capsule")


def starter_module(name: str) -> str:
    module: dict[str, Any] = {
        "name": name,
        "gmf_version": 2,
        "remarks": [
            f"{name}: a starter module written by `simulate modules new`.",
            "It models acute sinusitis as an EXAMPLE: replace the codes with your condition's "
            "(SNOMED CT for conditions and procedures, LOINC for observations, RxNorm for "
            "drugs) and every number marked ILLUSTRATIVE with a published figure, naming the "
            "source in the state's remarks (title, organisation, year, table or URL).",
            "Workflow: `simulate modules check FILE` after every edit; `simulate modules graph "
            "FILE -o FILE.svg` to see it; `simulate modules run FILE -p 500` to see how many "
            "people reach each state. docs/modules.md explains the conventions.",
        ],
        "states": {
            "Initial": {
                "type": "Initial",
                "remarks": ["Every module starts here, at the person's birth."],
                "direct_transition": "Wait_Until_Adult",
            },
            "Wait_Until_Adult": {
                "type": "Guard",
                "remarks": ["A Guard waits until its condition holds: here, age 18."],
                "allow": {"condition_type": "Age", "operator": ">=", "quantity": 18,
                          "unit": "years"},
                "direct_transition": "Yearly_Risk",
            },
            "Yearly_Risk": {
                "type": "Delay",
                "remarks": ["One draw a year: a Delay looping through a distributed transition "
                            "is how modules give a yearly incidence."],
                "exact": {"quantity": 1, "unit": "years"},
                "distributed_transition": [
                    {"distribution": 0.1, "transition": "Onset",
                     "remarks": "ILLUSTRATIVE yearly incidence: replace with a sourced one"},
                    {"distribution": 0.9, "transition": "Yearly_Risk"},
                ],
            },
            "Onset": {
                "type": "ConditionOnset",
                "remarks": ["The condition starts; target_encounter names the visit that "
                            "diagnoses it, so it is recorded in that encounter."],
                "target_encounter": "Symptom_Visit",
                "assign_to_attribute": "example_condition",
                "codes": [SINUSITIS],
                "direct_transition": "Symptom_Visit",
            },
            "Symptom_Visit": {
                "type": "Encounter",
                "remarks": ["A visit of this module's own; entries below are recorded in it "
                            "until the EncounterEnd."],
                "encounter_class": "ambulatory",
                "reason": "Onset",
                "codes": [SYMPTOM_VISIT],
                "distributed_transition": [
                    {"distribution": 0.8, "transition": "Prescribe_Antibiotic",
                     "remarks": "ILLUSTRATIVE share treated with a drug"},
                    {"distribution": 0.2, "transition": "End_Visit"},
                ],
            },
            "Prescribe_Antibiotic": {
                "type": "MedicationOrder",
                "remarks": ["A prescription for the condition (reason names the onset state)."],
                "reason": "Onset",
                "assign_to_attribute": "example_medication",
                "codes": [AMOXICILLIN],
                "direct_transition": "End_Visit",
            },
            "End_Visit": {
                "type": "EncounterEnd",
                "direct_transition": "Recovery",
            },
            "Recovery": {
                "type": "Delay",
                "remarks": ["ILLUSTRATIVE course of one to three weeks."],
                "range": {"low": 7, "high": 21, "unit": "days"},
                "direct_transition": "End_Medication",
            },
            "End_Medication": {
                "type": "MedicationEnd",
                "referenced_by_attribute": "example_medication",
                "direct_transition": "Condition_Ends",
            },
            "Condition_Ends": {
                "type": "ConditionEnd",
                "condition_onset": "Onset",
                "remarks": ["Back to the yearly draw: the condition can come again."],
                "direct_transition": "Yearly_Risk",
            },
        },
    }
    return json.dumps(module, indent=2) + "\n"
