"""Mutated modules: where they come from (small probe modules, the project's modules, Synthea's
corpus) and the mutations, one small hypothesis-drawing function each.

A case is a modules folder in memory: the module to run (``key``, given to ``-m``), the
submodules it calls and the lookup tables it uses. Documents are kept as Python values and
written by hand (``dump``) so that a mutation can put in what ``json.dumps`` would never write:
``1e400`` and numbers of 5,000 digits (``Raw``), duplicate keys (``DupDict``), nesting deeper
than any recursive writer can go.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from .harness import CORPUS, PROJECT_MODULES

# ------------------------------------------------------------------ writing JSON by hand


class Raw:
    """A JSON literal written verbatim: ``1e400``, ``NaN``, 5,000 digits, 10,000 brackets."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"

    def __deepcopy__(self, memo: Any) -> Raw:
        return self


class DupDict:
    """A JSON object written with these (key, value) pairs, duplicate keys included."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def __repr__(self) -> str:
        return f"DupDict({self.pairs!r})"


def dump(value: Any, indent: str = "") -> str:
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # ASCII: a lone surrogate is written as its \\udXXX escape
    inner = indent + "  "
    if isinstance(value, dict | DupDict):
        pairs = value.pairs if isinstance(value, DupDict) else list(value.items())
        if not pairs:
            return "{}"
        body = ",\n".join(f"{inner}{json.dumps(str(k))}: {dump(v, inner)}" for k, v in pairs)
        return "{\n" + body + "\n" + indent + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + dump(v, inner) for v in value) + "\n" + indent + "]"
    raise TypeError(f"cannot write {type(value).__name__}")


# ------------------------------------------------------------------ a case


@dataclass
class FuzzCase:
    origin: str  # probe:<segments>, modules/<file> or corpus/<file>
    key: str  # the module run with -m
    docs: dict[str, Any]  # relative path -> JSON document
    texts: dict[str, str | bytes] = field(default_factory=dict)  # relative path -> raw content
    labels: list[str] = field(default_factory=list)

    @property
    def main_file(self) -> str:
        return self.key + ".json"

    def files(self) -> dict[str, bytes]:
        out = {rel: dump(doc).encode("ascii") for rel, doc in self.docs.items()}
        for rel, text in self.texts.items():
            out[rel] = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        return out

    def write(self, root: Path) -> dict[str, bytes]:
        files = self.files()
        for rel, data in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return files

    def names(self) -> list[str]:
        """What an error about this case may name: its files."""
        return sorted({Path(rel).name for rel in self.files()} | {self.key})

    def __repr__(self) -> str:
        return f"FuzzCase({self.origin}: {'; '.join(self.labels) or 'unmutated'})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis's printer
        printer.text(repr(self))


def fresh(case: FuzzCase) -> FuzzCase:
    return FuzzCase(case.origin, case.key, copy.deepcopy(case.docs), dict(case.texts),
                    list(case.labels))


# ------------------------------------------------------------------ walking documents

Path_ = tuple[str | int, ...]


def nodes(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from nodes(v, (*path, i))


def get(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def put(doc: Any, path: Path_, value: Any) -> None:
    get(doc, path[:-1])[path[-1]] = value


def show(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(document)"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def states_of(doc: Any) -> dict[str, Any]:
    states = doc.get("states") if isinstance(doc, dict) else None
    return states if isinstance(states, dict) else {}


# ------------------------------------------------------------------ probe modules

LOINC, SNOMED = "LOINC", "SNOMED-CT"


def code(system: str, value: str, display: str) -> dict[str, str]:
    return {"system": system, "code": value, "display": display}


VISIT = {"type": "Encounter", "encounter_class": "ambulatory",
         "codes": [code(SNOMED, "185345009", "Encounter for symptom (procedure)")]}
BRONCHITIS = code(SNOMED, "10509002", "Acute bronchitis (disorder)")
NEXT = "@next"  # replaced by the name of the state that follows in the probe's chain


def _delay(quantity: Any, unit: str) -> dict[str, Any]:
    return {"type": "Delay", "exact": {"quantity": quantity, "unit": unit}}


def _obs(loinc: str, display: str, unit: str, category: str, **value: Any) -> dict[str, Any]:
    return {"type": "Observation", "category": category, "codes": [code(LOINC, loinc, display)],
            "unit": unit, **value}


@dataclass(frozen=True)
class Segment:
    inside: tuple[tuple[str, dict[str, Any]], ...] = ()  # states within the probe's encounter
    after: tuple[tuple[str, dict[str, Any]], ...] = ()  # states after it
    docs: tuple[tuple[str, dict[str, Any]], ...] = ()  # submodules
    texts: tuple[tuple[str, str], ...] = ()  # lookup tables


SEGMENTS: dict[str, Segment] = {
    "condition": Segment(
        inside=(("Onset", {"type": "ConditionOnset", "codes": [BRONCHITIS],
                           "target_encounter": "Visit", "assign_to_attribute": "fuzz_condition"}),),
        after=(("Course", _delay(2, "weeks")),
               ("Resolve", {"type": "ConditionEnd", "condition_onset": "Onset"}))),
    "observation": Segment(inside=(
        ("Height", _obs("8302-2", "Body Height", "cm", "vital-signs",
                        range={"low": 40, "high": 60, "decimals": 1})),
        ("Glucose", _obs("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", "laboratory",
                         exact={"quantity": 95.5})))),
    "procedure": Segment(inside=(
        ("Surgery", {"type": "Procedure", "codes": [code(SNOMED, "80146002", "Appendectomy")],
                     "duration": {"low": 30, "high": 60, "unit": "minutes"}}),)),
    "medication": Segment(
        inside=(("Prescribe", {
            "type": "MedicationOrder", "assign_to_attribute": "fuzz_medication",
            "codes": [code("RxNorm", "313782", "Acetaminophen 325 MG Oral Tablet")],
            "prescription": {"dosage": {"amount": 1, "frequency": 4, "period": 1, "unit": "days"},
                             "duration": {"quantity": 3, "unit": "days"}}}),),
        after=(("Medication_Course", _delay(3, "days")),
               ("Stop_Medication", {"type": "MedicationEnd", "medication_order": "Prescribe"}))),
    "careplan": Segment(
        inside=(("Plan", {"type": "CarePlanStart",
                          "codes": [code(SNOMED, "53950000", "Respiratory therapy")],
                          "activities": [code(SNOMED, "304510005",
                                              "Recommendation to avoid exercise")],
                          "goals": [{"addresses": [], "text": "Recover"}]}),),
        after=(("Plan_Course", _delay(1, "months")),
               ("Plan_End", {"type": "CarePlanEnd", "careplan": "Plan"}))),
    "allergy": Segment(inside=(("Allergy", {
        "type": "AllergyOnset", "allergy_type": "allergy", "category": "environment",
        "target_encounter": "Visit", "codes": [code(SNOMED, "260147004", "House dust mite (organism)")],
        "reactions": [{"reaction": code(SNOMED, "247472004", "Wheal (finding)"),
                       "possible_severities": [{"level": "mild", "value": 0.6},
                                               {"level": "severe", "value": 0.4}]}]}),)),
    "vaccine": Segment(inside=(("Flu_Shot", {
        "type": "Vaccine", "series": 1,
        "codes": [code("CVX", "140", "Influenza, seasonal, injectable, preservative free")]}),)),
    "symptom": Segment(inside=(("Cough", {"type": "Symptom", "symptom": "Cough", "cause": "Fuzz",
                                          "probability": 0.8, "range": {"low": 10, "high": 50}}),)),
    "vital": Segment(inside=(
        ("Pulse", {"type": "VitalSign", "vital_sign": "Heart Rate", "unit": "/min",
                   "distribution": {"kind": "GAUSSIAN",
                                    "parameters": {"mean": 70, "standardDeviation": 10}}}),
        ("Pressure", {"type": "VitalSign", "vital_sign": "Systolic Blood Pressure",
                      "unit": "mm[Hg]", "expression": "110 + 5 * 2"}),
        ("Pulse_Obs", {**_obs("8867-4", "Heart rate", "/min", "vital-signs"),
                       "vital_sign": "Heart Rate"}))),
    "attribute": Segment(inside=(
        ("Score", {"type": "SetAttribute", "attribute": "fuzz_score",
                   "range": {"low": 1, "high": 10, "decimals": 2}}),
        ("Score_Doubled", {"type": "SetAttribute", "attribute": "fuzz_double",
                           "expression": "Round(#{fuzz_score} * 2.5, 1)"}),
        ("Count", {"type": "Counter", "attribute": "fuzz_count", "action": "increment",
                   "amount": 1}),
        ("Score_Obs", {**_obs("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - "
                              "Reported", "{score}", "survey"), "attribute": "fuzz_double"}))),
    "report": Segment(inside=(
        ("Panel", {"type": "DiagnosticReport",
                   "codes": [code(LOINC, "58410-2", "CBC panel - Blood by Automated count")],
                   "observations": [{
                       "category": "laboratory", "unit": "10*3/uL",
                       "codes": [code(LOINC, "6690-2",
                                      "Leukocytes [#/volume] in Blood by Automated count")],
                       "range": {"low": 3.8, "high": 10.8}}]}),
        ("Survey", {"type": "MultiObservation", "category": "survey",
                    "codes": [code(LOINC, "86923-0", "Kansas City Cardiomyopathy Questionnaire "
                                   "- 12 item [KCCQ-12]")],
                    "observations": [{"category": "survey", "unit": "{score}",
                                      "codes": [code(LOINC, "86924-8",
                                                     "Overall summary score [KCCQ-12]")],
                                      "range": {"low": 0, "high": 100}}]}))),
    "imaging": Segment(inside=(("Scan", {
        "type": "ImagingStudy",
        "procedure_code": code(SNOMED, "303653007", "Computed tomography of head (procedure)"),
        "series": [{"body_site": code(SNOMED, "69536005", "Head structure (body structure)"),
                    "modality": code("DICOM-DCM", "CT", "Computed Tomography"),
                    "instances": [{"title": "CT Image Storage",
                                   "sop_class": code("DICOM-SOP", "1.2.840.10008.5.1.4.1.1.2",
                                                     "CT Image Storage")}]}]}),)),
    "device": Segment(
        inside=(("Nebulizer", {"type": "Device", "code": code(
            SNOMED, "170615005", "Home nebulizer (physical object)")}),),
        after=(("Device_Course", _delay(1, "years")),
               ("Device_End", {"type": "DeviceEnd", "device": "Nebulizer"}))),
    "supplies": Segment(inside=(("Supplies", {"type": "SupplyList", "supplies": [
        {"quantity": 2, "code": code(SNOMED, "346447007", "Fresh frozen plasma (product)")}]}),)),
    "branching": Segment(inside=(
        ("Coin", {"type": "Simple", "distributed_transition": [
            {"distribution": 0.5, "transition": "Heads"},
            {"distribution": 0.5, "transition": "Tails"}]}),
        ("Heads", {"type": "Simple", "direct_transition": "Join"}),
        ("Tails", {"type": "Simple", "direct_transition": "Join"}),
        ("Join", {"type": "Simple", "complex_transition": [
            {"condition": {"condition_type": "And", "conditions": [
                {"condition_type": "Age", "operator": ">=", "quantity": 0, "unit": "years"},
                {"condition_type": "Gender", "gender": "M"}]},
             "distributions": [{"distribution": 0.3, "transition": NEXT},
                               {"distribution": 0.7, "transition": NEXT}]},
            {"distributions": [{"distribution": 1, "transition": NEXT}]}]}),
        ("Era", {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "Date", "operator": ">", "year": 1900},
             "transition": NEXT},
            {"transition": NEXT}]}))),
    "lookup": Segment(
        inside=(
            ("Lookup", {"type": "Simple", "lookup_table_transition": [
                {"transition": "Lookup_A", "default_probability": 0.5,
                 "lookup_table_name": "fuzz_table.csv"},
                {"transition": "Lookup_B", "default_probability": 0.5,
                 "lookup_table_name": "fuzz_table.csv"}]}),
            ("Lookup_A", {"type": "Simple", "direct_transition": "Lookup_Join"}),
            ("Lookup_B", {"type": "Simple", "direct_transition": "Lookup_Join"}),
            ("Lookup_Join", {"type": "Simple"})),
        texts=(("lookup_tables/fuzz_table.csv",
                "gender,age,Lookup_A,Lookup_B\nM,0-140,0.3,0.7\nF,0-140,0.6,0.4\n"),)),
    "submodule": Segment(
        after=(("Call", {"type": "CallSubmodule", "submodule": "fuzz/sub"}),),
        docs=(("fuzz/sub.json", {"name": "Fuzz Sub", "gmf_version": 2, "states": {
            "Initial": {"type": "Initial", "direct_transition": "Sub_Wait"},
            "Sub_Wait": {**_delay(1, "days"), "direct_transition": "Terminal"},
            "Terminal": {"type": "Terminal"}}}),)),
    "guard": Segment(after=(
        ("Adult", {"type": "Guard", "allow": {"condition_type": "Age", "operator": ">=",
                                              "quantity": 1, "unit": "years"}}),
        ("Modern", {"type": "Guard", "allow": {"condition_type": "Date", "operator": ">",
                                               "year": 1900}}))),
    "delay": Segment(after=(
        ("Wait_Triangular", {"type": "Delay", "unit": "days", "distribution": {
            "kind": "TRIANGULAR", "parameters": {"min": 1, "mode": 2, "max": 3}}}),
        ("Wait_Range", {"type": "Delay", "range": {"low": 1, "high": 2, "unit": "days"}}),
        ("Wait_Gaussian", {"type": "Delay", "unit": "days", "distribution": {
            "kind": "GAUSSIAN", "parameters": {"mean": 10, "standardDeviation": 2}}}),
        ("Wait_Exponential", {"type": "Delay", "unit": "days", "distribution": {
            "kind": "EXPONENTIAL", "parameters": {"mean": 5}}}),
        ("Wait_Exact", _delay(1, "days")))),
    "prior": Segment(after=(("Recall", {"type": "Simple", "conditional_transition": [
        {"condition": {"condition_type": "PriorState", "name": "Visit",
                       "within": {"quantity": 1, "unit": "years"}}, "transition": NEXT},
        {"transition": NEXT}]}),)),
    "wellness": Segment(after=(
        ("Checkup", {"type": "Encounter", "wellness": True}),
        ("Checkup_Weight", {**_obs("29463-7", "Body Weight", "kg", "vital-signs"),
                            "vital_sign": "Weight"}),
        ("Checkup_End", {"type": "EncounterEnd"}))),
    "care_type": Segment(inside=(("Care_Type", {"type": "Simple", "type_of_care_transition": {
        "ambulatory": NEXT, "emergency": NEXT, "telemedicine": NEXT}}),)),
    "death": Segment(after=(  # entered at birth: the person dies at 50
        ("Die", {"type": "Death", "exact": {"quantity": 50, "unit": "years"},
                 "codes": [code(SNOMED, "230690007", "Cerebrovascular accident (disorder)")]}),)),
}

TRANSITIONS = ("direct_transition", "distributed_transition", "conditional_transition",
               "complex_transition", "lookup_table_transition", "type_of_care_transition")
PROBE_KEY = "fuzz_probe"


def probe(segments: Sequence[str]) -> FuzzCase:
    """Initial -> an encounter holding the segments' states -> their after-states -> Terminal:
    every state is entered by every person, at birth, so a mutation of it is exercised."""
    chosen = [SEGMENTS[s] for s in segments]
    chain: list[tuple[str, dict[str, Any]]] = [("Initial", {"type": "Initial"}), ("Visit", VISIT)]
    for seg in chosen:
        chain.extend(seg.inside)
    chain.append(("End_Visit", {"type": "EncounterEnd"}))
    for seg in chosen:
        chain.extend(seg.after)
    chain.append(("Terminal", {"type": "Terminal"}))
    states: dict[str, Any] = {}
    for i, (name, state) in enumerate(chain):
        state = copy.deepcopy(state)
        following = chain[i + 1][0] if i + 1 < len(chain) else None
        for path, value in list(nodes(state)):
            if value == NEXT:
                put(state, path, following)
        if state["type"] != "Terminal" and not any(k in state for k in TRANSITIONS):
            state["direct_transition"] = following
        states[name] = state
    docs: dict[str, Any] = {f"{PROBE_KEY}.json": {
        "name": "Fuzz Probe", "gmf_version": 2,
        "remarks": ["A probe module of the fuzz tests: " + ", ".join(segments)],
        "states": states}}
    texts: dict[str, str | bytes] = {}
    for seg in chosen:
        docs.update({rel: copy.deepcopy(doc) for rel, doc in seg.docs})
        texts.update(dict(seg.texts))
    return FuzzCase("probe:" + "+".join(segments), PROBE_KEY, docs, texts)


# ------------------------------------------------------------------ real modules


def _closure(root: Path, rel: str) -> tuple[dict[str, Any], dict[str, str | bytes]]:
    """The module, the submodules it calls (transitively) and the lookup tables they use."""
    docs: dict[str, Any] = {}
    texts: dict[str, str | bytes] = {}
    todo = [rel]
    while todo:
        current = todo.pop()
        if current in docs or not (root / current).is_file():
            continue
        doc = json.loads((root / current).read_text(encoding="utf-8-sig"))
        docs[current] = doc
        for path, value in nodes(doc):
            if not path or not isinstance(value, str):
                continue
            if path[-1] == "submodule":
                todo.append(value + ".json")
            elif path[-1] == "lookup_table_name":
                table = root / "lookup_tables" / value
                if table.is_file():
                    texts["lookup_tables/" + value] = table.read_text(encoding="utf-8")
    return docs, texts


@functools.cache
def real_module(root_name: str, rel: str) -> FuzzCase:
    root = PROJECT_MODULES if root_name == "modules" else CORPUS
    docs, texts = _closure(root, rel)
    return FuzzCase(f"{root_name}/{rel}", rel.removesuffix(".json"), docs, texts)


def top_level_files(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.glob("*.json"))


# ------------------------------------------------------------------ mutation helpers

OTHER_TYPES: tuple[Any, ...] = (None, True, False, 0, -1, 1.5, "", "x", "\udc80", "☃ \u202e",
                                [], {}, [1, "a"], {"a": 1})
SPECIAL_NUMBERS: tuple[str, ...] = (
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "-1", "0", "1e12", str(10**30),
    "1e-400", "-0.0", "4.9e-324", str(2**63), str(2**64), "9" * 5000, "0.5", "1e308",
    "-1e308")
PROBABILITIES: tuple[str, ...] = ("-0.5", "1.5", "NaN", "Infinity", "-Infinity", "1e400", "0",
                                  "-1e-9", "2")
DECIMALS: tuple[str, ...] = (str(10**6), str(10**30), "-1", "400", "NaN", "1e400", "2147483648")
BAD_DISTRIBUTIONS: tuple[dict[str, Any], ...] = (
    {"kind": "TRIANGULAR", "parameters": {"min": 10, "mode": 5, "max": 1}},
    {"kind": "TRIANGULAR", "parameters": {"min": 1, "mode": 10, "max": 5}},
    {"kind": "GAUSSIAN", "parameters": {"mean": 10, "standardDeviation": -5}},
    {"kind": "GAUSSIAN", "parameters": {"mean": Raw("1e400"), "standardDeviation": 1}},
    {"kind": "UNIFORM", "parameters": {"low": 10, "high": 1}},
    {"kind": "EXPONENTIAL", "parameters": {"mean": 0}},
    {"kind": "EXPONENTIAL", "parameters": {"mean": -3}},
    {"kind": "EXACT", "parameters": {"value": Raw("NaN")}},
    {"kind": "EXACT", "parameters": {"value": Raw("1e400")}},
    {"kind": "EXACT", "parameters": {"value": -1}},
    {"kind": "UNIFORM", "parameters": {"low": 0, "high": 1e300}},
    {"kind": "GAUSSIAN", "parameters": {"mean": 0, "standardDeviation": Raw("NaN")}},
    {"kind": "POISSON", "parameters": {"mean": 3}},
)
EXPRESSIONS: tuple[str, ...] = (
    "", " ", "(", "#{", "#{}", "1 +", "Round(", "Round(1, 2, 3)", "#{x} +* 2", "1 + true",
    "Foo(1)", '"unterminated', "/* comment", "define x: 1\n", "define x: x\nx", "#l{x}",
    "10 ^ 400", "Power(10, 400)", "Exp(1000) * 0", "#{age} / 0", "\x00", "1 " + "+ 1 " * 5000,
    "(" * 3000 + "1" + ")" * 3000, "-" * 5000 + "1", "10 ^ 1000000", "9" * 5000,
    "Round(1.5, 1000000000)", "Round(1.5, -1000000000)", "ToString(10 ^ 5000)",
    "if true then 1 else", "case when true then 1 end",
)
LOOKUP_CELLS: tuple[str, ...] = ("x" * 140_000, "NaN", "-1", "1e400", "Infinity", "", "0-",
                                 "5-1", "-1-3", "1e12-1e13", "a,b", '"', "\x00", "99999999999999999999",
                                 "2020-01-01-1900-01-01", "0-99999999999999999999")


def choose(draw: st.DrawFn, options: Sequence[Any]) -> Any:
    return draw(st.sampled_from(list(options)))


def doc_nodes(case: FuzzCase, predicate: Callable[[Path_, Any], bool]
              ) -> list[tuple[str, Path_]]:
    """(file, path) of every node of every document that satisfies the predicate; the module
    run first, so that shrinking prefers it."""
    out = []
    for rel in sorted(case.docs, key=lambda r: (r != case.main_file, r)):
        out.extend((rel, path) for path, value in nodes(case.docs[rel]) if predicate(path, value))
    return out


def pick(draw: st.DrawFn, case: FuzzCase, predicate: Callable[[Path_, Any], bool]
         ) -> tuple[str, Path_] | None:
    found = doc_nodes(case, predicate)
    return choose(draw, found) if found else None


def member(path: Path_, value: Any) -> bool:
    return bool(path) and isinstance(path[-1], str)


def transition_target(path: Path_, value: Any) -> bool:
    return isinstance(value, str) and len(path) >= 3 and path[0] == "states" and (
        path[-1] in ("direct_transition", "transition")
        or (len(path) >= 4 and path[-2] == "type_of_care_transition"))


def detour(draw: st.DrawFn, case: FuzzCase, chain: dict[str, dict[str, Any]],
           closed: bool = False) -> str:
    """Add the chain of states to the module run and send one of its transitions to the
    chain's first state; unless `closed`, the chain's last state goes on to the old target."""
    doc = case.docs[case.main_file]
    states = states_of(doc)
    if not states:
        doc["states"] = states = {"Initial": {"type": "Initial", "direct_transition": "Terminal"},
                                  "Terminal": {"type": "Terminal"}}
    targets = [(rel, p) for rel, p in doc_nodes(case, transition_target) if rel == case.main_file]
    head = next(iter(chain))
    if targets:
        _, path = choose(draw, targets)
        old = get(doc, path)
        put(doc, path, head)
        where = show(path)
    else:
        initial = states.setdefault("Initial", {"type": "Initial"})
        if not isinstance(initial, dict):
            states["Initial"] = initial = {"type": "Initial"}
        old = initial.get("direct_transition", "Terminal")
        for key in TRANSITIONS:
            initial.pop(key, None)
        initial["direct_transition"] = head
        where = "states.Initial.direct_transition"
    names = list(chain)
    for i, name in enumerate(names):
        state = copy.deepcopy(chain[name])
        if not closed and i == len(names) - 1 and not any(k in state for k in TRANSITIONS):
            state["direct_transition"] = old
        states[name] = state
    return f"{where} -> {' -> '.join(names)}{'' if closed else f' -> {old}'}"


# ------------------------------------------------------------------ the mutations


def delete_member(draw: st.DrawFn, case: FuzzCase) -> str | None:
    found = pick(draw, case, member)
    if found is None:
        return None
    rel, path = found
    del get(case.docs[rel], path[:-1])[path[-1]]
    return f"{rel}: delete {show(path)}"


def retype_member(draw: st.DrawFn, case: FuzzCase) -> str | None:
    found = pick(draw, case, lambda p, v: bool(p))
    if found is None:
        return None
    rel, path = found
    old = get(case.docs[rel], path)
    value = choose(draw, [v for v in OTHER_TYPES if type(v) is not type(old)])
    put(case.docs[rel], path, copy.deepcopy(value))
    return f"{rel}: {show(path)} := {value!r}"


def special_number(draw: st.DrawFn, case: FuzzCase) -> str | None:
    found = pick(draw, case, lambda p, v: bool(p) and is_number(v))
    if found is None:
        return None
    rel, path = found
    text = choose(draw, SPECIAL_NUMBERS)
    put(case.docs[rel], path, Raw(text))
    return f"{rel}: {show(path)} := {text if len(text) < 40 else f'<{len(text)} digits>'}"


def huge_decimals(draw: st.DrawFn, case: FuzzCase) -> str | None:
    found = pick(draw, case, lambda p, v: isinstance(v, dict) and "low" in v and "high" in v
                 and "unit" not in v)
    if found is None:
        return None
    rel, path = found
    text = choose(draw, DECIMALS)
    get(case.docs[rel], path)["decimals"] = Raw(text)
    return f"{rel}: {show(path)}.decimals := {text}"


def bad_probability(draw: st.DrawFn, case: FuzzCase) -> str | None:
    def probability(path: Path_, value: Any) -> bool:
        return bool(path) and is_number(value) and (
            path[-1] in ("distribution", "probability", "default_probability")
            or (path[-1] == "value" and "possible_severities" in path))

    found = pick(draw, case, probability)
    if found is None:
        return None
    rel, path = found
    text = choose(draw, PROBABILITIES)
    put(case.docs[rel], path, Raw(text))
    return f"{rel}: {show(path)} := {text}"


def bad_distribution(draw: st.DrawFn, case: FuzzCase) -> str | None:
    found = pick(draw, case, lambda p, v: isinstance(v, dict) and "kind" in v)
    if found is None:
        found = pick(draw, case, lambda p, v: isinstance(v, dict) and v.get("type") == "Delay")
        if found is None:
            return None
        rel, path = found
        delay = get(case.docs[rel], path)
        for key in ("exact", "range"):
            delay.pop(key, None)
        delay["unit"] = "days"
        path = (*path, "distribution")
    else:
        rel, path = found
    value = copy.deepcopy(choose(draw, BAD_DISTRIBUTIONS))
    put(case.docs[rel], path, value)
    return f"{rel}: {show(path)} := {dump(value).replace(chr(10), ' ')}"


def empty_code(draw: st.DrawFn, case: FuzzCase) -> str | None:
    found = pick(draw, case, lambda p, v: isinstance(v, dict) and "system" in v and "code" in v)
    if found is None:
        return None
    rel, path = found
    key = choose(draw, ["code", "system", "display"])
    value = choose(draw, ["", " ", "\t", "\udc80"])
    get(case.docs[rel], path)[key] = value
    return f"{rel}: {show(path)}.{key} := {value!r}"


def duplicate_key(draw: st.DrawFn, case: FuzzCase) -> str | None:
    found = pick(draw, case, lambda p, v: isinstance(v, dict) and bool(v))
    if found is None:
        return None
    rel, path = found
    obj = get(case.docs[rel], path)
    key = choose(draw, sorted(obj))
    if path == ("states",):
        twin: Any = choose(draw, [{"type": "Terminal"}, {"type": "Simple"},
                                  {"type": "Delay", "exact": {"quantity": 1, "unit": "days"},
                                   "direct_transition": key}])
    else:
        twin = choose(draw, OTHER_TYPES)
    pairs = list(obj.items())
    at = [k for k, _ in pairs].index(key)
    first = draw(st.booleans())
    pairs.insert(at if first else at + 1, (key, copy.deepcopy(twin)))
    dup = DupDict(pairs)
    if path:
        put(case.docs[rel], path, dup)
    else:
        case.docs[rel] = dup
    return f"{rel}: {show(path)} has key {key!r} twice (other value {twin!r}, " \
           f"{'first' if first else 'second'})"


def _deep_and(depth: int, leaf: str = '{"condition_type": "True"}') -> Raw:
    return Raw('{"condition_type": "And", "conditions": [' * depth + leaf + "]}" * depth)


def deep_condition(draw: st.DrawFn, case: FuzzCase) -> str | None:
    depth = choose(draw, [200, 600, 1000, 5000, 50_000])
    kind = choose(draw, ["And", "Not"])
    if kind == "And":
        condition = _deep_and(depth)
    else:
        condition = Raw('{"condition_type": "Not", "condition": ' * depth
                        + '{"condition_type": "False"}' + "}" * depth)
    found = pick(draw, case, lambda p, v: bool(p) and p[-1] in ("condition", "allow")
                 and isinstance(v, dict))
    if found is not None and draw(st.booleans()):
        rel, path = found
        put(case.docs[rel], path, condition)
        return f"{rel}: {show(path)} := {kind} nested {depth} deep"
    return detour(draw, case, {"Fuzz_Deep": {"type": "Guard", "allow": condition}}) + \
        f" (Guard: {kind} nested {depth} deep)"


def deep_array(draw: st.DrawFn, case: FuzzCase) -> str | None:
    depth = choose(draw, [1000, 10_000, 200_000])
    value = Raw("[" * depth + "]" * depth)
    found = pick(draw, case, lambda p, v: len(p) >= 1)
    if found is None or draw(st.booleans()):
        case.docs[case.main_file]["remarks"] = value
        return f"{case.main_file}: remarks := array nested {depth} deep"
    rel, path = found
    put(case.docs[rel], path, value)
    return f"{rel}: {show(path)} := array nested {depth} deep"


def retarget(draw: st.DrawFn, case: FuzzCase) -> str | None:
    found = pick(draw, case, transition_target)
    if found is None:
        return None
    rel, path = found
    own = str(path[1])
    target = choose(draw, ["No_Such_State", own, "", "Initial", "initial"])
    put(case.docs[rel], path, target)
    return f"{rel}: {show(path)} := {target!r}" + (" (itself)" if target == own else "")


LOOPS: dict[str, dict[str, dict[str, Any]]] = {
    "zero-delay two-state loop": {
        "Fuzz_Loop_A": {"type": "Simple", "direct_transition": "Fuzz_Loop_B"},
        "Fuzz_Loop_B": {"type": "Simple", "direct_transition": "Fuzz_Loop_A"}},
    "1-minute Delay loop": {
        "Fuzz_Loop_A": {**_delay(1, "minutes"), "direct_transition": "Fuzz_Loop_B"},
        "Fuzz_Loop_B": {"type": "Simple", "direct_transition": "Fuzz_Loop_A"}},
    "1-second Delay loop": {
        "Fuzz_Loop_A": {**_delay(1, "seconds"), "direct_transition": "Fuzz_Loop_A"}},
    "loop whose only exit is False": {
        "Fuzz_Loop_A": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "False"}, "transition": "Fuzz_Loop_Exit"},
            {"transition": "Fuzz_Loop_B"}]},
        "Fuzz_Loop_B": {"type": "Simple", "direct_transition": "Fuzz_Loop_A"},
        "Fuzz_Loop_Exit": {"type": "Terminal"}},
    "Guard loop on an attribute nobody sets": {
        "Fuzz_Loop_A": {"type": "Guard", "allow": {"condition_type": "Attribute",
                                                   "attribute": "fuzz_never", "operator": "==",
                                                   "value": 1}}},
    "Delay 0 loop": {
        "Fuzz_Loop_A": {**_delay(0, "days"), "direct_transition": "Fuzz_Loop_B"},
        "Fuzz_Loop_B": {"type": "Simple", "direct_transition": "Fuzz_Loop_A"}},
}


def loop(draw: st.DrawFn, case: FuzzCase) -> str | None:
    name = choose(draw, sorted(LOOPS))
    return detour(draw, case, LOOPS[name], closed=True) + f" ({name})"


RECURSIONS: dict[str, dict[str, dict[str, Any]]] = {
    "calls itself": {"fuzz/recurse.json": {"Initial": {"type": "Initial",
                                                       "direct_transition": "Again"},
                                           "Again": {"type": "CallSubmodule",
                                                     "submodule": "fuzz/recurse",
                                                     "direct_transition": "Terminal"},
                                           "Terminal": {"type": "Terminal"}}},
    "calls itself after a Delay": {"fuzz/recurse.json": {
        "Initial": {"type": "Initial", "direct_transition": "Wait"},
        "Wait": {**_delay(1, "days"), "direct_transition": "Again"},
        "Again": {"type": "CallSubmodule", "submodule": "fuzz/recurse",
                  "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"}}},
    "calls itself via another submodule": {
        "fuzz/recurse.json": {"Initial": {"type": "Initial", "direct_transition": "Ping"},
                              "Ping": {"type": "CallSubmodule", "submodule": "fuzz/other",
                                       "direct_transition": "Terminal"},
                              "Terminal": {"type": "Terminal"}},
        "fuzz/other.json": {"Initial": {"type": "Initial", "direct_transition": "Pong"},
                            "Pong": {"type": "CallSubmodule", "submodule": "fuzz/recurse",
                                     "direct_transition": "Terminal"},
                            "Terminal": {"type": "Terminal"}}},
}


def recursive_submodule(draw: st.DrawFn, case: FuzzCase) -> str | None:
    name = choose(draw, [*sorted(RECURSIONS), "the module run calls itself"])
    if name == "the module run calls itself":
        target = case.key
    else:
        target = "fuzz/recurse"
        for rel, states in RECURSIONS[name].items():
            case.docs[rel] = {"name": "Fuzz " + Path(rel).stem, "states": copy.deepcopy(states)}
    return detour(draw, case, {"Fuzz_Call": {"type": "CallSubmodule", "submodule": target}}) + \
        f" (submodule {name})"


YEARS: tuple[str, ...] = (str(10**12), str(-(10**12)), "0", str(10**6), str(2**63), str(10**30),
                          "1e400", "NaN", "-1")


def date_year(draw: st.DrawFn, case: FuzzCase) -> str | None:
    year = Raw(choose(draw, YEARS))
    form = choose(draw, ["year", "date", "month"])
    condition: dict[str, Any] = {"condition_type": "Date", "operator": choose(draw, [">", "<", "=="])}
    if form == "year":
        condition["year"] = year
    elif form == "date":
        condition["date"] = {"year": year, "month": 1, "day": 1}
    else:
        condition["month"] = year
    found = pick(draw, case, lambda p, v: bool(p) and p[-1] in ("condition", "allow")
                 and isinstance(v, dict))
    if found is not None and draw(st.booleans()):
        rel, path = found
        put(case.docs[rel], path, condition)
        return f"{rel}: {show(path)} := Date {form} {year.text}"
    return detour(draw, case, {"Fuzz_Date": {"type": "Simple", "conditional_transition": [
        {"condition": condition, "transition": "Fuzz_Date_Join"},
        {"transition": "Fuzz_Date_Join"}]}, "Fuzz_Date_Join": {"type": "Simple"}}) + \
        f" (Date condition {form} {year.text})"


def _encounter_chain(inner: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"Fuzz_Encounter": {**copy.deepcopy(VISIT), "direct_transition": "Fuzz_Inner"},
            "Fuzz_Inner": {**inner, "direct_transition": "Fuzz_Encounter_End"},
            "Fuzz_Encounter_End": {"type": "EncounterEnd"}}


def long_procedure(draw: st.DrawFn, case: FuzzCase) -> str | None:
    amount = Raw(choose(draw, [str(10**6), str(10**4), "1e400", str(10**12), "-5"]))
    unit = choose(draw, ["years", "days", "weeks"])
    form = choose(draw, ["duration", "distribution"])
    if form == "duration":
        spec = {"duration": {"low": amount, "high": amount, "unit": unit}}
    else:
        spec = {"distribution": {"kind": "EXACT", "parameters": {"value": amount}}, "unit": unit}
    found = pick(draw, case, lambda p, v: isinstance(v, dict) and v.get("type") == "Procedure")
    if found is not None and draw(st.booleans()):
        rel, path = found
        procedure = get(case.docs[rel], path)
        for key in ("duration", "distribution", "unit"):
            procedure.pop(key, None)
        procedure.update(spec)
        return f"{rel}: {show(path)} lasts {amount.text} {unit} ({form})"
    inner = {"type": "Procedure", "codes": [code(SNOMED, "80146002", "Appendectomy")], **spec}
    return detour(draw, case, _encounter_chain(inner)) + \
        f" (Procedure lasting {amount.text} {unit}, {form})"


def bad_death(draw: st.DrawFn, case: FuzzCase) -> str | None:
    quantity = Raw(choose(draw, ["NaN", "Infinity", "-Infinity", "1e400", "-1", str(10**30)]))
    form = choose(draw, ["exact", "range"])
    if form == "exact":
        spec: dict[str, Any] = {"exact": {"quantity": quantity, "unit": "years"}}
    else:
        spec = {"range": {"low": 1, "high": quantity, "unit": "years"}}
    return detour(draw, case, {"Fuzz_Death": {"type": "Death", **spec, "codes": [BRONCHITIS]}}) \
        + f" (Death {form} {quantity.text} years)"


def bad_delay(draw: st.DrawFn, case: FuzzCase) -> str | None:
    quantity = Raw(choose(draw, ["1e400", "NaN", "-Infinity", "-1", str(10**30), "1e300"]))
    unit = choose(draw, ["years", "seconds", "months"])
    return detour(draw, case, {"Fuzz_Delay": _delay(quantity, unit)}) + \
        f" (Delay exact {quantity.text} {unit})"


def bad_expression(draw: st.DrawFn, case: FuzzCase) -> str | None:
    text = choose(draw, EXPRESSIONS)
    shown = repr(text) if len(text) < 60 else f"{text[:30]!r}... ({len(text)} characters)"
    found = pick(draw, case, lambda p, v: bool(p) and p[-1] == "expression")
    if found is not None and draw(st.booleans()):
        rel, path = found
        put(case.docs[rel], path, text)
        return f"{rel}: {show(path)} := {shown}"
    state = choose(draw, [
        {"type": "SetAttribute", "attribute": "fuzz_x", "expression": text},
        {"type": "VitalSign", "vital_sign": "Heart Rate", "unit": "/min", "expression": text}])
    return detour(draw, case, {"Fuzz_Expression": state}) + f" ({state['type']} expression {shown})"


def lookup_cell(draw: st.DrawFn, case: FuzzCase) -> str | None:
    tables = sorted(rel for rel, text in case.texts.items()
                    if rel.startswith("lookup_tables/") and isinstance(text, str))
    if not tables:
        return None
    rel = choose(draw, tables)
    text = case.texts[rel]
    assert isinstance(text, str)
    rows = list(csv.reader(io.StringIO(text)))
    how = choose(draw, ["cell", "cell", "short row", "non-UTF-8", "empty", "header only"])
    if how == "non-UTF-8":
        case.texts[rel] = text.encode("utf-8") + b"\xff\xfe,\x80\n"
        return f"{rel}: non-UTF-8 bytes appended"
    if how == "empty":
        case.texts[rel] = ""
        return f"{rel}: empty"
    filled = [i for i in range(1, min(len(rows), 51)) if rows[i]]
    if how == "header only" or not filled:
        case.texts[rel] = ",".join(rows[0]) + "\n" if rows else ""
        return f"{rel}: header only"
    row = choose(draw, filled)
    if how == "short row":
        rows[row] = rows[row][:-1]
        label = f"{rel}: line {row + 1} lacks its last cell"
    else:
        column = draw(st.integers(0, len(rows[row]) - 1))
        value = choose(draw, LOOKUP_CELLS)
        rows[row][column] = value
        shown = repr(value) if len(value) < 40 else f"<{len(value)} characters>"
        label = f"{rel}: line {row + 1} column {column + 1} := {shown}"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    case.texts[rel] = out.getvalue()
    return label


def lookup_name(draw: st.DrawFn, case: FuzzCase) -> str | None:
    found = pick(draw, case, lambda p, v: bool(p) and p[-1] == "lookup_table_name")
    if found is None:
        return None
    rel, path = found
    name = choose(draw, ["/etc/passwd", "../fuzz_probe.json", "", "..", ".", "/dev/zero",
                         "fuzz_table.CSV", "a\x00b.csv", "/", "lookup_tables/../x.csv"])
    put(case.docs[rel], path, name)
    return f"{rel}: {show(path)} := {name!r}"


def kill_at_initial(draw: st.DrawFn, case: FuzzCase) -> str | None:
    doc = case.docs[case.main_file]
    states = states_of(doc)
    initial = states.get("Initial")
    if not isinstance(initial, dict):
        return None
    for key in TRANSITIONS:
        initial.pop(key, None)
    initial["direct_transition"] = "Fuzz_Death"
    states["Fuzz_Death"] = {"type": "Death", "codes": [BRONCHITIS],
                            "direct_transition": "Fuzz_Dead"}
    states["Fuzz_Dead"] = {"type": "Terminal"}
    return f"{case.main_file}: Initial -> Death (everyone dies at birth)"


def shortcut_initial(draw: st.DrawFn, case: FuzzCase) -> str | None:
    """Send Initial straight to some state, so that what a mutation changed is reached."""
    doc = case.docs[case.main_file]
    states = states_of(doc)
    initial = states.get("Initial")
    names = sorted(n for n in states if n != "Initial")
    if not isinstance(initial, dict) or not names:
        return None
    target = choose(draw, names)
    for key in TRANSITIONS:
        initial.pop(key, None)
    initial["direct_transition"] = target
    return f"{case.main_file}: Initial -> {target}"


def raw_text(draw: st.DrawFn, case: FuzzCase) -> str | None:
    rel = choose(draw, sorted(case.docs, key=lambda r: (r != case.main_file, r)))
    data = dump(case.docs[rel]).encode("ascii")
    how = choose(draw, ["truncate", "byte", "BOM", "non-UTF-8", "NUL", "empty", "null", "list",
                        "UTF-16", "trailing garbage"])
    if how == "truncate":
        at = draw(st.integers(0, max(0, len(data) - 1)))
        new = data[:at]
        label = f"truncated to {at} bytes"
    elif how == "byte":
        at = draw(st.integers(0, max(0, len(data) - 1)))
        byte = draw(st.integers(0, 255))
        new = data[:at] + bytes([byte]) + data[at + 1:]
        label = f"byte {at} := {byte:#04x}"
    elif how == "BOM":
        new = b"\xef\xbb\xbf\xef\xbb\xbf" + data
        label = "two UTF-8 BOMs"
    elif how == "non-UTF-8":
        new = data.replace(b'"name": "', b'"name": "\xff\xfe', 1)
        label = "non-UTF-8 byte in the name"
    elif how == "NUL":
        new = data + b"\x00"
        label = "trailing NUL"
    elif how == "UTF-16":
        new = data.decode("ascii").encode("utf-16")
        label = "UTF-16"
    elif how == "trailing garbage":
        new = data + b"\n}{"
        label = "trailing garbage"
    else:
        new = {"empty": b"", "null": b"null", "list": b"[]"}[how]
        label = f"file is {how!r}"
    del case.docs[rel]
    case.texts[rel] = new
    return f"{rel}: {label}"


@dataclass(frozen=True)
class Mutation:
    name: str
    apply: Callable[[st.DrawFn, FuzzCase], str | None]


MUTATIONS: tuple[Mutation, ...] = tuple(Mutation(f.__name__, f) for f in (
    special_number, delete_member, retype_member, huge_decimals, bad_probability,
    bad_distribution, empty_code, duplicate_key, retarget, loop, recursive_submodule, date_year,
    long_procedure, bad_death, bad_delay, bad_expression, lookup_cell, lookup_name,
    kill_at_initial,
    deep_condition, deep_array, shortcut_initial, raw_text))


# ------------------------------------------------------------------ strategies


def probes() -> st.SearchStrategy[FuzzCase]:
    names = sorted(SEGMENTS)
    return st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True).map(probe)


def real_modules(root_name: str, files: Sequence[str]) -> st.SearchStrategy[FuzzCase]:
    return st.sampled_from(list(files)).map(lambda rel: fresh(real_module(root_name, rel)))


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[FuzzCase], most: int = 2) -> FuzzCase:
    case = fresh(draw(base))
    for _ in range(draw(st.integers(1, most))):
        if not case.docs:
            break
        mutation = draw(st.sampled_from(MUTATIONS))
        label = mutation.apply(draw, case)
        if label is None:
            label = special_number(draw, case) or retype_member(draw, case)
        if label is not None:
            case.labels.append(label)
        if mutation.name in ("raw_text", "duplicate_key"):  # text, or pairs now: stop there
            break
    return case


# ------------------------------------------------------------------ known failures


def edit(case: FuzzCase, rel: str, path: Path_, value: Any, label: str) -> FuzzCase:
    put(case.docs[rel], path, value)
    case.labels.append(label)
    return case


def _known() -> dict[str, FuzzCase]:
    main = f"{PROBE_KEY}.json"
    out: dict[str, FuzzCase] = {}

    case = probe(["submodule"])
    case.docs["fuzz/sub.json"]["states"]["Sub_Wait"] = {
        "type": "CallSubmodule", "submodule": "fuzz/sub", "direct_transition": "Terminal"}
    case.labels.append("fuzz/sub.json: states.Sub_Wait calls fuzz/sub (itself)")
    out["submodule calls itself"] = case

    out["Delay exact 1e400"] = edit(probe(["delay"]), main,
                                    ("states", "Wait_Exact", "exact", "quantity"), Raw("1e400"),
                                    "states.Wait_Exact.exact.quantity := 1e400")
    out["Death exact NaN"] = edit(probe(["death"]), main,
                                  ("states", "Die", "exact", "quantity"), Raw("NaN"),
                                  "states.Die.exact.quantity := NaN")
    out["Observation decimals 10**6"] = edit(probe(["observation"]), main,
                                             ("states", "Height", "range", "decimals"), 10**6,
                                             "states.Height.range.decimals := 1000000")
    out["Observation value 1e400"] = edit(probe(["observation"]), main,
                                          ("states", "Glucose", "exact", "quantity"),
                                          Raw("1e400"), "states.Glucose.exact.quantity := 1e400")
    out["Procedure lasting 10**6 years"] = edit(
        probe(["procedure"]), main, ("states", "Surgery", "duration"),
        {"low": 10**6, "high": 10**6, "unit": "years"},
        "states.Surgery.duration := 1000000 years")
    out["Date year 10**12"] = edit(probe(["guard"]), main, ("states", "Modern", "allow", "year"),
                                   10**12, "states.Modern.allow (Guard, Date) year := 10**12")
    case = probe(["condition"])
    case.docs[main]["remarks"] = Raw("[" * 100_000 + "]" * 100_000)
    case.labels.append("remarks := array nested 100000 deep")
    out["deep JSON array"] = case
    case = probe(["branching"])
    case.docs[main]["states"]["Era"]["conditional_transition"][0]["condition"] = _deep_and(1000)
    case.labels.append("Date condition := And nested 1000 deep")
    out["deep And condition"] = case
    case = probe(["lookup"])
    case.texts["lookup_tables/fuzz_table.csv"] = (
        "gender,age,Lookup_A,Lookup_B\nM,0-140,0.3,0.7\nF,0-140," + "0" * 140_000 + ".6,0.4\n")
    case.labels.append("lookup_tables/fuzz_table.csv: a cell of 140,000 characters")
    out["lookup cell over 128 KB"] = case
    return out


KNOWN: dict[str, FuzzCase] = _known()


def _found() -> dict[str, FuzzCase]:
    """Failures the fuzz tests found in commit 68fd028 (after the fixes of the review's list)."""
    main = f"{PROBE_KEY}.json"
    out: dict[str, FuzzCase] = {}
    out["lone surrogate in a code display"] = edit(
        probe(["condition"]), main, ("states", "Visit", "codes", 0, "display"), "\udc80",
        "states.Visit.codes[0].display := '\\udc80' (JSON escape of a lone surrogate)")
    out["5000-digit integer in an expression"] = edit(
        probe(["attribute"]), main, ("states", "Score_Doubled", "expression"), "9" * 5000,
        "states.Score_Doubled.expression := a 5000-digit integer")
    case = probe(["condition"])
    del case.docs[main]
    case.texts[main] = "null"
    case.labels.append("fuzz_probe.json is the JSON literal null")
    out["module file is null"] = case
    case = probe(["condition"])
    states = case.docs[main]["states"]
    states["Initial"]["direct_transition"] = "Fuzz_Loop_A"
    states.update(copy.deepcopy(LOOPS["Delay 0 loop"]))
    case.labels.append("Initial -> Fuzz_Loop_A (Delay 0 days) -> Fuzz_Loop_B -> Fuzz_Loop_A")
    out["Delay 0 in a loop"] = case
    out["Death transitions to itself"] = edit(probe(["death"]), main,
                                              ("states", "Die", "direct_transition"), "Die",
                                              "states.Die.direct_transition := 'Die'")
    case = probe(["condition"])
    states = case.docs[main]["states"]
    states["Initial"]["direct_transition"] = "Fuzz_Death"
    states["Fuzz_Death"] = {"type": "Death", "codes": [BRONCHITIS],
                            "direct_transition": "Terminal"}
    case.labels.append("Initial -> Death (everyone dies at birth)")
    out["everyone dies at birth"] = case
    out["Observation range -1e308 to 1e308"] = edit(
        probe(["observation"]), main, ("states", "Height", "range"),
        {"low": -1e308, "high": 1e308}, "states.Height.range := -1e308 to 1e308")
    out["Power(10, 400) in a VitalSign expression"] = edit(
        probe(["vital"]), main, ("states", "Pressure", "expression"), "Power(10, 400)",
        "states.Pressure.expression := 'Power(10, 400)'")
    return out


FOUND: dict[str, FuzzCase] = _found()
