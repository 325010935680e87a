"""`simulate modules check PATH...`: every problem of a set of modules at once.

A finding is ``file:JSON-path: severity: message`` with a hint. Errors are what stops a run or
makes it mis-simulate for certain (what the loader refuses, loops that never block, references
to states that do not exist, impossible numbers); warnings are what is probably a mistake but
runs (unreachable states, attributes nobody sets, probabilities that leave a remainder,
misspelled optional members, code check digits). The loader's own checks come first, so
`check` never passes a module that `simulate` would refuse.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.authoring.locate import modules_root
from simulator.gmf import schema as s
from simulator.gmf.coerce import JsonFloat
from simulator.gmf.loader import Module, Problem, collect_modules
from simulator.record import Code

ERROR, WARNING = "error", "warning"

# Attributes the engine and its built-in behaviour set, so modules may read them without any
# module setting them (simulator/builtin, simulator/population, engine-behaviour.md §4–5).
ENGINE_ATTRIBUTES = frozenset({
    "AGE", "AGE_MONTHS", "RH_NEG", "address", "adherence probability", "alcoholic",
    "active_weight_management", "bmi_percentile", "birth_country", "birthdate", "birthplace",
    "C19_FULLY_VACCINATED", "C19_SCHEDULED_FIRST_SHOT", "C19_SCHEDULED_SECOND_SHOT",
    "C19_VACCINE", "C19_VACCINE_STATUS", "cardio_risk", "cause_of_death", "city", "coordinate",
    "county", "days_until_death", "deathdate", "education", "education_level", "ethnicity",
    "fips", "first_language", "first_name", "gender", "high_total_chol", "id",
    "identifier_drivers", "identifier_passport", "identifier_ssn", "income", "income_level",
    "insurance_status", "last_name", "last_visit_symptom_total", "lat", "lon",
    "long_term_weight_loss", "low_hdl", "maiden_name", "marital_status", "middle_name",
    "multiple_birth_status", "name", "name_father", "name_mother", "name_prefix", "name_suffix",
    "occupation_level", "poverty_ratio", "pre_management_weight", "probability_of_fall_injury",
    "quit alcoholism probability", "quit smoking probability", "quit smoking age",
    "quit alcoholism age", "race", "sexual_orientation",
    "smoker", "socioeconomic_category", "socioeconomic_score", "state", "telecom",
    "unemployed", "weight_loss_adherence", "weight_loss_bmi_percentile_change",
    "weight_loss_percentage", "weight_management_start", "zip",
    "active_wellness_encounter", "active_emergency_encounter", "active_urgent_care_encounter",
})

# States after which a module may wait for time to pass (module-format.md §8.2); a loop with
# none of them runs for ever at one instant. CallSubmodule counts: its submodule may wait.
MAY_BLOCK = frozenset({"Terminal", "Guard", "Delay", "CallSubmodule", "Death", "Physiology"})

KNOWN_SYSTEMS = frozenset({
    "SNOMED-CT", "LOINC", "RxNorm", "CVX", "ICD-10-CM", "ICD-10", "ICD10", "ICD-9-CM", "NUBC",
    "DICOM-DCM", "DICOM-SOP", "CPT", "HCPCS", "NDC", "UCUM", "HL7", "http://snomed.info/sct",
    "http://loinc.org", "http://www.nlm.nih.gov/research/umls/rxnorm", "DICOM",
    "http://hl7.org/fhir/sid/cvx", "Synthea", "CDT", "ISO 3166-1", "X12",
})

# module-format.md §6: members every state may carry besides its type's own
COMMON_MEMBERS = frozenset({"type", "name", "remarks", *s.TRANSITION_KEYS})
# members Synthea's module builder writes that the engine does not need
BUILDER_MEMBERS = frozenset({"number_of_observations"})
SUM_TOLERANCE = 1e-4  # probabilities written with four decimals may sum to 0.9999 or 1.0001


@dataclass(frozen=True)
class Finding:
    file: str
    path: str
    message: str
    severity: str = ERROR
    hint: str = ""

    def location(self) -> str:
        return f"{self.file}:{self.path}" if self.path else self.file

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "path": self.path, "severity": self.severity,
                "message": self.message, "hint": self.hint}


# ---------------------------------------------------------------- where the modules are


def _display(root: Path, rel: str) -> str:
    path = root / rel
    try:
        shown = os.path.relpath(path)
    except ValueError:
        return str(path)
    return shown if not shown.startswith("../../..") else str(path)


# ---------------------------------------------------------------- the checks


def check_paths(paths: Iterable[Path]) -> list[Finding]:
    """Every finding for the modules at these paths (files or folders), sorted by place."""
    groups: dict[Path, set[str] | None] = {}
    for path in paths:
        if path.is_dir():
            groups[path.resolve()] = None  # everything in it
        elif path.is_file():
            root = modules_root(path).resolve()
            selected = groups.setdefault(root, set())
            if selected is not None:
                selected.add(path.resolve().relative_to(root).as_posix())
        else:
            raise FileNotFoundError(str(path))
    findings: list[Finding] = []
    for root, selected in groups.items():
        findings.extend(_check_root(root, selected))
    return sorted(set(findings), key=lambda f: (f.file, f.severity != ERROR, f.path, f.message))


def _check_root(root: Path, selected: set[str] | None) -> list[Finding]:
    module_set, problems = collect_modules(root)
    modules = module_set.modules

    def chosen(rel: str) -> bool:
        return selected is None or rel in selected

    out: list[Finding] = []
    for p in problems:
        if chosen(p.file):
            out.append(_from_problem(root, p, modules))
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json")
                   if "lookup_tables" not in p.relative_to(root).parts)
    for rel in files:
        if chosen(rel):
            out.extend(_raw_checks(root, rel))
    attributes_set = _attributes_set(modules.values())
    for module in modules.values():
        if chosen(module.file):
            out.extend(_module_checks(module, _display(root, module.file), attributes_set,
                                      _related_encounters(module, modules)))
    return out


def _related_encounters(module: Module, modules: dict[str, Module]) -> set[str]:
    """Encounter state names of the modules this one calls or is called by (transitively): a
    submodule's diagnosis may wait for its caller's encounter."""
    calls = {key: {st.submodule for st in m.states.values() if isinstance(st, s.CallSubmodule)}
             for key, m in modules.items()}
    linked = {key: set(targets) for key, targets in calls.items()}
    for key, targets in calls.items():
        for target in targets:
            linked.setdefault(target, set()).add(key)
    seen = {module.key}
    todo = [module.key]
    while todo:
        for nxt in linked.get(todo.pop(), ()):
            if nxt not in seen and nxt in modules:
                seen.add(nxt)
                todo.append(nxt)
    return {name for key in seen for name, st in modules[key].states.items()
            if isinstance(st, s.Encounter)}


def _from_problem(root: Path, p: Problem, modules: dict[str, Module]) -> Finding:
    hint = ""
    message = p.message
    if message.startswith("unknown state type"):
        hint = _suggest(message.split("'")[1] if "'" in message else "", s.STATE_TYPES)
    elif message.startswith("unknown condition_type"):
        hint = _suggest(message.split("'")[1] if "'" in message else "", s.CONDITION_TYPES)
    elif message.startswith("transition to missing state"):
        module = next((m for m in modules.values() if m.file == p.file), None)
        target = message.split("'")[1] if "'" in message else ""
        hint = _suggest(target, module.states if module else {}) or \
            "add the state, or point the transition at an existing one"
    elif message == "state has no transition":
        hint = "add a direct_transition (or another transition), or make it a Terminal"
    elif message.startswith("no state named 'Initial'"):
        hint = "every module starts at the state named Initial"
    elif message.startswith("submodule"):
        hint = "CallSubmodule names a file under the modules folder without .json, e.g. 'medications/insulin'"
    elif message.startswith("lookup table"):
        hint = "lookup tables are CSV files in the modules folder's lookup_tables/"
    elif message.startswith("malformed JSON"):
        hint = "a missing or extra comma, quote or bracket near that place"
    elif message == "required member is missing":
        hint = "module-format.md §6 lists each state type's members"
    return Finding(_display(root, p.file), p.path, message, p.severity, hint)


def _suggest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


# ---------------------------------------------------------------- raw JSON: duplicates, members


class _Pairs(dict):  # type: ignore[type-arg]
    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _Pairs:
    out = _Pairs()
    out.duplicates = []
    for key, value in pairs:
        if key in out:
            out.duplicates.append(key)
        out[key] = value
    return out


def _raw_checks(root: Path, rel: str) -> Iterator[Finding]:
    shown = _display(root, rel)
    try:
        raw = json.loads((root / rel).read_text(encoding="utf-8-sig"),
                         object_pairs_hook=_pairs_hook, parse_float=JsonFloat)
    except (OSError, ValueError):
        return  # reported by the loader
    yield from _duplicates(shown, raw, "")
    states = raw.get("states") if isinstance(raw, dict) else None
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        model = s.STATE_TYPES.get(state.get("type"))  # type: ignore[arg-type]
        if model is None:
            continue
        allowed = COMMON_MEMBERS | BUILDER_MEMBERS | set(model.model_fields)
        for member in state:
            if member not in allowed:
                hint = _suggest(member, allowed)
                yield Finding(shown, f"states.{name}.{member}",
                              f"unknown member {member!r} of a {state['type']} state: ignored",
                              WARNING, hint or f"members of {state['type']}: "
                              + ", ".join(sorted(set(model.model_fields) - {'type'})))


def _duplicates(shown: str, value: Any, path: str) -> Iterator[Finding]:
    if isinstance(value, _Pairs):
        for key in value.duplicates:
            what = "state" if path == "states" else "member"
            yield Finding(shown, f"{path}.{key}" if path else key,
                          f"{what} {key!r} is defined twice: the first definition is lost",
                          ERROR, "rename one of them")
        for key, inner in value.items():
            yield from _duplicates(shown, inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _duplicates(shown, inner, f"{path}[{i}]")


# ---------------------------------------------------------------- one loaded module


def _module_checks(module: Module, f: str, attributes_set: set[str],
                   encounters: set[str]) -> Iterator[Finding]:
    states = module.states
    yield from _reachability(module, f)
    yield from _closed_loops(module, f)
    for name, st in states.items():
        base = f"states.{name}"
        yield from _distributions(f, base, st)
        yield from _state_references(f, base, st, states, encounters)
        yield from _numbers(f, base, st)
        for path, code in _codes(base, st):
            yield from _check_code(f, path, code)
        for path, cond in _conditions(base, st):
            yield from _condition_checks(f, path, cond, states)
        for path, attribute in _attribute_reads(base, st):
            if attribute not in attributes_set and not _engine_attribute(attribute):
                yield Finding(f, path, f"attribute {attribute!r} is read but no module sets it",
                              WARNING, _suggest(attribute, attributes_set) or
                              "set it with a SetAttribute, Counter or assign_to_attribute, or "
                              "check the spelling")


def _targets(st: s.State) -> list[tuple[str, str]]:
    from simulator.gmf.loader import _targets as targets

    return targets(st)


def _reachability(module: Module, f: str) -> Iterator[Finding]:
    states = module.states
    if "Initial" not in states:
        return
    seen = {"Initial"}
    todo = ["Initial"]
    while todo:
        st = states[todo.pop()]
        if isinstance(st, s.Terminal):
            continue
        for _, target in _targets(st):
            if target in states and target not in seen:
                seen.add(target)
                todo.append(target)
    for name in states:
        if name not in seen:
            yield Finding(f, f"states.{name}",
                          "unreachable: no transition from Initial leads here", WARNING,
                          "point a transition at it, or delete it")


def _closed_loops(module: Module, f: str) -> Iterator[Finding]:
    """Groups of states that transition only among themselves and never wait: once entered,
    the module loops for ever at one instant (the engine stops it with an error)."""
    states = module.states
    graph = {name: [t for _, t in _targets(st) if t in states]
             for name, st in states.items() if not isinstance(st, s.Terminal)}
    for group in _strongly_connected(graph):
        members = set(group)
        if len(group) == 1 and group[0] not in graph.get(group[0], []):
            continue  # a single state without a loop to itself
        leaves = any(t not in members for n in group for t in graph.get(n, []))
        waits = any(_may_wait(states[n]) for n in group)
        if not leaves and not waits:
            first = sorted(group)[0]
            yield Finding(f, f"states.{first}",
                          "no way out: the states " + ", ".join(sorted(group)) + " only lead to "
                          "each other and none of them waits (Delay, Guard, wellness Encounter), "
                          "so a person entering them loops for ever at one instant", ERROR,
                          "add a Delay or Guard to the loop, or a transition out of it")


def _may_wait(st: s.State) -> bool:
    if st.type in MAY_BLOCK:
        return True
    if isinstance(st, s.Encounter) and st.wellness:
        return True
    return isinstance(st, s.Procedure) and getattr(st, "duration", None) is not None


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (modules can have long chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph.get(start, [])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph.get(nxt, []))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                out.append(group)
    return out


def _distributions(f: str, base: str, st: s.State) -> Iterator[Finding]:
    lists: list[tuple[str, list[s.DistributedOption]]] = []
    if st.distributed_transition is not None and st.transition_key() == "distributed_transition":
        lists.append((f"{base}.distributed_transition", st.distributed_transition))
    if st.complex_transition is not None and st.transition_key() == "complex_transition":
        for i, option in enumerate(st.complex_transition):
            if option.distributions is not None:
                lists.append((f"{base}.complex_transition[{i}].distributions", option.distributions))
    for path, options in lists:
        numbers = [o.distribution for o in options]
        for i, p in enumerate(numbers):
            if isinstance(p, int | float) and not 0 <= p <= 1:
                yield Finding(f, f"{path}[{i}].distribution",
                              f"probability {p:g} is not between 0 and 1", ERROR,
                              "probabilities are fractions: 0.25 for 25%")
        if not all(isinstance(p, int | float) for p in numbers):
            continue  # a named distribution's value is only known at run time
        total = sum(float(p) for p in numbers)  # type: ignore[arg-type]
        if total > 1 + SUM_TOLERANCE:
            yield Finding(f, path, f"probabilities sum to {total:.6g}, more than 1: the options "
                          "after the cumulative 1 are never taken", WARNING,
                          "make them sum to 1")
        elif total < 1 - SUM_TOLERANCE:
            yield Finding(f, path, f"probabilities sum to {total:.6g}, less than 1: the "
                          f"remaining {1 - total:.6g} goes to the last option", WARNING,
                          "make them sum to 1, or give the remainder its own option")


_REFERENCES: dict[type[s.State], tuple[str, tuple[str, ...]]] = {
    s.ConditionEnd: ("condition_onset", ("ConditionOnset",)),
    s.AllergyEnd: ("allergy_onset", ("AllergyOnset",)),
    s.MedicationEnd: ("medication_order", ("MedicationOrder",)),
    s.CarePlanEnd: ("careplan", ("CarePlanStart",)),
    s.DeviceEnd: ("device", ("Device",)),
    s.Death: ("condition_onset", ("ConditionOnset", "AllergyOnset")),
}


def _state_references(f: str, base: str, st: s.State, states: dict[str, s.State],
                      encounters: set[str]) -> Iterator[Finding]:
    if isinstance(st, s.ConditionOnset) and st.target_encounter:
        target = states.get(st.target_encounter)
        if target is None and st.target_encounter not in encounters:
            yield Finding(f, f"{base}.target_encounter",
                          f"target_encounter {st.target_encounter!r} is not an Encounter state of "
                          "this module or of a module it calls or is called by: the condition is "
                          "never diagnosed", WARNING,
                          _suggest(st.target_encounter, encounters | set(states)) or
                          "name the Encounter state that diagnoses it")
        elif target is not None and not isinstance(target, s.Encounter):
            yield Finding(f, f"{base}.target_encounter",
                          f"target_encounter {st.target_encounter!r} is a {target.type}, not an "
                          "Encounter: the condition is never diagnosed", ERROR,
                          "name an Encounter state")
    spec = _REFERENCES.get(type(st))
    if spec is not None:
        member, kinds = spec
        value = getattr(st, member, None)
        if value:
            target = states.get(value)
            if target is None:
                yield Finding(f, f"{base}.{member}", f"{member} {value!r} is not a state of this "
                              "module: it ends nothing", WARNING, _suggest(value, states) or
                              f"name a {' or '.join(kinds)} state")
            elif target.type not in kinds:
                yield Finding(f, f"{base}.{member}", f"{member} {value!r} is a {target.type}, "
                              f"not a {' or '.join(kinds)}: it ends nothing", WARNING,
                              f"name the {' or '.join(kinds)} state that started it")


def _numbers(f: str, base: str, st: s.State) -> Iterator[Finding]:
    for member in ("range", "duration"):
        r = getattr(st, member, None)
        if r is not None and hasattr(r, "low") and r.low > r.high:
            yield Finding(f, f"{base}.{member}", f"range low {r.low:g} is above high {r.high:g}",
                          WARNING, "swap them (values are drawn between the two either way)")
    dist = getattr(st, "distribution", None)
    if isinstance(dist, s.Distribution):
        yield from _distribution_parameters(f, f"{base}.distribution", dist)
    if isinstance(st, s.MultiObservation | s.DiagnosticReport):
        for i, child in enumerate(st.observations):
            if child.range is not None and child.range.low > child.range.high:
                yield Finding(f, f"{base}.observations[{i}].range",
                              f"range low {child.range.low:g} is above high {child.range.high:g}",
                              WARNING, "swap them (values are drawn between the two either way)")


def _distribution_parameters(f: str, path: str, d: s.Distribution) -> Iterator[Finding]:
    p = d.parameters
    problem = ""
    if d.kind == "UNIFORM" and p["low"] > p["high"]:
        problem = f"UNIFORM low {p['low']:g} is above high {p['high']:g}"
    elif d.kind == "GAUSSIAN" and p["standardDeviation"] < 0:
        problem = "GAUSSIAN standardDeviation is negative"
    elif d.kind == "EXPONENTIAL" and p["mean"] <= 0:
        problem = "EXPONENTIAL mean must be positive"
    elif d.kind == "TRIANGULAR" and not p["min"] <= p["mode"] <= p["max"]:
        problem = "TRIANGULAR needs min <= mode <= max"
    if problem:
        severity = WARNING if d.kind == "UNIFORM" else ERROR  # a reversed UNIFORM still draws
        yield Finding(f, f"{path}.parameters", problem, severity,
                      "module-format.md §10 gives each distribution's parameters")


# ---------------------------------------------------------------- codes


def _codes(base: str, st: s.State) -> Iterator[tuple[str, Code]]:
    for member in ("codes", "value_code", "discharge_disposition", "route"):
        value = getattr(st, member, None)
        if isinstance(value, Code):
            yield f"{base}.{member}", value
        elif isinstance(value, list):
            for i, code in enumerate(value):
                if isinstance(code, Code):
                    yield f"{base}.{member}[{i}]", code
    for i, child in enumerate(getattr(st, "observations", None) or []):
        for j, code in enumerate(getattr(child, "codes", None) or []):
            yield f"{base}.observations[{i}].codes[{j}]", code


_LOINC = re.compile(r"^(LA|LP|LG|LL)?(\d{1,8})-(\d)$")
_ICD10 = re.compile(r"^[A-Z]\d[0-9A-Z](\.?[0-9A-Z]{1,4})?$")


def _check_code(f: str, path: str, code: Code) -> Iterator[Finding]:
    system, value = code.system, (code.code or "").strip()
    if not value:
        yield Finding(f, f"{path}.code", "empty code", ERROR, "give the concept's code")
        return
    if system not in KNOWN_SYSTEMS:
        yield Finding(f, f"{path}.system", f"unknown code system {system!r}", WARNING,
                      _suggest(system, KNOWN_SYSTEMS) or "SNOMED-CT, LOINC, RxNorm, CVX, …")
    if system in ("SNOMED-CT", "http://snomed.info/sct"):
        if not value.isdigit() or not 6 <= len(value) <= 18:
            yield Finding(f, f"{path}.code", f"{value!r} is not a SNOMED CT identifier "
                          "(6 to 18 digits)", WARNING, "copy the concept id from a SNOMED browser")
        elif not verhoeff_valid(value):
            yield Finding(f, f"{path}.code", f"SNOMED CT identifier {value} fails its Verhoeff "
                          "check digit: probably mistyped", WARNING,
                          "copy the concept id from a SNOMED browser")
    elif system in ("LOINC", "http://loinc.org"):
        match = _LOINC.match(value)
        if match is None:
            yield Finding(f, f"{path}.code", f"{value!r} is not a LOINC code (digits, a hyphen and "
                          "a check digit, e.g. 4548-4)", WARNING, "copy the code from loinc.org")
        elif match[1] is None and loinc_check_digit(match[2]) != int(match[3]):
            yield Finding(f, f"{path}.code", f"LOINC code {value} fails its check digit: "
                          "probably mistyped", WARNING, "copy the code from loinc.org")
    elif system in ("RxNorm", "CVX") and not value.isdigit():
        yield Finding(f, f"{path}.code", f"{value!r} is not an {system} code (digits only)",
                      WARNING, f"copy the code from the {system} browser")
    elif system in ("ICD-10-CM", "ICD-10", "ICD10") and not _ICD10.match(value):
        yield Finding(f, f"{path}.code", f"{value!r} is not an ICD-10 code (e.g. E11.9)", WARNING,
                      "a letter, two characters, then up to four after the dot")
    if not (code.display or "").strip():
        yield Finding(f, f"{path}.display", "code without a display", WARNING,
                      "add the concept's preferred term: it is what records show")


_D = [[(i + j) % 5 + 5 * ((i // 5 + j // 5) % 2) if i < 5 and j < 5 else 0
                for j in range(10)] for i in range(10)]
_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_valid(digits: str) -> bool:
    """SNOMED CT identifiers end with a Verhoeff check digit (SNOMED CT technical guide)."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _D[c][_P[i % 8][int(ch)]]
    return c == 0


