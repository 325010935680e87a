"""A module set compiled for execution: states bound to executors and transition closures.

Compiling happens once per worker; every person then runs the same immutable program.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator.engine import timeutil as tu
from simulator.engine.logic import Dependencies, Test, compile_condition, dependencies
from simulator.engine.randomness import stream_id
from simulator.gmf import schema as s
from simulator.gmf.loader import Module, ModuleSet
from simulator.gmf.lookup import LookupTable

if TYPE_CHECKING:
    from simulator.engine.simulation import Frame, PersonSim

NextState = Callable[["PersonSim", "Frame"], str]


@dataclass(slots=True, eq=False)
class CompiledState:
    name: str
    type: str
    model: s.State
    next: NextState | None
    allow: Test | None = None  # Guard
    deps: Dependencies | None = None  # Guard
    profile: Callable[[PersonSim, Frame], Profile | None] | None = None  # fixed-length Delay
    period: int = 0  # fixed Delay length in ms
    stream: int = 0  # the state's random stream (randomness.stream_id)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class CompiledModule:
    key: str
    name: str  # runtime name, "<name> Module"
    file: str
    specialty: str
    states: dict[str, CompiledState]
    module: Module
    # Encounter states some ConditionOnset/AllergyOnset of the module names as its
    # target_encounter: only their visits need to look back for onsets to diagnose.
    targeted: frozenset[str] = frozenset()


@dataclass(slots=True)
class Program:
    modules: dict[str, CompiledModule]
    top_level: list[CompiledModule]
    lookup_tables: dict[str, LookupTable]


def java_text(value: Any) -> str:
    """Text form of an attribute as Synthea renders it (lookup-table matching)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e7:
            return f"{int(value)}.0"
        return repr(value)
    return str(value)


def probability(attrs: dict[str, Any], p: float | s.NamedDistribution) -> float:
    """A transition probability: a number, or a named attribute (its `default` when unset)."""
    if isinstance(p, s.NamedDistribution):
        v = attrs.get(p.attribute)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else p.default
    return p


def _pick(sim: PersonSim, options: list[tuple[str, float | s.NamedDistribution]]) -> str:
    u = sim.person.rng.random()
    total = 0.0
    attrs = sim.person.attributes
    for target, p in options:
        total += probability(attrs, p)
        if u < total:
            return target
    return options[-1][0]


def lookup_key(attrs: dict[str, Any], table: LookupTable) -> tuple[str, ...] | None:
    """The person's text key for a lookup table, or None when an attribute column is unset."""
    try:
        return tuple(java_text(attrs[c]) for c in table.attribute_columns)
    except KeyError:
        return None


