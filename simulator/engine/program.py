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
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class CompiledModule:
    key: str
    name: str  # runtime name, "<name> Module"
    file: str
    specialty: str
    states: dict[str, CompiledState]
    module: Module


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


def _pick(sim: PersonSim, options: list[tuple[str, float | s.NamedDistribution]]) -> str:
    u = sim.person.rng.random()
    total = 0.0
    attrs = sim.person.attributes
    for target, p in options:
        if isinstance(p, s.NamedDistribution):
            v = attrs.get(p.attribute)
            p = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else p.default
        total += p
        if u < total:
            return target
    return options[-1][0]


def _compile_transition(st: s.State, tables: dict[str, LookupTable]) -> NextState | None:
    key = st.transition_key()
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
            key_parts = []
            for col in table.attribute_columns:
                if col not in attrs:
                    raise sim.error(
                        fr, f"lookup table {table.name!r} needs attribute {col!r}, which is not set"
                    )
                key_parts.append(java_text(attrs[col]))
            age = tu.age_years(sim.person.birth, sim.now)
            row = table.find(tuple(key_parts), age, sim.now)
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
        cs = CompiledState(name=name, type=st.type, model=st, next=_compile_transition(st, tables))
        if isinstance(st, s.Guard):
            cs.allow = compile_condition(st.allow)
            cs.deps = dependencies(st.allow)
        states[name] = cs
    return CompiledModule(
        key=module.key,
        name=module.name,
        file=module.file,
        specialty=module.schema.specialty or "GENERAL PRACTICE",
        states=states,
        module=module,
    )


def compile_program(module_set: ModuleSet, patterns: list[str] | None = None) -> Program:
    compiled = {k: compile_module(m, module_set.lookup_tables) for k, m in module_set.modules.items()}
    top = [compiled[m.key] for m in module_set.top_level(patterns)]
    return Program(modules=compiled, top_level=top, lookup_tables=module_set.lookup_tables)
