"""From sampled rows to Person objects: identity formats, income and social class, birthplaces,
name suffixes and what changes between attempts of the same person."""

from __future__ import annotations

import re

import numpy as np
import pytest

from simulator.engine import timeutil as tu
from simulator.engine.person import Person
from simulator.population import sampler as s
from simulator.population.names import java_string_hash, numbered
from simulator.population.people import Population, PopulationOptions
from simulator.population.state_data import state_profile

REF = tu.ymd_ms(2025, 1, 1)
N = 3000
# engine-behaviour.md §6.2 steps 6 and 8
POVERTY = 17_550
HIGH_INCOME = 75_000
SUFFIXED = re.compile(r"(.*\D)(\d{1,3})")


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(PopulationOptions(seed=4242, reference_time=REF))


@pytest.fixture(scope="module")
def people(population: Population) -> list[Person]:
    ints, floats = population.draw(np.arange(N))
    return [population.person(i, 0, ints[i], floats[i]) for i in range(N)]


def _is_numbered(name: str) -> bool:
    m = SUFFIXED.fullmatch(name)
    return m is not None and numbered(m.group(1)) == name


def test_java_hash_suffix() -> None:
    assert java_string_hash("John") == 2314539
    assert numbered("John") == "John539"
    # Negative hash: Java's % keeps the sign (-579) and abs() drops it again.
    assert java_string_hash("Jennifer") == -1478439579
    assert numbered("Jennifer") == "Jennifer579"
    assert numbered("José") == "José3"  # hash 2315003: non-ASCII counts as one UTF-16 unit


def test_names_carry_their_suffix(people: list[Person]) -> None:
    middles = 0
    for p in people:
        a = p.attributes
        assert _is_numbered(a["first_name"]), a["first_name"]
        assert _is_numbered(a["last_name"]), a["last_name"]
        if "middle_name" in a:
            middles += 1
            assert _is_numbered(a["middle_name"])
        assert a["name"] == f"{a['first_name']} {a['last_name']}"
        assert a["name_father"].endswith(" " + a["last_name"])
        assert re.fullmatch(r".*\D\d{1,3} .*\D\d{1,3}", a["name_mother"])
    assert 0.75 * N < middles < 0.85 * N  # generate.middle_names = 0.80


def test_identifier_formats(people: list[Person]) -> None:
    for p in people:
        a = p.attributes
        assert re.fullmatch(r"999-\d{2}-\d{4}", a["identifier_ssn"]), a["identifier_ssn"]
        assert re.fullmatch(r"555-\d{3}-\d{4}", a["telecom"]), a["telecom"]
        assert re.fullmatch(r"\d{3,4} \S.* \S+( (Apt\.|Suite|Unit) \d{1,2})?", a["address"]), a["address"]
        assert re.fullmatch(r"\d{5}", a["zip"])
        assert a["gender"] in ("M", "F") and a["gender"] == p.gender


def test_income_and_social_class(population: Population, people: list[Person]) -> None:
    brackets = sorted(state_profile("MA").income)
    ints, _ = population.draw(np.arange(N))
    categories = set()
    for p, row in zip(people, ints, strict=True):
        a = p.attributes
        lo, hi = brackets[int(row[s.I_INCOME])]
        assert lo <= a["income"] <= hi
        assert a["poverty_ratio"] == a["income"] / POVERTY
        expected_level = min(max((a["income"] - POVERTY) / (HIGH_INCOME - POVERTY), 0.0), 1.0)
        assert a["income_level"] == pytest.approx(expected_level, abs=1e-12)
        score = 0.2 * a["income_level"] + 0.7 * a["education_level"] + 0.1 * a["occupation_level"]
        assert a["socioeconomic_score"] == pytest.approx(score, abs=1e-12)
        band = {"less_than_hs": (0.0, 0.5), "hs_degree": (0.1, 0.75), "some_college": (0.3, 0.85),
                "bs_degree": (0.5, 1.0)}[a["education"]]
        assert band[0] <= a["education_level"] <= band[1]
        expected = "High" if score >= 0.66 else "Middle" if score >= 0.25 else "Low"
        assert a["socioeconomic_category"] == expected
        categories.add(expected)
    assert categories == {"High", "Middle", "Low"}


def test_birthplaces_follow_language(population: Population, people: list[Person]) -> None:
    ma_cities = {c.name for c in population.tables.geography.cities}
    languages = {p.attributes["first_language"] for p in people}
    assert {"english", "spanish"} <= languages
    for p in people:
        a = p.attributes
        if a["first_language"] == "spanish":
            assert a["birth_country"] != "US"
        elif a["first_language"] == "english":
            assert (a["birth_state"], a["birth_country"]) == ("MA", "US")
            assert a["birth_city"] in ma_cities
        assert a["birthplace"] == f"{a['birth_city']}, {a['birth_state']}, {a['birth_country']}"


def test_attempts_keep_demographics_and_redraw_death(population: Population) -> None:
    for i in range(25):
        first, again, retry = population.make(i, 0), population.make(i, 0), population.make(i, 1)
        assert first.attributes == again.attributes and first.natural_death == again.natural_death
        for key in ("race", "gender", "city", "ethnicity", "first_language"):
            assert retry.attributes[key] == first.attributes[key], key
        assert retry.birth == first.birth
        assert retry.natural_death != first.natural_death
        for attempt in (1, 2):
            death = population.make(i, attempt).natural_death
            assert death is not None and death >= REF


def test_natural_death_can_be_switched_off() -> None:
    pop = Population(PopulationOptions(seed=1, reference_time=REF, natural_death=False))
    assert pop.make(0).natural_death is None
