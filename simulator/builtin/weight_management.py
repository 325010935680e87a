"""Weight management for people with obesity (engine-behaviour.md §4.5, "Weight Loss").

From age 5, once a year (on each birthday) or as soon as a module sets `trigger_weight_loss`, a
person with obesity — BMI >= 30 from age 20, BMI-for-age percentile >= 95 below it — starts weight
management with probability 0.493 (a set trigger starts it without the draw).

What the growth code does with it (it owns weight; this module only supplies the numbers):
  * adults under management: modelled weight multiplied by `weight_multiplier(attributes, now)`;
  * children under management: BMI percentile lowered by `bmi_percentile_offset(attributes)`.

Adherent adults lose `weight_loss_percentage` (a fraction, 0.07–0.10) linearly over the first
year. Those who keep it off long term (p 0.2) stay managed at the reduced weight; the others
regain it linearly over years 2–5 and leave management at year 5. Non-adherent people leave
management after the first year, children when they turn 20. Anyone who left can start again
at a later check.

Probabilities and the 7–10 % range are those of engine-behaviour.md §4.5. The child effect is the
mean BMI z-score change in a multidisciplinary outpatient programme for children with obesity,
−0.19 SDS (249 children, against −0.07 in waitlist controls; Obesity Facts vol. 14 no. 1 p. 100,
https://karger.com/ofa/article/14/1/100/240932), converted to percentile points at the child's
current percentile.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from statistics import NormalDist
from typing import Any

from simulator.engine import timeutil as tu

START_AGE = 5
ADULT_AGE = 20
ADULT_BMI_THRESHOLD = 30.0
CHILD_PERCENTILE_THRESHOLD = 95.0
START_PROBABILITY = 0.493
ADHERENCE_PROBABILITY = 0.605
LONG_TERM_PROBABILITY = 0.2
LOSS_RANGE = (0.07, 0.10)
CHILD_BMI_Z_CHANGE = -0.19
LOSS_YEARS = 1.0
REGAIN_END_YEARS = 5.0

ACTIVE = "active_weight_management"
TRIGGER = "trigger_weight_loss"

_Z = NormalDist()


def obese(age_years: int, bmi: float | None, bmi_percentile: float | None) -> bool:
    if age_years < START_AGE:
        return False
    if age_years >= ADULT_AGE:
        return bmi is not None and bmi >= ADULT_BMI_THRESHOLD
    return bmi_percentile is not None and bmi_percentile >= CHILD_PERCENTILE_THRESHOLD


def percentile_change(bmi_percentile: float) -> float:
    """Percentile points lost by moving the child's BMI z-score by CHILD_BMI_Z_CHANGE."""
    p = min(max(bmi_percentile / 100.0, 1e-6), 1.0 - 1e-6)
    return bmi_percentile - 100.0 * _Z.cdf(_Z.inv_cdf(p) + CHILD_BMI_Z_CHANGE)


def start_management(person: Any, now: int, weight: float, bmi_percentile: float | None) -> None:
    """Set the management attributes (draws: adherence, loss fraction, long-term success)."""
    rng = person.rng
    adherent = rng.random() < ADHERENCE_PROBABILITY
    loss = LOSS_RANGE[0] + (LOSS_RANGE[1] - LOSS_RANGE[0]) * rng.random()
    long_term = rng.random() < LONG_TERM_PROBABILITY
    child = tu.age_years(person.birth, now) < ADULT_AGE
    change = percentile_change(bmi_percentile) if child and adherent and bmi_percentile else 0.0
    person.set("pre_management_weight", weight)
    person.set("weight_management_start", now)
    person.set("weight_loss_adherence", adherent)
    person.set("weight_loss_percentage", loss)
    person.set("long_term_weight_loss", long_term)
    person.set("weight_loss_bmi_percentile_change", change)
    person.set(ACTIVE, True)


def _years_managed(attributes: Mapping[str, Any], now: int) -> float:
    return max(now - attributes["weight_management_start"], 0) / tu.YEAR_365


def weight_multiplier(attributes: Mapping[str, Any], now: int) -> float:
    """Factor on `pre_management_weight` for an adult under management (1.0 otherwise)."""
    if not attributes.get(ACTIVE) or not attributes.get("weight_loss_adherence"):
        return 1.0
    loss = attributes["weight_loss_percentage"]
    years = _years_managed(attributes, now)
    if years <= LOSS_YEARS:
        return 1.0 - loss * years / LOSS_YEARS
    if attributes.get("long_term_weight_loss"):
        return 1.0 - loss
    regained = min((years - LOSS_YEARS) / (REGAIN_END_YEARS - LOSS_YEARS), 1.0)
    return 1.0 - loss * (1.0 - regained)


def bmi_percentile_offset(attributes: Mapping[str, Any]) -> float:
    """Percentile points to subtract from a managed child's BMI percentile."""
    if not attributes.get(ACTIVE):
        return 0.0
    return float(attributes.get("weight_loss_bmi_percentile_change") or 0.0)


def management_end(person: Any) -> int | None:
    """When the current management episode ends (None: it lasts for life)."""
    attributes = person.attributes
    start = attributes["weight_management_start"]
    if tu.age_years(person.birth, start) < ADULT_AGE:
        return tu.age_reached_ms(person.birth, ADULT_AGE * 12)
    if not attributes.get("weight_loss_adherence"):
        return start + int(LOSS_YEARS * tu.YEAR_365)
    if attributes.get("long_term_weight_loss"):
        return None
    return start + int(REGAIN_END_YEARS * tu.YEAR_365)


def weight_management(sim: Any) -> Generator[Any, Any, None]:
    """SimPy process. Needs `sim.env`, `sim.now`, `sim.person` and `sim.read_vital(None, name)`."""
    person = sim.person
    env = sim.env
    next_check = tu.age_reached_ms(person.birth, START_AGE * 12)
    if next_check > sim.now:
        yield env.timeout(next_check - sim.now)
    while True:
        if sim.now >= next_check:
            next_check = tu.age_reached_ms(person.birth, (tu.age_years(person.birth, sim.now) + 1) * 12)
            due = True
        else:
            due = bool(person.get(TRIGGER))  # woken early: only a set trigger counts
        if due and not person.get(ACTIVE) and person.alive(sim.now) and _should_start(sim):
            percentile = person.get("bmi_percentile")
            start_management(person, sim.now, sim.read_vital(None, "Weight"), percentile)
            end = management_end(person)
            if end is None:
                return
            yield env.timeout(max(end - sim.now, 0))
            person.set(ACTIVE, False)
            next_check = tu.age_reached_ms(person.birth, (tu.age_years(person.birth, sim.now) + 1) * 12)
        # Sleep to the next birthday, or until a module asks for weight loss.
        trigger = env.event()
        person.watch(["a:" + TRIGGER], trigger)
        yield env.any_of([trigger, env.timeout(next_check - sim.now)])


def _should_start(sim: Any) -> bool:
    person = sim.person
    if person.get(TRIGGER):
        return True
    age = tu.age_years(person.birth, sim.now)
    bmi = sim.read_vital(None, "BMI") if age >= ADULT_AGE else None
    if not obese(age, bmi, person.get("bmi_percentile")):
        return False
    return bool(person.rng.random() < START_PROBABILITY)
