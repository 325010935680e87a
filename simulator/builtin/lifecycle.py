"""Life events the engine itself provides (engine-behaviour.md §4.3.2), as SimPy processes.

Each event is scheduled for the instant it happens rather than checked weekly. Growth and vital
signs are computed on read (engine.vitals, builtin.body); insurance, COVID-19 vaccination and
weight management are processes of their own modules, started with these (DEFAULT_LIFECYCLE).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from simulator.engine import timeutil as tu
from simulator.record import Code

if TYPE_CHECKING:
    from simulator.engine.simulation import PersonSim

# Smokers quit at a constant 2.2% a year (2.5% before the initiation curve below fell faster
# after 2008; recalibrated with it to NHIS 2021 current smoking by age, bench/module_targets.py):
# the share of adult ever-smokers who have quit is then close to the 59% published (59.1% in 2015: Babb S et al. Quitting
# Smoking Among Adults - United States 2000-2015. MMWR 2017;65(52):1457-1464, NHIS), and adult
# current smoking about 11%. (The same report's 7.4% "recently quit" counts relapsing quitters;
# as a lifelong hazard it would leave 88% of ever-smokers quit.) Synthea's default,
# lifecycle.quit_smoking.baseline 0.01 per 7-day step (about 41% a year), leaves almost no
# current smokers; see docs/compatibility.md.
QUIT_SMOKING_PER_YEAR = 0.022
QUIT_SMOKING_PER_STEP = 1 - (1 - QUIT_SMOKING_PER_YEAR) ** (7 / 365.25)
QUIT_ALCOHOLISM_PER_STEP = 0.001  # lifecycle.quit_alcoholism.baseline
ALCOHOLISM_PROBABILITY = 0.025
MARRIAGE_PROBABILITY = 0.8
PASSPORT_PROBABILITY = 0.5  # §4.3.2 step 1, age 20
EMPLOYMENT_CHECK = 182 * tu.DAY  # every 6 months (§4.3.2 step 9)
NATURAL_DEATH = Code("SNOMED-CT", "9855000", "Natural death with unknown cause")
NATURAL_CAUSES = "natural causes (the life table)"  # a death's source, in run errors
# (age, widowed, divorced) probabilities for married people (§4.3.2 step 1)
MARRIAGE_CHANGES = [(35, 0.02, 0.18), (45, 0.03, 0.02), (55, 0.06, 0.05)]


# Synthea's linear trend in starting to smoke holds until SMOKING_TREND_END; from there the
# chance falls linearly to SMOKING_RECENT in SMOKING_RECENT_YEAR and stays there. Current smoking
# at 18-24 fell from 13.1% (NHIS 2016: Jamal A et al., MMWR 2018;67(2):53-59) to 5.3% (NHIS
# 2021: Cornelius ME et al., MMWR 2023;72(18):475-483), far faster than Synthea's trend, which
# left 14% of simulated 18-24-year-olds smoking in 2024; 0.059 is 5.3% before the few quits of
# the first years (2.5% a year).
SMOKING_TREND_END = 2008
SMOKING_RECENT_YEAR = 2016
SMOKING_RECENT = 0.059
# Men start to smoke more often than women: current smoking 13.1% of men and 10.1% of women
# (NHIS 2021, Cornelius 2023), a ratio of 1.3 kept by these factors on the chance above.
SMOKING_MEN_FACTOR = 1.13
SMOKING_WOMEN_FACTOR = 0.87


def smoking_probability(year: int) -> float:
    """Chance a 16-year-old becomes a smoker in `year` (engine-behaviour.md §4.3.2 step 3)."""
    if year < 1965:
        return 0.424
    if year <= SMOKING_TREND_END:
        return max((-0.4865 * year + 996.41) / 100.0, 0.0)
    if year >= SMOKING_RECENT_YEAR:
        return SMOKING_RECENT
    start = max((-0.4865 * SMOKING_TREND_END + 996.41) / 100.0, 0.0)
    return start + (SMOKING_RECENT - start) * (year - SMOKING_TREND_END) / (
        SMOKING_RECENT_YEAR - SMOKING_TREND_END)


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
        (tu.age_reached_ms(birth, 16 * 12) + 1, "drivers"),
        (tu.age_reached_ms(birth, 18 * 12), "adult"),
        (tu.age_reached_ms(birth, 20 * 12), "passport"),
        (tu.age_reached_ms(birth, 30 * 12), "suffix"),
        (tu.age_reached_ms(birth, 25 * 12), "alcohol"),
        (tu.age_reached_ms(birth, 28 * 12), "marriage"),
    ] + [(tu.age_reached_ms(birth, age * 12), f"marriage-{age}") for age, _, _ in MARRIAGE_CHANGES]
    for at, what in sorted(events):
        if at > sim.now:
            yield _sleep_until(sim, at)
        if what == "smoking" and person.get("smoker") is None:
            chance = smoking_probability(tu.year_of(sim.now))
            if person.gender == "M":
                chance *= SMOKING_MEN_FACTOR
            elif person.gender == "F":
                chance *= SMOKING_WOMEN_FACTOR
            smoker = rng.random() < chance
            person.set("smoker", smoker)
            person.set("quit smoking probability", QUIT_SMOKING_PER_STEP)
            if smoker:
                quit_at = sim.now + _geometric_steps(rng.random(), QUIT_SMOKING_PER_STEP) * tu.STEP
                sim.spawn(_quit(sim, quit_at, "smoker", "quit smoking age"), "quit_smoking")
        elif what == "drivers":
            person.set("identifier_drivers", f"S999{rng.int_between(10000, 99999)}")
        elif what == "passport":
            if rng.random() < PASSPORT_PROBABILITY:
                person.set("identifier_passport", f"X{rng.int_between(10000000, 99999999)}X")
        elif what == "suffix":
            if float(person.get("education_level", 0.0) or 0.0) >= 0.95:
                person.set("name_suffix", ("PhD", "JD", "MD")[rng.int_between(0, 2)])
        elif what == "adult":
            person.set("name_prefix", "Mr." if person.gender == "M" else "Ms.")
            sim.spawn(_employment(sim), "employment")
        elif what == "alcohol" and person.get("alcoholic") is None:
            alcoholic = rng.random() < ALCOHOLISM_PROBABILITY
            person.set("alcoholic", alcoholic)
            person.set("quit alcoholism probability", QUIT_ALCOHOLISM_PER_STEP)
            if alcoholic:
                quit_at = sim.now + _geometric_steps(rng.random(), QUIT_ALCOHOLISM_PER_STEP) * tu.STEP
                sim.spawn(_quit(sim, quit_at, "alcoholic", "quit alcoholism age"), "quit_alcoholism")
        elif what == "marriage":
            married = rng.random() < MARRIAGE_PROBABILITY
            person.set("marital_status", "M" if married else "S")
            if married and person.gender == "F":
                person.set("name_prefix", "Mrs.")
                _take_married_name(person)
        elif what.startswith("marriage-") and person.get("marital_status") == "M":
            age = int(what.split("-")[1])
            _, widowed, divorced = next(c for c in MARRIAGE_CHANGES if c[0] == age)
            u = rng.random()
            if u < widowed:
                person.set("marital_status", "W")
            elif u < widowed + divorced:
                person.set("marital_status", "D")


def _take_married_name(person: Any) -> None:
    """engine-behaviour.md §4.3.1: the maiden name is kept, a new family name drawn from the same
    list, and `name` includes the middle name in this case only (a reference quirk)."""
    from simulator.population.names import locale_names, numbered

    last = person.get("last_name")
    if not last:
        return
    names = locale_names("en_US").last.names
    person.set("maiden_name", last)
    new_last = numbered(names[person.rng.int_between(0, len(names) - 1)])
    person.set("last_name", new_last)
    parts = [person.get("first_name"), person.get("middle_name"), new_last]
    person.set("name", " ".join(p for p in parts if p))


def _employment(sim: PersonSim) -> Generator[Any, Any, None]:
    """Employment checked every 6 months from 18 (§4.3.2 step 9): an unemployed person finds
    work at the next check; an employed one loses it with the state's unemployment rate. The
    wait until the next job loss is drawn at once (geometric) instead of checking each time."""
    person = sim.person
    rng = person.rng
    from simulator.errors import UserError
    from simulator.population.state_data import state_profile

    try:
        rate = float(state_profile(person.get("state") or "Massachusetts").sdoh.get("unemployed", 0.0))
    except UserError:  # a `state` attribute set by hand to a place without figures
        rate = 0.0
    if rate <= 0.0:
        return
    while True:
        if person.get("unemployed"):
            yield sim.env.timeout(EMPLOYMENT_CHECK)
            person.set("unemployed", False)
        checks = _geometric_steps(rng.random(), rate)
        yield sim.env.timeout(checks * EMPLOYMENT_CHECK)
        person.set("unemployed", True)


def natural_death(sim: PersonSim) -> Generator[Any, Any, None]:
    """Death from natural causes at the age the population sampler drew from the life table."""
    when = sim.person.natural_death
    if when is None or when >= sim.end_time:
        return
    yield _sleep_until(sim, when)
    if sim.person.alive(sim.now):
        sim.record_death(sim.now, NATURAL_DEATH, NATURAL_CAUSES)


def _quit(sim: PersonSim, at: int, flag: str, age_attr: str) -> Generator[Any, Any, None]:
    yield _sleep_until(sim, at)
    if sim.person.get(flag) is True:
        sim.person.set(flag, False)
        sim.person.set(age_attr, tu.age_years(sim.person.birth, sim.now))


def _default_lifecycle() -> tuple[Any, ...]:
    from simulator.builtin.covid19_immunization import covid19_immunization
    from simulator.builtin.weight_management import weight_management
    from simulator.payers.insurance import insurance_process

    return (insurance_process, life_events, natural_death, covid19_immunization, weight_management)


DEFAULT_LIFECYCLE = _default_lifecycle()
