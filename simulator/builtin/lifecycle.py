"""Life events the engine itself provides (engine-behaviour.md §4.3.2), as SimPy processes.

Each event is scheduled for the instant it happens rather than checked weekly. The full
lifecycle (growth charts, insurance, immunizations, natural death) arrives with issue 3.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from simulator.engine import timeutil as tu

if TYPE_CHECKING:
    from simulator.engine.simulation import PersonSim

QUIT_SMOKING_PER_STEP = 0.01  # lifecycle.quit_smoking.baseline (per 7-day step)
QUIT_ALCOHOLISM_PER_STEP = 0.001  # lifecycle.quit_alcoholism.baseline
ALCOHOLISM_PROBABILITY = 0.025
MARRIAGE_PROBABILITY = 0.8
# (age, widowed, divorced) probabilities for married people (§4.3.2 step 1)
MARRIAGE_CHANGES = [(35, 0.02, 0.18), (45, 0.03, 0.02), (55, 0.06, 0.05)]


def smoking_probability(year: int) -> float:
    """Chance a 16-year-old becomes a smoker in `year` (engine-behaviour.md §4.3.2 step 3)."""
    if year < 1965:
        return 0.424
    return max((-0.4865 * year + 996.41) / 100.0, 0.0)


def _geometric_steps(u: float, p: float) -> int:
    """Whole 7-day steps until an event with per-step probability p first happens."""
    return int(math.log(1.0 - u) / math.log(1.0 - p)) + 1


def _sleep_until(sim: PersonSim, at: int) -> Any:
    return sim.env.timeout(max(at - sim.now, 0))


def life_events(sim: PersonSim) -> Generator[Any, Any, None]:
    person = sim.person
    rng = person.rng
    birth = person.birth
    events = [
        (tu.age_reached_ms(birth, 16 * 12), "smoking"),
        (tu.age_reached_ms(birth, 18 * 12), "adult"),
        (tu.age_reached_ms(birth, 25 * 12), "alcohol"),
        (tu.age_reached_ms(birth, 28 * 12), "marriage"),
    ] + [(tu.age_reached_ms(birth, age * 12), f"marriage-{age}") for age, _, _ in MARRIAGE_CHANGES]
    for at, what in sorted(events):
        if at > sim.now:
            yield _sleep_until(sim, at)
        if what == "smoking" and person.get("smoker") is None:
            smoker = rng.random() < smoking_probability(tu.year_of(sim.now))
            person.set("smoker", smoker)
            person.set("quit smoking probability", QUIT_SMOKING_PER_STEP)
            if smoker:
                quit_at = sim.now + _geometric_steps(rng.random(), QUIT_SMOKING_PER_STEP) * tu.STEP
                sim.env.process(_quit(sim, quit_at, "smoker", "quit smoking age"))
        elif what == "adult":
            person.set("name_prefix", "Mr." if person.gender == "M" else "Ms.")
        elif what == "alcohol" and person.get("alcoholic") is None:
            alcoholic = rng.random() < ALCOHOLISM_PROBABILITY
            person.set("alcoholic", alcoholic)
            person.set("quit alcoholism probability", QUIT_ALCOHOLISM_PER_STEP)
            if alcoholic:
                quit_at = sim.now + _geometric_steps(rng.random(), QUIT_ALCOHOLISM_PER_STEP) * tu.STEP
                sim.env.process(_quit(sim, quit_at, "alcoholic", "quit alcoholism age"))
        elif what == "marriage":
            married = rng.random() < MARRIAGE_PROBABILITY
            person.set("marital_status", "M" if married else "S")
            if married and person.gender == "F":
                person.set("name_prefix", "Mrs.")
        elif what.startswith("marriage-") and person.get("marital_status") == "M":
            age = int(what.split("-")[1])
            _, widowed, divorced = next(c for c in MARRIAGE_CHANGES if c[0] == age)
            u = rng.random()
            if u < widowed:
                person.set("marital_status", "W")
            elif u < widowed + divorced:
                person.set("marital_status", "D")


def _quit(sim: PersonSim, at: int, flag: str, age_attr: str) -> Generator[Any, Any, None]:
    yield _sleep_until(sim, at)
    if sim.person.get(flag) is True:
        sim.person.set(flag, False)
        sim.person.set(age_attr, tu.age_years(sim.person.birth, sim.now))


DEFAULT_LIFECYCLE = (life_events,)