def loinc_check_digit(digits: str) -> int:
    """LOINC's mod-10 check digit of the part before the hyphen (LOINC users' guide)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d // 10 + d % 10
        total += d
    return (10 - total % 10) % 10


# ---------------------------------------------------------------- conditions and attributes


def _conditions(base: str, st: s.State) -> Iterator[tuple[str, s.Logic]]:
    if isinstance(st, s.Guard):
        yield from _walk_condition(f"{base}.allow", st.allow)
    key = st.transition_key()
    if key == "conditional_transition":
        for i, option in enumerate(st.conditional_transition or []):
            if option.condition is not None:
                yield from _walk_condition(f"{base}.{key}[{i}].condition", option.condition)
    elif key == "complex_transition":
        for i, option in enumerate(st.complex_transition or []):
            if option.condition is not None:
                yield from _walk_condition(f"{base}.{key}[{i}].condition", option.condition)


def _walk_condition(path: str, cond: s.Logic) -> Iterator[tuple[str, s.Logic]]:
    yield path, cond
    if isinstance(cond, s.And | s.Or | s.AtLeast | s.AtMost):
        for i, inner in enumerate(cond.conditions):
            yield from _walk_condition(f"{path}.conditions[{i}]", inner)
    elif isinstance(cond, s.Not):
        yield from _walk_condition(f"{path}.condition", cond.condition)


def _condition_checks(f: str, path: str, cond: s.Logic,
                      states: dict[str, s.State]) -> Iterator[Finding]:
    if isinstance(cond, s.PriorState):
        for member in ("name", "since"):
            value = getattr(cond, member)
            if value is not None and value not in states:
                yield Finding(f, f"{path}.{member}", f"PriorState {member} {value!r} is not a "
                              "state of this module: the condition is always false" if member ==
                              "name" else f"PriorState since {value!r} is not a state of this "
                              "module", ERROR, _suggest(value, states) or
                              "PriorState only sees this module's own states")
    for member in ("codes", "value_code"):
        value = getattr(cond, member, None)
        for i, code in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(code, Code):
                suffix = f"{member}[{i}]" if isinstance(value, list) else member
                yield from _check_code(f, f"{path}.{suffix}", code)


def _attributes_set(modules: Iterable[Module]) -> set[str]:
    out: set[str] = set()
    for module in modules:
        for st in module.states.values():
            if isinstance(st, s.SetAttribute | s.Counter):
                out.add(st.attribute)
            assigned = getattr(st, "assign_to_attribute", None)
            if isinstance(assigned, str):
                out.add(assigned)
    return out


def _attribute_reads(base: str, st: s.State) -> Iterator[tuple[str, str]]:
    for path, cond in _conditions(base, st):
        if isinstance(cond, s.Attribute):
            yield f"{path}.attribute", cond.attribute
        ref = getattr(cond, "referenced_by_attribute", None)
        if ref:
            yield f"{path}.referenced_by_attribute", ref
    ref = getattr(st, "referenced_by_attribute", None)
    if isinstance(ref, str):
        yield f"{base}.referenced_by_attribute", ref
    if isinstance(st, s.SetAttribute) and st.value_attribute:
        yield f"{base}.value_attribute", st.value_attribute
    if isinstance(st, s.Observation) and st.attribute:
        yield f"{base}.attribute", st.attribute
    if st.distributed_transition is not None:
        for i, option in enumerate(st.distributed_transition):
            if isinstance(option.distribution, s.NamedDistribution):
                yield (f"{base}.distributed_transition[{i}].distribution.attribute",
                       option.distribution.attribute)


def _engine_attribute(name: str) -> bool:
    from simulator.builtin.cardiovascular import CARDIO_ATTRIBUTES

    return name in ENGINE_ATTRIBUTES or name in CARDIO_ATTRIBUTES or name.startswith(
        "active_wellness_encounter")


# ---------------------------------------------------------------- output


def exit_code(findings: list[Finding]) -> int:
    if any(f.severity == ERROR for f in findings):
        return 2
    return 1 if findings else 0
