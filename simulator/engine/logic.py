"""Conditions (module-format.md §9): compiled once into closures, plus what they depend on.

`compile_condition(model)` returns `test(sim, frame) -> bool`. `dependencies(model)` says what
can change a condition's value: attributes, symptoms, the record's "present" set (signals a
blocked Guard can wait on), instants at which an age/date comparison flips, or values that
change continuously (vital signs, observations, time windows), which a Guard polls weekly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator.engine import timeutil as tu
from simulator.engine.person import PRESENT
from simulator.gmf import schema as s
from simulator.record import Code, Entry

if TYPE_CHECKING:
    from simulator.engine.simulation import Frame, PersonSim

Test = Callable[["PersonSim", "Frame"], bool]


class ComparisonError(TypeError):
    pass


def compare(left: Any, op: str, right: Any) -> bool:
    """GMF value comparison (§9.1)."""
    if op == "is nil":
        return left is None
    if op == "is not nil":
        return left is not None
    if left is None:
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, bool) and isinstance(right, bool):
            # Synthea quirk: <, <=, >, >= on booleans all mean "not equal".
            return left == right if op == "==" else left != right
        raise ComparisonError(f"cannot compare {_kind(left)} {left!r} with {_kind(right)} {right!r}")
    if isinstance(left, int | float) and isinstance(right, int | float):
        a, b = float(left), float(right)
    elif isinstance(left, str) and isinstance(right, str):
        a, b = left, right  # type: ignore[assignment]
    elif isinstance(left, Code) and isinstance(right, Code):
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        return False
    else:
        raise ComparisonError(f"cannot compare {_kind(left)} {left!r} with {_kind(right)} {right!r}")
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _kind(v: Any) -> str:
    if isinstance(v, Entry):
        return "record entry"
    return type(v).__name__


def _entry_code(value: Any) -> str | None:
    if isinstance(value, Entry):
        return value.codes[0].code if value.codes else None
    return None


# ---------------------------------------------------------------- compile


def compile_condition(c: s.Logic) -> Test:
    builder = _BUILDERS[type(c)]
    return builder(c)


def _and(c: s.And) -> Test:
    parts = [compile_condition(x) for x in c.conditions]
    return lambda sim, fr: all(p(sim, fr) for p in parts)


def _or(c: s.Or) -> Test:
    parts = [compile_condition(x) for x in c.conditions]
    return lambda sim, fr: any(p(sim, fr) for p in parts)


def _not(c: s.Not) -> Test:
    inner = compile_condition(c.condition)
    return lambda sim, fr: not inner(sim, fr)


def _at_least(c: s.AtLeast) -> Test:
    parts = [compile_condition(x) for x in c.conditions]
    n = c.minimum
    return lambda sim, fr: sum(1 for p in [q(sim, fr) for q in parts] if p) >= n


def _at_most(c: s.AtMost) -> Test:
    parts = [compile_condition(x) for x in c.conditions]
    n = c.maximum
    return lambda sim, fr: sum(1 for p in [q(sim, fr) for q in parts] if p) <= n


def _true(c: s.Logic) -> Test:
    return lambda sim, fr: True


def _false(c: s.Logic) -> Test:
    return lambda sim, fr: False


def _gender(c: s.Gender) -> Test:
    g = c.gender
    return lambda sim, fr: sim.person.attributes.get("gender") == g


def _age(c: s.Age) -> Test:
    q, op = c.quantity, c.operator
    if c.unit == "years":
        return lambda sim, fr: compare(tu.age_years(sim.person.birth, sim.now), op, q)
    return lambda sim, fr: compare(tu.age_months(sim.person.birth, sim.now), op, q)


def _date(c: s.Date) -> Test:
    op = c.operator
    if c.year is not None:
        y = c.year
        return lambda sim, fr: compare(tu.year_of(sim.now), op, y)
    if c.month is not None:
        m = c.month
        return lambda sim, fr: compare(tu.month_of(sim.now), op, m)
    instant = date_instant(c.date)  # type: ignore[arg-type]
    return lambda sim, fr: compare(sim.now, op, instant)


def date_instant(d: s.DateSpec) -> int:
    """Lenient calendar: day 0 is the last day of the previous month, and so on."""
    month_index = d.year * 12 + (d.month - 1)
    y, m = divmod(month_index, 12)
    base = tu.ymd_ms(y, m + 1, 1)
    return (
        base
        + (d.day - 1) * tu.DAY
        + d.hour * tu.HOUR
        + d.minute * tu.MINUTE
        + d.second * tu.SECOND
        + d.millisecond
    )


def _ses(c: s.SocioeconomicStatus) -> Test:
    cat = c.category
    return lambda sim, fr: sim.person.attributes.get("socioeconomic_category") == cat


def _race(c: s.Race) -> Test:
    race = c.race.lower()

    def test(sim: PersonSim, fr: Frame) -> bool:
        r = sim.person.attributes.get("race")
        return isinstance(r, str) and r.lower() == race

    return test


def _symptom(c: s.SymptomLogic) -> Test:
    name, op, v = c.symptom, c.operator, c.value
    return lambda sim, fr: compare(sim.person.symptom(name), op, v)


def _attribute(c: s.Attribute) -> Test:
    name, op, v = c.attribute, c.operator, c.value

    def test(sim: PersonSim, fr: Frame) -> bool:
        try:
            return compare(sim.person.attributes.get(name), op, v)
        except ComparisonError as exc:
            raise sim.error(fr, f"Attribute condition on {name!r}: {exc}") from None

    return test


def _vital(c: s.VitalSignLogic) -> Test:
    name, op, v = c.vital_sign, c.operator, c.value
    return lambda sim, fr: compare(sim.read_vital(fr, name), op, v)


def _observation(c: s.ObservationLogic) -> Test:
    op = c.operator
    right = c.value_code if c.value_code is not None else c.value
    codes = [x.code for x in c.codes or []]
    attr = c.referenced_by_attribute

    def test(sim: PersonSim, fr: Frame) -> bool:
        if codes:
            obs = None
            for code in codes:
                found = sim.person.latest_observation.get(code)
                if found is not None:
                    obs = found[1]
                    break
        else:
            obs = sim.person.attributes.get(attr)  # type: ignore[arg-type]
            if obs is None:
                return False
        if op in ("is nil", "is not nil"):
            return compare(obs, op, None)
        if obs is None:
            raise sim.error(
                fr,
                f"Observation condition ({', '.join(codes)}) found no observation; guard it with "
                "'is not nil'",
            )
        try:
            return compare(getattr(obs, "value", None), op, right)
        except ComparisonError as exc:
            raise sim.error(fr, f"Observation condition: {exc}") from None

    return test


def _prior_state(c: s.PriorState) -> Test:
    name, since = c.name, c.since
    within = tu.fractional_ms(c.within.quantity, c.within.unit) if c.within else None

    def test(sim: PersonSim, fr: Frame) -> bool:
        cutoff = sim.now - within if within is not None else None
        for visit in reversed(fr.history):
            if cutoff is not None and visit.exited is not None and visit.exited <= cutoff:
                return False
            if since is not None and visit.name == since:
                return False
            if visit.name == name:
                return True
        return False

    return test


def _active(c: s._ByCodesOrAttribute, must_be_open: bool) -> Test:
    codes = [x.code for x in c.codes or []]
    attr = c.referenced_by_attribute

    def test(sim: PersonSim, fr: Frame) -> bool:
        present = sim.person.present
        if codes:
            keys = codes
        else:
            code = _entry_code(sim.person.attributes.get(attr))  # type: ignore[arg-type]
            if code is None:
                return False
            keys = [code]
        for code in keys:
            entry = present.get(code)
            if entry is not None and (not must_be_open or entry.stop is None):
                return True
        return False

    return test


_BUILDERS: dict[type, Callable[[Any], Test]] = {
    s.And: _and,
    s.Or: _or,
    s.Not: _not,
    s.AtLeast: _at_least,
    s.AtMost: _at_most,
    s.TrueLogic: _true,
    s.FalseLogic: _false,
    s.Gender: _gender,
    s.Age: _age,
    s.Date: _date,
    s.SocioeconomicStatus: _ses,
    s.Race: _race,
    s.SymptomLogic: _symptom,
    s.Attribute: _attribute,
    s.VitalSignLogic: _vital,
    s.ObservationLogic: _observation,
    s.PriorState: _prior_state,
    s.ActiveCondition: lambda c: _active(c, False),
    s.ActiveAllergy: lambda c: _active(c, False),
    s.ActiveMedication: lambda c: _active(c, True),
    s.ActiveCarePlan: lambda c: _active(c, True),
}

# ---------------------------------------------------------------- dependencies


@dataclass(slots=True)
class Dependencies:
    signals: set[str] = field(default_factory=set)
    # functions giving the next instant after `now` at which the value may flip (or None)
    flips: list[Callable[[int, int], int | None]] = field(default_factory=list)
    poll: bool = False


def dependencies(c: s.Logic, deps: Dependencies | None = None) -> Dependencies:
    deps = deps if deps is not None else Dependencies()
    if isinstance(c, s.And | s.Or | s.AtLeast | s.AtMost):
        for x in c.conditions:
            dependencies(x, deps)
    elif isinstance(c, s.Not):
        dependencies(c.condition, deps)
    elif isinstance(c, s.Gender):
        deps.signals.add("a:gender")
    elif isinstance(c, s.Race):
        deps.signals.add("a:race")
    elif isinstance(c, s.SocioeconomicStatus):
        deps.signals.add("a:socioeconomic_category")
    elif isinstance(c, s.Attribute):
        deps.signals.add("a:" + c.attribute)
    elif isinstance(c, s.SymptomLogic):
        deps.signals.add("s:" + c.symptom)
    elif isinstance(c, s.ActiveCondition | s.ActiveAllergy | s.ActiveMedication | s.ActiveCarePlan):
        deps.signals.add(PRESENT)
        if c.referenced_by_attribute:
            deps.signals.add("a:" + c.referenced_by_attribute)
    elif isinstance(c, s.Age):
        deps.flips.append(_age_flip(c))
    elif isinstance(c, s.Date):
        deps.flips.append(_date_flip(c))
    elif isinstance(c, s.PriorState):
        if c.within is not None:
            deps.poll = True
    elif isinstance(c, s.VitalSignLogic | s.ObservationLogic):
        deps.poll = True
    return deps


def _age_flip(c: s.Age) -> Callable[[int, int], int | None]:
    q = c.quantity
    candidates = sorted({math.floor(q), math.floor(q) + 1, math.ceil(q)})
    months_per_unit = 12 if c.unit == "years" else 1

    def flip(birth: int, now: int) -> int | None:
        for age in candidates:
            if age <= 0:
                continue
            at = tu.age_reached_ms(birth, age * months_per_unit)
            if at > now:
                return at
        return None

    return flip


def _date_flip(c: s.Date) -> Callable[[int, int], int | None]:
    if c.year is not None:
        points = [tu.ymd_ms(c.year, 1, 1), tu.ymd_ms(c.year + 1, 1, 1)]
    elif c.month is not None:

        def next_month(birth: int, now: int) -> int | None:
            y, m, _ = tu.ymd(now)
            return tu.ymd_ms(y + (m == 12), m % 12 + 1, 1)

        return next_month
    else:
        instant = date_instant(c.date)  # type: ignore[arg-type]
        points = [instant, instant + 1]

    def flip(birth: int, now: int) -> int | None:
        for p in points:
            if p > now:
                return p
        return None

    return flip
