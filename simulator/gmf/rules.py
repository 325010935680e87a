"""The rules a module must follow to be run: one set, used by the run, `--keep` and
`simulate modules check` alike, each problem named by its JSON path.

Three layers, each run on what the one before accepted:

1. the JSON text (:func:`parse_module`): well-formed, not nested too deep, no member defined
   twice, every number finite;
2. the schema (:mod:`simulator.gmf.schema`): types, required members, numbers in range,
   distributions that can be drawn from;
3. the state machine (:func:`module_problems`, :func:`cross_module_problems`): transitions to
   states that exist, references to states of the right type, expressions that parse, no loop
   that can only go round for ever at one instant, no submodule that calls itself.

What only shows while a person is simulated (an attribute a lookup table needs is unset, a
loop that waits a minute and never ends) is caught by the engine's runtime guards instead,
with file, state and person in the message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from simulator.engine import timeutil as tu
from simulator.gmf import schema as s
from simulator.gmf.coerce import JsonFloat, describe_number
from simulator.gmf.expressions import ExpressionError, parse_expression

MAX_DEPTH = 100  # JSON nesting; Synthea's deepest module nests 34 levels
MAX_MODULE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    path: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}: " if self.path else f"{self.file}: "
        return where + self.message


# ---------------------------------------------------------------- 1. the JSON text


class _Members(dict):  # type: ignore[type-arg]
    """A JSON object that remembers the members it saw twice."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Members:
    out = _Members()
    out.duplicates = []
    for key, value in pairs:
        if key in out:
            out.duplicates.append(key)
        out[key] = value
    return out


def _not_a_number(text: str) -> float:
    return JsonFloat(text)  # NaN, Infinity, -Infinity: kept to be reported by path


def parse_json(file: str, text: str) -> tuple[Any, list[Problem]]:
    """The JSON value of a module file and the problems of its text; the value is None when
    the text cannot be read as JSON at all."""
    try:
        raw = json.loads(text, object_pairs_hook=_object, parse_float=JsonFloat,
                         parse_constant=_not_a_number)
    except json.JSONDecodeError as exc:
        return None, [Problem(file, "", f"malformed JSON at line {exc.lineno} column "
                                        f"{exc.colno}: {exc.msg}")]
    except RecursionError:
        return None, [Problem(file, "", f"JSON nested too deeply (more than {MAX_DEPTH} "
                                        "levels of objects and arrays)")]
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        return None, [Problem(file, "", f"malformed JSON: {exc}")]
    return raw, list(_value_problems(file, raw))


