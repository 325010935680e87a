"""`simulate modules check PATH...`: every problem of a set of modules at once.

A finding is ``file:JSON-path: severity: message`` with a hint. Errors are exactly what the
run refuses: the module rules of :mod:`simulator.gmf.rules` (loops that never block, references
to states that do not exist, impossible numbers, ...), found by the same loader with the same
messages, and (``--engine compiled``, the default) what the compiled engine cannot run yet, found
by its own lowering; so `check` passes what `simulate` runs and refuses what it refuses. Warnings are
this module's own: what is probably a mistake but runs (unreachable states, attributes nobody
sets, probabilities that leave a remainder, misspelled optional members, code check digits).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from simulator.authoring.locate import modules_root
from simulator.engine.attributes import set_by_engine
from simulator.engine.program import Program
from simulator.errors import UserError
from simulator.gmf import schema as s
from simulator.gmf.coerce import JsonFloat
from simulator.gmf.loader import Module, ModuleSet, Problem, collect_modules
from simulator.gmf.rules import conditions, may_wait, reachable, targets
from simulator.record import Code

ERROR, WARNING = "error", "warning"

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


def check_paths(paths: Iterable[Path], engine: str = "compiled") -> list[Finding]:
    """Every finding for the modules at these paths (files or folders), sorted by place; with
    the compiled engine (the run's default), what it cannot run is an error too."""
    groups: dict[Path, set[str] | None] = {}
    for path in paths:
        if path.is_dir():
            groups[path.resolve()] = None  # everything in it
        elif path.is_file() and path.suffix == ".json":
            root = modules_root(path).resolve()
            selected = groups.setdefault(root, set())
            if selected is not None:
                selected.add(path.resolve().relative_to(root).as_posix())
        elif path.exists() or path.is_symlink():
            raise UserError(f"{path}: not a module (a .json file) or a folder of modules")
        else:
            raise UserError(f"{path}: no such file or folder")
    findings: list[Finding] = []
    for root, selected in groups.items():
        findings.extend(_check_root(root, selected, engine))
    return sorted(set(findings), key=lambda f: (f.file, f.severity != ERROR, f.path, f.message))


def _check_root(root: Path, selected: set[str] | None, engine: str) -> list[Finding]:
    module_set, problems = collect_modules(root)
    modules = module_set.modules

    def chosen(rel: str) -> bool:
        return selected is None or rel in selected

    out: list[Finding] = []
    for p in problems:
        if chosen(p.file):
            out.append(_from_problem(root, p, modules))
    attributes_set = _attributes_set(modules.values())
    for module in modules.values():
        if chosen(module.file):
            out.extend(_unknown_members(root, module.file))
            out.extend(_module_checks(module, _display(root, module.file), attributes_set,
                                      _related_encounters(module, modules)))
    if engine == "compiled" and not any(p.severity == ERROR for p in problems):
        out.extend(_compiled_engine_limits(root, module_set, chosen))
    return out


def _compiled_engine_limits(root: Path, module_set: ModuleSet,
                            chosen: Callable[[str], bool]) -> Iterator[Finding]:
    """What the compiled engine would refuse when the run loads the modules: per chosen
    top-level module, the first thing in it (or in a submodule it calls) that the engine
    cannot run yet."""
    from simulator.compiled.lower import Unsupported, lower
    from simulator.engine.program import compile_program

    program = compile_program(module_set)
    try:
        lower(program)
        return
    except Unsupported:
        pass  # find each module's own
    seen: set[tuple[str | None, str | None]] = set()
    for module in program.top_level:
        if not chosen(module.file):
            continue
        try:
            lower(Program(program.modules, [module], program.lookup_tables))
        except Unsupported as exc:
            if (exc.module, exc.state) in seen:
                continue
            seen.add((exc.module, exc.state))
            yield Finding(_display(root, exc.module or module.file),
                          f"states.{exc.state}" if exc.state else "",
                          f"the compiled engine (the default) cannot run {exc.feature} yet",
                          ERROR, "run it with `simulate --engine reference`, which runs every "
                          "valid module (and check with `simulate modules check --engine "
                          "reference`)")


def _related_encounters(module: Module, modules: dict[str, Module]) -> set[str]:
    """Encounter state names of the modules this one calls or is called by (transitively): a
    submodule's diagnosis may wait for its caller's encounter."""
    calls = {key: {st.submodule for st in m.states.values() if isinstance(st, s.CallSubmodule)}
             for key, m in modules.items()}
    linked = {key: set(called) for key, called in calls.items()}
    for key, called in calls.items():
        for target in called:
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
    elif "calls itself" in message:
        hint = "a submodule may not call itself, directly or through other submodules"
    elif message.startswith("submodule"):
        hint = "CallSubmodule names a file under the modules folder without .json, e.g. 'medications/insulin'"
    elif message.startswith("lookup table"):
        hint = "lookup tables are CSV files in the modules folder's lookup_tables/"
    elif message.startswith("malformed JSON"):
        hint = "a missing or extra comma, quote or bracket near that place"
    elif message == "required member is missing":
        hint = "docs/module-format.md §6 lists each state type's members"
    elif message.startswith(("PriorState", "target_encounter")):
        module = next((m for m in modules.values() if m.file == p.file), None)
        named = message.split("'")[1] if "'" in message else ""
        hint = _suggest(named, module.states if module else {}) or (
            "name an Encounter state" if message.startswith("target_encounter")
            else "PriorState only sees this module's own states")
    elif message.startswith(("no way out", "endless loop")):
        hint = "add a Delay or Guard to the loop, or a way out of it that can open"
    elif message.startswith("expression does not parse"):
        hint = "docs/module-format.md §13 describes expressions"
    elif "defined twice" in message:
        hint = "rename one of them"

    return Finding(_display(root, p.file), p.path, message, p.severity, hint)


def _suggest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


# ---------------------------------------------------------------- raw JSON: duplicates, members


def _unknown_members(root: Path, rel: str) -> Iterator[Finding]:
    """Members the schema ignores: a loaded module's file is read again as plain JSON."""
    shown = _display(root, rel)
    try:
        raw = json.loads((root / rel).read_text(encoding="utf-8-sig"), parse_float=JsonFloat)
    except (OSError, ValueError, RecursionError):
        return  # the loader read it a moment ago; a file changing meanwhile is not ours
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


# ---------------------------------------------------------------- one loaded module


def _module_checks(module: Module, f: str, attributes_set: set[str],
                   encounters: set[str]) -> Iterator[Finding]:
    states = module.states
    yield from _reachability(module, f)
    yield from _certain_death(module, f)
    for name, st in states.items():
        base = f"states.{name}"
        yield from _distributions(f, base, st)
        yield from _state_references(f, base, st, states, encounters)
        yield from _numbers(f, base, st)
        for path, code in _codes(base, st):
            yield from _check_code(f, path, code)
        for path, cond in conditions(base, st):
            yield from _condition_checks(f, path, cond)
        for path, attribute in _attribute_reads(base, st):
            if attribute not in attributes_set and not set_by_engine(attribute):
                yield Finding(f, path, f"attribute {attribute!r} is read but no module sets it",
                              WARNING, _suggest(attribute, attributes_set) or
                              "set it with a SetAttribute, Counter or assign_to_attribute, or "
                              "check the spelling")


def _certain_death(module: Module, f: str) -> Iterator[Finding]:
    """A Death every person reaches at the module's first instant: a run of top-level modules
    then cannot make living people (it stops with exit 1)."""
    if module.submodule:
        return
    states = module.states
    name, seen = "Initial", set()
    while name in states and name not in seen:
        seen.add(name)
        st = states[name]
        if isinstance(st, s.Death) and st.exact is None and st.range is None:
            yield Finding(f, f"states.{name}", "every person who runs this module dies here at "
                          "birth: a run with it cannot make living people", WARNING,
                          "put the Death behind a condition, a probability or a Delay")
            return
        if may_wait(st) or st.transition_key() != "direct_transition":
            return
        name = st.direct_transition or ""


def _reachability(module: Module, f: str) -> Iterator[Finding]:
    states = module.states
    if "Initial" not in states:
        return
    seen = reachable(states, lambda st: () if isinstance(st, s.Terminal)
                     else (target for _, target in targets(st)))
    for name in states:
        if name not in seen:
            yield Finding(f, f"states.{name}",
                          "unreachable: no transition from Initial leads here", WARNING,
                          "point a transition at it, or delete it")


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
    if d.kind == "UNIFORM" and p["low"] > p["high"]:  # the other kinds' problems are errors
        yield Finding(f, f"{path}.parameters",
                      f"UNIFORM low {p['low']:g} is above high {p['high']:g}", WARNING,
                      "swap them (values are drawn between the two either way)")


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
    system, value = code.system, (code.code or "").strip()  # an empty code is an error
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


def _condition_checks(f: str, path: str, cond: s.Logic) -> Iterator[Finding]:
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
    for path, cond in conditions(base, st):
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


# ---------------------------------------------------------------- output


def exit_code(findings: list[Finding]) -> int:
    if any(f.severity == ERROR for f in findings):
        return 2
    return 1 if findings else 0
