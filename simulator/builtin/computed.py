"""Attributes computed when a module reads them (see `engine.person.Attributes`).

Synthea refreshes these every weekly step; modules only read them at transitions, so computing
them on read gives the same values without a weekly event per person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.builtin import weight_management as wm
from simulator.builtin.cardiovascular import CARDIO_ATTRIBUTES, cardiovascular_attributes
from simulator.builtin.fall_risk import fall_risk_attribute
from simulator.engine import timeutil as tu

if TYPE_CHECKING:
    from simulator.engine.simulation import PersonSim


def computed_attributes(sim: PersonSim) -> None:
    person = sim.person
    computed = person.attributes.computed

    def vital(name: str) -> float:
        return sim.vitals.read(name, sim.now)

    def cardio(name: str) -> Any:
        return lambda: cardiovascular_attributes(person, sim.now, vital)[name]

    for name in CARDIO_ATTRIBUTES:
        computed[name] = cardio(name)
    computed["probability_of_fall_injury"] = lambda: fall_risk_attribute(person, sim.now)
    computed["days_until_death"] = lambda: (
        None if person.deathdate is None else max(person.deathdate - sim.now, 0) // tu.DAY)
    computed["AGE"] = lambda: tu.age_years(person.birth, sim.now)
    computed["AGE_MONTHS"] = lambda: tu.age_months(person.birth, sim.now)

    def bmi_percentile() -> float | None:
        age = tu.age_years(person.birth, sim.now)
        if not 2 <= age < 20:
            return None
        value = sim.vitals.group("growth", sim.now).get("bmi_percentile")
        if value is None:
            return None
        return max(value - wm.bmi_percentile_offset(person.attributes), 0.0)

    computed["bmi_percentile"] = bmi_percentile