def _value_problems(file: str, raw: Any) -> Iterator[Problem]:
    """Walks the value without recursion (it may be nested hundreds of levels deep)."""
    stack: list[tuple[Any, str, int]] = [(raw, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            yield Problem(file, _shorten(path), f"nested more than {MAX_DEPTH} levels deep")
            return
        if isinstance(value, dict):
            for key in value:
                if not key.isascii() and not _encodable(key):
                    yield Problem(file, path, "a member name holds a lone UTF-16 surrogate: "
                                  "not valid Unicode")
            for key in getattr(value, "duplicates", ()):
                what = "state" if path == "states" else "member"
                yield Problem(file, _join(path, key),
                              f"{what} {key!r} is defined twice: the first definition would "
                              "be lost")
            for key, inner in reversed(value.items()):
                stack.append((inner, _join(path, key), depth + 1))
        elif isinstance(value, list):
            for i in range(len(value) - 1, -1, -1):
                stack.append((value[i], f"{path}[{i}]", depth + 1))
        elif isinstance(value, str) and not value.isascii() and not _encodable(value):
            yield Problem(file, path, "text holds a lone UTF-16 surrogate (e.g. \\udc80): "
                          "not valid Unicode")
        elif isinstance(value, float) and not math.isfinite(value):
            yield Problem(file, path, f"number {describe_number(value)} is not a finite number "
                          "(NaN, Infinity or beyond ±1.8e308)")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e308:
            yield Problem(file, path, f"number {describe_number(value)} is out of range")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shorten(path: str, keep: int = 120) -> str:
    return path if len(path) <= keep else path[:keep] + "…"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------- 3. the state machine


def targets(state: s.State) -> list[tuple[str, str]]:
    """(JSON path suffix, target state name) for every transition target of a state."""
    out: list[tuple[str, str]] = []
    key = state.transition_key()
    if key == "direct_transition":
        out.append((key, state.direct_transition or ""))
    elif key == "distributed_transition":
        for i, opt in enumerate(state.distributed_transition or []):
            out.append((f"{key}[{i}].transition", opt.transition))
    elif key == "conditional_transition":
        for i, opt in enumerate(state.conditional_transition or []):
            out.append((f"{key}[{i}].transition", opt.transition))
    elif key == "complex_transition":
        for i, opt in enumerate(state.complex_transition or []):
            if opt.transition is not None:
                out.append((f"{key}[{i}].transition", opt.transition))
            else:
                for j, d in enumerate(opt.distributions or []):
                    out.append((f"{key}[{i}].distributions[{j}].transition", d.transition))
    elif key == "lookup_table_transition":
        for i, opt in enumerate(state.lookup_table_transition or []):
            out.append((f"{key}[{i}].transition", opt.transition))
    elif key == "type_of_care_transition" and state.type_of_care_transition:
        toc = state.type_of_care_transition
        for member in ("ambulatory", "emergency", "telemedicine"):
            out.append((f"{key}.{member}", getattr(toc, member)))
    if isinstance(state, s.Physiology):
        out.append(("alt_direct_transition", state.alt_direct_transition))
    return out


_TARGET_KEYS = frozenset({"direct_transition", "alt_direct_transition", "transition"})


def texts_besides_targets(state: s.State) -> set[str]:
    """Every text a state holds other than its transition targets (`targets`): among them
    the state names a PriorState, a reason or a cause of death looks up in the history."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, BaseModel | dict):
            items = value.items() if isinstance(value, dict) else (
                list(value.__dict__.items()) + list((value.model_extra or {}).items()))
            for key, member in items:
                if key == "type_of_care_transition" or (
                        key in _TARGET_KEYS and isinstance(member, str)):
                    continue
                walk(member)
        elif isinstance(value, list | tuple):
            for member in value:
                walk(member)

    walk(state)
    return found


def reachable(states: dict[str, s.State], edges: Callable[[s.State], Iterable[str]]
              ) -> set[str]:
    """The states a person can get to from Initial, following `edges` (e.g. every
    transition target, or only those that can open)."""
    if "Initial" not in states:
        return set()
    seen, todo = {"Initial"}, ["Initial"]
    while todo:
        for target in edges(states[todo.pop()]):
            if target in states and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def module_problems(file: str, mod: s.ModuleSchema) -> list[Problem]:
    """Every problem of one parsed module that does not need the other modules."""
    problems = _structure(file, mod)
    problems.extend(_references(file, mod))
    problems.extend(_expressions(file, mod))
    if not any(p.message.startswith("transition to missing state") for p in problems):
        problems.extend(_instant_loops(file, mod))
    return problems


def _structure(file: str, mod: s.ModuleSchema) -> list[Problem]:
    problems: list[Problem] = []
    states = mod.states
    # Synthea starts at the state named "Initial" whatever its type (encounter/vitals.json
    # starts with an Observation); a state of type Initial under any other name is a mistake.
    if "Initial" not in states:
        problems.append(Problem(file, "states", "no state named 'Initial' (the entry point)"))
    for name, st in states.items():
        if isinstance(st, s.Initial) and name != "Initial":
            problems.append(
                Problem(file, f"states.{name}", "a state of type Initial must be named 'Initial'")
            )
    for name, st in states.items():
        if isinstance(st, s.Terminal):
            continue
        if st.transition_key() is None:
            problems.append(Problem(file, f"states.{name}", "state has no transition"))
            continue
        for suffix, target in targets(st):
            if target not in states:
                problems.append(Problem(file, f"states.{name}.{suffix}",
                                        f"transition to missing state {target!r}"))
    return problems


def _references(file: str, mod: s.ModuleSchema) -> Iterator[Problem]:
    """States named by other states must be of the kind that makes the reference work."""
    states = mod.states
    for name, st in states.items():
        base = f"states.{name}"
        if isinstance(st, s.ConditionOnset) and st.target_encounter:
            target = states.get(st.target_encounter)
            if target is not None and not isinstance(target, s.Encounter):
                yield Problem(file, f"{base}.target_encounter",
                              f"target_encounter {st.target_encounter!r} is a {target.type}, "
                              "not an Encounter: the condition would never be diagnosed")


def _expressions(file: str, mod: s.ModuleSchema) -> Iterator[Problem]:
    for name, st in mod.states.items():
        base = f"states.{name}"
        found: list[tuple[str, str | None]] = [(f"{base}.expression",
                                                getattr(st, "expression", None))]
        for i, child in enumerate(getattr(st, "observations", None) or []):
            found.append((f"{base}.observations[{i}].expression", child.expression))
        for path, text in found:
            if text is None:
                continue
            try:
                parse_expression(text)
            except ExpressionError as exc:
                yield Problem(file, path, f"expression does not parse: {exc}")
            except RecursionError:
                yield Problem(file, path, "expression nested too deeply")
            except ValueError as exc:  # e.g. an integer literal of more than 4300 digits
                yield Problem(file, path, f"expression does not parse: {exc}")


def conditions(base: str, st: s.State) -> Iterator[tuple[str, s.Logic]]:
    """Every condition of a state (Guard and transitions), nested ones included, by path."""
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


# ---------------------------------------------------------------- instant loops

# Synthea's corpus enters at most ~10^5 states in one life; a module that goes round a loop of
# very short Delays (a minute) would take minutes per person, so twenty times that stops it
# (the engine's guard, and the closed loops found here before running).
MAX_STATES_PER_LIFE = 2_000_000
LONGEST_LIFE_MS = int(110 * 365.25 * tu.DAY)
# A closed loop whose states never wait longer than this goes round more than
# MAX_STATES_PER_LIFE times in the longest life.
SHORTEST_LOOP_WAIT_MS = LONGEST_LIFE_MS // MAX_STATES_PER_LIFE
# States that change nothing a transition can read: a loop made only of these, choosing by
# conditions alone, takes the same way every time round.
INERT = frozenset({"Initial", "Simple"})


def longest_wait(st: s.State) -> float:
    """The longest a person can wait in a state, in ms: 0 when it never waits, infinity when
    the wait has no bound this module sets (a Guard, a submodule, a wellness visit, a
    distribution without a maximum)."""
    if isinstance(st, s.Guard):
        return 0.0 if constant(st.allow) is True else math.inf
    if isinstance(st, s.CallSubmodule) or isinstance(st, s.Encounter) and st.wellness:
        return math.inf
    if isinstance(st, s.Delay):
        if st.exact is not None:
            return tu.fractional_ms(st.exact.quantity, st.exact.unit)
        if st.range is not None:
            return tu.fractional_ms(max(st.range.low, st.range.high), st.range.unit)
        assert st.distribution is not None and st.unit is not None
        top = _largest(st.distribution)
        return math.inf if top == math.inf else tu.integer_ms(top, st.unit)
    if isinstance(st, s.Procedure):
        if st.duration is not None:
            return tu.fractional_ms(max(st.duration.low, st.duration.high), st.duration.unit)
        if st.distribution is not None and st.unit is not None:
            top = _largest(st.distribution)
            return math.inf if top == math.inf else tu.fractional_ms(top, st.unit)
    return 0.0


def may_wait(st: s.State) -> bool:
    return isinstance(st, s.Terminal) or longest_wait(st) > 0


def ends_module(st: s.State) -> bool:
    """A Terminal, or a Death at once: the module goes no further."""
    if isinstance(st, s.Terminal):
        return True
    return isinstance(st, s.Death) and st.range is None and (
        st.exact is None or tu.fractional_ms(st.exact.quantity, st.exact.unit) <= 0)


def _largest(d: s.Distribution) -> float:
    p = d.parameters
    if d.kind == "EXACT":
        return p["value"]
    if d.kind == "UNIFORM":
        return max(p["low"], p["high"])
    if d.kind == "TRIANGULAR":
        return p["max"]
    if d.kind == "GAUSSIAN":
        return p.get("max", math.inf) if p["standardDeviation"] > 0 else p["mean"]
    return math.inf  # EXPONENTIAL


def constant(cond: s.Logic) -> bool | None:
    """The value of a condition that does not depend on the person or the time, else None."""
    if isinstance(cond, s.TrueLogic):
        return True
    if isinstance(cond, s.FalseLogic):
        return False
    if isinstance(cond, s.Not):
        inner = constant(cond.condition)
        return None if inner is None else not inner
    if isinstance(cond, s.And | s.Or):
        values = [constant(c) for c in cond.conditions]
        if isinstance(cond, s.And):
            return False if False in values else (True if all(v is True for v in values)
                                                  else None)
        return True if True in values else (False if all(v is False for v in values) else None)
    if isinstance(cond, s.AtLeast | s.AtMost):
        values = [constant(c) for c in cond.conditions]
        known_true = values.count(True)
        unknown = values.count(None)
        if isinstance(cond, s.AtLeast):
            if known_true >= cond.minimum:
                return True
            if known_true + unknown < cond.minimum:
                return False
        else:
            if known_true + unknown <= cond.maximum:
                return True
            if known_true > cond.maximum:
                return False
    return None


def open_edges(st: s.State) -> list[str]:
    """Transition targets a person can actually take. Conditional and complex options are
    tried in order and the first whose condition holds wins, the last one when none does; so
    an option whose condition is always false never opens (unless it is the last), nor does
    any option after one that always holds, nor one with a probability of 0."""
    key = st.transition_key()
    if key not in ("conditional_transition", "complex_transition"):
        if key == "distributed_transition":
            return [o.transition for o in st.distributed_transition or []
                    if not _never(o.distribution)]
        return [t for _, t in targets(st)]
    options: list[Any] = list(getattr(st, key) or [])
    out: list[str] = []

    def take(option: Any) -> None:
        if option.transition is not None:
            out.append(option.transition)
        for d in getattr(option, "distributions", None) or []:
            if not _never(d.distribution):
                out.append(d.transition)

    for option in options:
        value = None if option.condition is None else constant(option.condition)
        if option.condition is None or value is True:
            take(option)
            return out
        if value is None:
            take(option)
    if options:
        take(options[-1])  # no condition held
    return out


def _never(p: float | s.NamedDistribution) -> bool:
    return isinstance(p, float) and p == 0.0


def _deterministic(st: s.State) -> bool:
    """Chooses by conditions alone, and none of them reads the module's own history."""
    key = st.transition_key()
    if key == "direct_transition":
        return True
    if key != "conditional_transition":
        return False
    return not any(isinstance(c, s.PriorState) for _, c in conditions("", st))


def _instant_loops(file: str, mod: s.ModuleSchema) -> Iterator[Problem]:
    states = mod.states
    graph = {name: [t for t in open_edges(st) if t in states]
             for name, st in states.items() if not ends_module(st)}
    for group in strongly_connected(graph):
        members = set(group)
        if len(group) == 1 and group[0] not in graph.get(group[0], []):
            continue  # a single state without a loop to itself
        first = sorted(group)[0]
        names = ", ".join(sorted(group))
        leaves = any(t not in members for n in group for t in graph.get(n, []))
        wait = max(longest_wait(states[n]) for n in group)
        if wait > 0:
            if not leaves and wait <= SHORTEST_LOOP_WAIT_MS:
                yield Problem(file, f"states.{first}",
                              f"no way out: the states {names} only lead to each other and wait "
                              f"at most {_duration(wait)} at a time, so a person who enters them "
                              f"goes round for the rest of their life: more than "
                              f"{MAX_STATES_PER_LIFE:,} states in a long life, which the run "
                              "stops")
            continue
        if not leaves:
            closed = any(t not in members for n in group for _, t in targets(states[n]))
            why = (" (their ways out never open: a condition that is always false or a "
                   "probability of 0)" if closed else "")
            yield Problem(file, f"states.{first}",
                          f"no way out: the states {names} only lead to each other{why} and "
                          "none of them waits (Delay, Guard, wellness Encounter), so a person "
                          "entering them would loop for ever at one instant")
        elif all(states[n].type in INERT and _deterministic(states[n]) for n in group):
            yield Problem(file, f"states.{first}",
                          f"endless loop: the states {names} lead back to each other, none of "
                          "them waits or changes anything, and they choose by conditions alone, "
                          "so a person who goes round them once would go round for ever at one "
                          "instant")


def _duration(ms: float) -> str:
    for unit, size in (("hour", tu.HOUR), ("minute", tu.MINUTE), ("second", tu.SECOND)):
        if ms >= size:
            count = ms / size
            return f"{count:g} {unit}{'s' if count != 1 else ''}"
    return f"{ms:g} ms"


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (modules may have thousands of states)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(graph.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, []))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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


# ---------------------------------------------------------------- across modules


def cross_module_problems(modules: Iterable[tuple[str, str, s.ModuleSchema]]) -> list[Problem]:
    """The rules that need the other modules. `modules` is (key, file, schema)."""
    by_key = {key: (file, mod) for key, file, mod in modules}
    calls: dict[str, list[tuple[str, str]]] = {}
    for key, (_, mod) in by_key.items():
        calls[key] = [(name, st.submodule) for name, st in mod.states.items()
                      if isinstance(st, s.CallSubmodule) and st.submodule in by_key]
    return _call_cycles(by_key, calls) + _prior_states(by_key, calls)


def _prior_states(by_key: dict[str, tuple[str, s.ModuleSchema]],
                  calls: dict[str, list[tuple[str, str]]]) -> list[Problem]:
    """A PriorState sees the history of its module and of the submodules it called; it must
    name a state of its module or of a module linked to it by calls."""
    linked: dict[str, set[str]] = {key: set() for key in by_key}
    for key, edges in calls.items():
        for _, target in edges:
            linked[key].add(target)
            linked[target].add(key)
    problems: list[Problem] = []
    for key, (file, mod) in by_key.items():
        known: set[str] | None = None
        for name, st in mod.states.items():
            for path, cond in conditions(f"states.{name}", st):
                if not isinstance(cond, s.PriorState):
                    continue
                if known is None:
                    known = set().union(*(by_key[k][1].states for k in _component(key, linked)))
                if cond.name not in known:
                    problems.append(Problem(
                        file, f"{path}.name", f"PriorState name {cond.name!r} is not a state of "
                        "this module or of a module linked to it by submodule calls: the "
                        "condition would always be false"))
                if cond.since is not None and cond.since not in known:
                    problems.append(Problem(
                        file, f"{path}.since", f"PriorState since {cond.since!r} is not a state "
                        "of this module or of a module linked to it by submodule calls"))
    return problems


def _component(key: str, linked: dict[str, set[str]]) -> set[str]:
    seen = {key}
    todo = [key]
    while todo:
        for nxt in linked[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _call_cycles(by_key: dict[str, tuple[str, s.ModuleSchema]],
                 calls: dict[str, list[tuple[str, str]]]) -> list[Problem]:
    """Submodules that call themselves, directly or through others: every call waits for the
    one inside it to finish, so the calls never end."""
    graph = {key: [target for _, target in edges] for key, edges in calls.items()}
    problems: list[Problem] = []
    for group in strongly_connected(graph):
        members = set(group)
        if len(group) == 1 and group[0] not in graph[group[0]]:
            continue
        cycle = " → ".join(_cycle_path(graph, sorted(group)[0], members))
        for key in sorted(group):
            file = by_key[key][0]
            for name, target in calls[key]:
                if target in members:
                    problems.append(Problem(
                        file, f"states.{name}.submodule",
                        f"submodule {target!r} calls itself ({cycle}): each call waits for the "
                        "one inside it, so the calls would never end"))
    return problems


def _cycle_path(graph: dict[str, list[str]], start: str, members: set[str]) -> list[str]:
    path = [start]
    seen = {start}
    node = start
    while True:
        nxt = next(t for t in graph[node] if t in members)
        path.append(nxt)
        if nxt in seen:
            return path
        seen.add(nxt)
        node = nxt