def _compile_transition(st: s.State, tables: dict[str, LookupTable]) -> NextState | None:
    key = st.transition_key()
    if isinstance(st, s.Terminal):
        return None  # transitions on a Terminal are parsed but never followed (§4 rule 3)
    if isinstance(st, s.Physiology):
        # Physiology simulation is off (as in Synthea's default): take the alternative path.
        target = st.alt_direct_transition
        return lambda sim, fr: target
    if key is None:
        return None
    if key == "direct_transition":
        target = st.direct_transition
        return lambda sim, fr: target  # type: ignore[return-value]
    if key == "distributed_transition":
        options = [(o.transition, o.distribution) for o in st.distributed_transition or []]
        return lambda sim, fr: _pick(sim, options)
    if key == "conditional_transition":
        conds = [
            (compile_condition(o.condition) if o.condition is not None else None, o.transition)
            for o in st.conditional_transition or []
        ]
        last = conds[-1][1]

        def conditional(sim: PersonSim, fr: Frame) -> str:
            for test, target in conds:
                if test is None or test(sim, fr):
                    return target
            return last

        return conditional
    if key == "complex_transition":
        opts: list[tuple[Test | None, str | None, list[tuple[str, Any]]]] = [
            (
                compile_condition(o.condition) if o.condition is not None else None,
                o.transition,
                [(d.transition, d.distribution) for d in o.distributions or []],
            )
            for o in st.complex_transition or []
        ]

        def complex_(sim: PersonSim, fr: Frame) -> str:
            chosen = opts[-1]
            for opt in opts:
                if opt[0] is None or opt[0](sim, fr):
                    chosen = opt
                    break
            if chosen[1] is not None:
                return chosen[1]
            if not chosen[2]:
                raise sim.error(fr, "complex_transition option has neither transition nor distributions")
            return _pick(sim, chosen[2])

        return complex_
    if key == "lookup_table_transition":
        options_l = st.lookup_table_transition or []
        table = tables[options_l[0].lookup_table_name]
        defaults = [(o.transition, o.default_probability) for o in options_l]
        columns = table.probability_columns

        def lookup(sim: PersonSim, fr: Frame) -> str:
            attrs = sim.person.attributes
            key_parts = lookup_key(attrs, table)
            if key_parts is None:
                missing = next(c for c in table.attribute_columns if c not in attrs)
                raise sim.error(
                    fr, f"lookup table {table.name!r} needs attribute {missing!r}, which is not set"
                )
            age = tu.age_years(sim.person.birth, sim.now)
            row = table.find(key_parts, age, sim.now)
            if row is None:
                return _pick(sim, defaults)  # type: ignore[arg-type]
            return _pick(sim, list(zip(columns, row.probabilities, strict=True)))

        return lookup
    toc = st.type_of_care_transition
    assert toc is not None
    cutoff = tu.ymd_ms(2020, 1, 1)

    def type_of_care(sim: PersonSim, fr: Frame) -> str:
        status = sim.person.attributes.get("insurance_status", "none")
        high_emergency = status in ("medicaid", "dual eligible", "none")
        u = sim.person.rng.random()
        if sim.now < cutoff:
            return toc.ambulatory if u < (0.65 if high_emergency else 0.75) else toc.emergency
        a, e = (0.66, 0.25) if high_emergency else (0.56, 0.20)
        if u < a:
            return toc.ambulatory
        return toc.emergency if u < a + e else toc.telemedicine

    return type_of_care


def compile_module(module: Module, tables: dict[str, LookupTable]) -> CompiledModule:
    states: dict[str, CompiledState] = {}
    for name, st in module.states.items():
        cs = CompiledState(name=name, type=st.type, model=st, next=_compile_transition(st, tables),
                           stream=stream_id(f"state:{module.key}:{name}"))
        if isinstance(st, s.Guard):
            cs.allow = compile_condition(st.allow)
            cs.deps = dependencies(st.allow)
        cs.profile = compile_profile(st, tables)
        if cs.profile is not None and isinstance(st, s.Delay):
            if st.exact is not None:
                cs.period = tu.fractional_ms(st.exact.quantity, st.exact.unit)
            else:
                assert st.distribution is not None and st.unit is not None
                cs.period = tu.integer_ms(st.distribution.parameters["value"], st.unit)
            if cs.period <= 0:
                cs.profile = None
        states[name] = cs
    return CompiledModule(
        key=module.key,
        name=module.name,
        file=module.file,
        specialty=module.schema.specialty or "GENERAL PRACTICE",
        states=states,
        module=module,
        targeted=frozenset(st.target_encounter for st in module.states.values()
                           if isinstance(st, (s.ConditionOnset, s.AllergyOnset))
                           and st.target_encounter),
    )


def compile_program(module_set: ModuleSet, patterns: list[str] | None = None) -> Program:
    compiled = {k: compile_module(m, module_set.lookup_tables) for k, m in module_set.modules.items()}
    top = [compiled[m.key] for m in module_set.top_level(patterns)]
    return Program(modules=compiled, top_level=top, lookup_tables=module_set.lookup_tables)


# ------------------------------------------------------------------ hazard-loop fast-forward
#
# A Delay of fixed length whose transition returns to the same Delay is a hazard loop
# ("each month, 1% chance of infection"). While the transition's probabilities cannot change
# (no Age/Date flip, lookup-row boundary or change of an attribute it reads), the number of
# returns before leaving is geometric, so one draw replaces thousands of iterations.

Profile = tuple[list[tuple[str, float]], int | None, list[str]]


