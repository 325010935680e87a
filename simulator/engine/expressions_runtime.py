"""Evaluating module expressions against a person (module-format.md §13)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from simulator.engine import timeutil as tu
from simulator.gmf.expressions import Expression, ExpressionError, Parameter, parse_expression
from simulator.gmf.schema import VITAL_SIGNS

if TYPE_CHECKING:
    from simulator.engine.simulation import Frame, PersonSim

_VITALS_BY_LOWER = {name.lower(): name for name in VITAL_SIGNS}


@lru_cache(maxsize=1024)
def compiled(text: str) -> Expression:
    return parse_expression(text)


def evaluate_expression(sim: PersonSim, frame: Frame, text: str) -> Any:
    try:
        expression = compiled(text)
    except ExpressionError as exc:
        raise sim.error(frame, f"expression {text!r}: {exc}") from None

    def resolve(param: Parameter) -> Any:
        name = param.name
        if name == "age":
            return tu.age_decimal_years(sim.person.birth, sim.now)
        vital = _VITALS_BY_LOWER.get(name.lower()) or _VITALS_BY_LOWER.get(name.replace("_", " ").lower())
        if vital is not None:
            return sim.read_vital(frame, vital)
        attrs = sim.person.attributes
        if name not in attrs:
            raise sim.error(frame, f"expression {text!r} reads {name!r}, which is not set")
        value = attrs[name]
        if isinstance(value, bool | str):
            return value
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, list) and all(isinstance(v, int | float) for v in value):
            return [float(v) for v in value]
        raise sim.error(frame, f"expression {text!r}: {name!r} holds {type(value).__name__}, not a value")

    try:
        return expression.evaluate(resolve)
    except ExpressionError as exc:
        raise sim.error(frame, f"expression {text!r}: {exc}") from None
