"""`probability_of_fall_injury` for people aged 65+ (engine-behaviour.md §4.3.2 item 7).

The injuries module reads it as a named transition probability. The reference reduces the
base risk by 2 % per active fall-prevention intervention, but looks the interventions up in the
person's active entries by their *display text* while entries are keyed by code, so the count is
always 0 there (§4.3.2, note). `fall_risk_attribute` reproduces that: it passes n = 0.
"""

from __future__ import annotations

from typing import Any

from simulator.engine import timeutil as tu

FALL_RISK_MIN_AGE = 65
BASE_WITH_OSTEOPOROSIS = 0.06
BASE_WITHOUT_OSTEOPOROSIS = 0.035
REDUCTION_PER_INTERVENTION = 0.02


def fall_injury_probability(age: float, osteoporosis: bool, interventions: int) -> float | None:
    """Base 0.06 (osteoporosis) or 0.035, × (1 − 0.02·n); None under 65 (attribute not set)."""
    if age < FALL_RISK_MIN_AGE:
        return None
    base = BASE_WITH_OSTEOPOROSIS if osteoporosis else BASE_WITHOUT_OSTEOPOROSIS
    return base * (1.0 - REDUCTION_PER_INTERVENTION * interventions)


def fall_risk_attribute(person: Any, now: int) -> float | None:
    """The attribute value for `person` at `now` (None: leave it unset)."""
    age = tu.age_years(person.birth, now)
    # n = 0: the reference's intervention lookup never matches (see module docstring)
    return fall_injury_probability(age, bool(person.get("osteoporosis", False)), 0)