def outcome_probabilities(
    options: list[tuple[str, float]],
) -> list[tuple[str, float]]:
    """Effective probability of each option under the cumulative walk of §7.2 (first option
    whose running total exceeds u; the last option takes whatever is left)."""
    covered = 0.0
    total = 0.0
    out = [[target, 0.0] for target, _ in options]
    for i, (_, p) in enumerate(options):
        total += p
        hi = min(total, 1.0)
        if hi > covered:
            out[i][1] += hi - covered
            covered = hi
    out[-1][1] += max(1.0 - covered, 0.0)
    return [(t, p) for t, p in out]


def _named(sim: PersonSim, options: list[tuple[str, Any]]) -> tuple[list[tuple[str, float]], list[str]]:
    attrs = sim.person.attributes
    values = [(target, probability(attrs, p)) for target, p in options]
    signals = ["a:" + p.attribute for _, p in options if isinstance(p, s.NamedDistribution)]
    return values, signals


def _earliest(flips: list[Callable[[int, int], int | None]], birth: int, now: int) -> int | None:
    best: int | None = None
    for flip in flips:
        t = flip(birth, now)
        if t is not None and (best is None or t < best):
            best = t
    return best


def compile_profile(st: s.State, tables: dict[str, LookupTable]) -> Callable[[PersonSim, Frame], Profile | None] | None:
    """For a fixed-length Delay: a function giving (probabilities, horizon, signals), or None."""
    if not isinstance(st, s.Delay):
        return None
    if st.exact is None and not (
        st.range is None and st.distribution is not None and st.distribution.kind == "EXACT"
    ):
        return None
    key = st.transition_key()
    if key == "direct_transition":
        target = st.direct_transition or ""
        return lambda sim, fr: ([(target, 1.0)], None, [])
    if key == "distributed_transition":
        raw = [(o.transition, o.distribution) for o in st.distributed_transition or []]

        def distributed(sim: PersonSim, fr: Frame) -> Profile | None:
            values, signals = _named(sim, raw)
            return values, None, signals

        return distributed
    if key in ("conditional_transition", "complex_transition"):
        if key == "conditional_transition":
            opts = [(o.condition, o.transition, None) for o in st.conditional_transition or []]
        else:
            opts = [
                (o.condition, o.transition, [(d.transition, d.distribution) for d in o.distributions or []])
                for o in st.complex_transition or []
            ]
        tests = [compile_condition(c) if c is not None else None for c, _, _ in opts]
        deps = Dependencies()
        for c, _, _ in opts:
            if c is not None:
                dependencies(c, deps)
        if deps.poll:
            return None
        signals = sorted(deps.signals)

        def conditional(sim: PersonSim, fr: Frame) -> Profile | None:
            chosen = len(opts) - 1
            for i, test in enumerate(tests):
                if test is None or test(sim, fr):
                    chosen = i
                    break
            _, target, dists = opts[chosen]
            horizon = _earliest(deps.flips, sim.person.birth, sim.now)
            if target is not None:
                return [(target, 1.0)], horizon, signals
            if not dists:
                return None
            values, more = _named(sim, dists)
            return values, horizon, signals + more

        return conditional
    if key == "lookup_table_transition":
        options_l = st.lookup_table_transition or []
        table = tables[options_l[0].lookup_table_name]
        defaults = [(o.transition, o.default_probability) for o in options_l]
        columns = table.probability_columns
        signals_l = ["a:" + c for c in table.attribute_columns]

        def lookup(sim: PersonSim, fr: Frame) -> Profile | None:
            key_parts = lookup_key(sim.person.attributes, table)
            if key_parts is None:
                return None
            now = sim.now
            birth = sim.person.birth
            horizon: int | None = None
            if table.has_age:
                horizon = tu.age_reached_ms(birth, (tu.age_years(birth, now) + 1) * 12)
            if table.has_time:
                nxt = table.next_time_boundary(key_parts, now)
                if nxt is not None and (horizon is None or nxt < horizon):
                    horizon = nxt
            row = table.find(key_parts, tu.age_years(birth, now), now)
            if row is None:
                return defaults, horizon, signals_l
            return list(zip(columns, row.probabilities, strict=True)), horizon, signals_l

        return lookup
    return None
