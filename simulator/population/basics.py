"""Minimal person basics: who a person is when the modules first see them.

This is the seam the population work (issue 3) replaces with bulk, numba-sampled state and city
demographics. Until then a person gets sex, race, ethnicity, language, birth date and
socioeconomic attributes drawn from state-level figures for Massachusetts (the default, as in
Synthea), written below with their source, and scaled only by the options the user gave.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.engine import timeutil as tu
from simulator.engine.person import Person
from simulator.engine.randomness import person_seed

# U.S. Census Bureau, QuickFacts Massachusetts, population estimates July 1, 2023 (V2023):
# age, sex, race alone (two or more races folded into "other") and Hispanic origin.
AGE_BANDS = [  # (min age, max age inclusive, share of population)
    (0, 4, 0.050),
    (5, 17, 0.145),
    (18, 24, 0.100),
    (25, 44, 0.265),
    (45, 64, 0.259),
    (65, 74, 0.103),
    (75, 84, 0.054),
    (85, 99, 0.024),
]
FEMALE_SHARE = 0.509
RACES = [("white", 0.800), ("black", 0.096), ("asian", 0.078), ("native", 0.005),
         ("hawaiian", 0.001), ("other", 0.020)]
HISPANIC_SHARE = 0.136
# ACS 2022 1-year, Massachusetts, educational attainment of people 25 and over (S1501).
EDUCATION = [("less_than_hs", 0.087), ("hs_degree", 0.228), ("some_college", 0.222),
             ("bs_degree", 0.463)]
EDUCATION_BANDS = {"less_than_hs": (0.0, 0.5), "hs_degree": (0.1, 0.75),
                   "some_college": (0.3, 0.85), "bs_degree": (0.5, 1.0)}
# ACS 2022 1-year, Massachusetts median household income (S1901): $99,858; spread as a
# log-normal with sigma 0.85 (fits the published quintile shares within a few points).
MEDIAN_INCOME = 99_858
INCOME_SIGMA = 0.85
POVERTY_LEVEL = 17_550  # engine-behaviour.md §6.2
HIGH_INCOME = 75_000
# Share of Hispanic residents who speak Spanish at home, engine-behaviour.md §6.2.
SPANISH_AMONG_HISPANIC = 0.5115


@dataclass(frozen=True, slots=True)
class PopulationOptions:
    seed: int
    reference_time: int
    state: str = "Massachusetts"
    city: str | None = None
    gender: str | None = None  # "M" | "F"
    min_age: int | None = None
    max_age: int | None = None


def _choose(u: float, table: list[tuple[str, float]]) -> str:
    total = 0.0
    for value, share in table:
        total += share
        if u < total:
            return value
    return table[-1][0]


def make_person(options: PopulationOptions, index: int, attempt: int = 0) -> Person:
    seed = person_seed(options.seed, index, attempt)
    person = Person(index=index, seed=seed, birth=0, attributes={})
    rng = person.rng
    a = person.attributes
    a["id"] = rng.uuid()
    a["state"] = options.state
    if options.city:
        a["city"] = options.city
    a["race"] = _choose(rng.random(), RACES)
    a["ethnicity"] = "hispanic" if rng.random() < HISPANIC_SHARE else "nonhispanic"
    spanish = a["ethnicity"] == "hispanic" and rng.random() < SPANISH_AMONG_HISPANIC
    a["first_language"] = "spanish" if spanish else "english"
    a["gender"] = options.gender or ("F" if rng.random() < FEMALE_SHARE else "M")

    education = _choose(rng.random(), EDUCATION)
    lo, hi = EDUCATION_BANDS[education]
    a["education"] = education
    a["education_level"] = lo + (hi - lo) * rng.random()
    income = int(MEDIAN_INCOME * math.exp(INCOME_SIGMA * rng.gauss(0.0, 1.0)))
    a["income"] = income
    level = (income - POVERTY_LEVEL) / (HIGH_INCOME - POVERTY_LEVEL)
    a["income_level"] = min(max(level, 0.0), 1.0)
    a["poverty_ratio"] = income / POVERTY_LEVEL
    a["occupation_level"] = rng.random()
    score = 0.2 * a["income_level"] + 0.7 * a["education_level"] + 0.1 * a["occupation_level"]
    a["socioeconomic_score"] = score
    a["socioeconomic_category"] = "High" if score >= 0.66 else "Middle" if score >= 0.25 else "Low"

    if options.min_age is not None and options.max_age is not None:
        # Synthea's rule: floor(min + (max - min)·u), so `max` itself is never drawn unless
        # min == max.
        age = math.floor(options.min_age + (options.max_age - options.min_age) * rng.random())
    else:
        band = AGE_BANDS[-1]
        u, total = rng.random(), 0.0
        for b in AGE_BANDS:
            total += b[2]
            if u < total:
                band = b
                break
        age = band[0] + int(rng.random() * (band[1] - band[0] + 1))
    ref = options.reference_time
    earliest = ref - ((age + 1) * 365 + 1) * tu.DAY
    latest = ref - age * 365 * tu.DAY
    birth = earliest + int((latest - earliest) * rng.random())
    person.birth = birth
    a["birthdate"] = birth
    return person
