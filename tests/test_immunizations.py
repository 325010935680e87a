"""Routine immunization schedule (§4.7) and COVID-19 primary-series vaccination (§4.5)."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.builtin import covid19_immunization as c19
from simulator.builtin.immunizations import (
    BY_KEY,
    SCHEDULE,
    due_vaccines,
    give_immunizations,
    is_due,
)
from simulator.engine import timeutil as tu
from simulator.engine.person import Person
from simulator.payers.prices import IMMUNIZATION_COST
from simulator.record import Code, Encounter

WELLNESS_MONTHS = [0, 1, 2, 4, 6, 9, 12, 15, 18, 24, 30, 36] + [12 * y for y in range(4, 20)]


class FakeSim:
    def __init__(self, person: Person) -> None:
        self.env = simpy.Environment(initial_time=person.birth)
        self.person = person
        self.doses: list[tuple[int, Code, int]] = []

    @property
    def now(self) -> int:
        return self.env.now  # type: ignore[return-value]

    def record_engine_immunization(self, code: Code, series: int) -> None:
        self.doses.append((self.now, code, series))


class Clock:
    """Just enough of a PersonSim for give_immunizations: a person and a settable time."""

    def __init__(self, person: Person) -> None:
        self.person = person
        self.now = person.birth


def _person(birth: int, seed: int = 1) -> Person:
    return Person(0, seed, birth, {"gender": "F"})


def _visit_all(birth: int, months: list[int]) -> tuple[Person, list[Encounter]]:
    person = _person(birth)
    clock = Clock(person)
    encounters = []
    for m in months:
        clock.now = tu.age_reached_ms(birth, m)
        enc = Encounter(id=f"e{m}", start=clock.now, codes=[])
        give_immunizations(clock, enc)
        encounters.append(enc)
    return person, encounters


def _ages(person: Person, key: str) -> list[int]:
    return [tu.age_months(person.birth, t) for t in person.attributes["immunizations"].get(key, [])]


# ---------------------------------------------------------------- routine schedule


def test_schedule_rows() -> None:
    assert len(SCHEDULE) == 18
    assert len({v.key for v in SCHEDULE}) == 18
    assert all(v.code.system == "CVX" for v in SCHEDULE)
    flu = BY_KEY["flu"].ages_months
    assert len(flu) == 101 and flu[0] == 6 and flu[-1] == 1206
    assert all(b - a == 12 for a, b in zip(flu, flu[1:], strict=False))
    assert BY_KEY["dtap"].code.code == "20" and BY_KEY["mmr"].code.code == "03"


def test_child_born_2015_on_wellness_schedule() -> None:
    person, encounters = _visit_all(tu.ymd_ms(2015, 3, 10), WELLNESS_MONTHS)
    assert _ages(person, "dtap") == [2, 4, 6, 15, 48]
    assert _ages(person, "mmr") == [12, 48]
    assert _ages(person, "hepb") == [0, 1, 6]
    assert _ages(person, "ipv") == [2, 4, 6, 48]
    assert _ages(person, "rv_mono") == [2, 4]
    assert _ages(person, "hpv") == [132, 144, 156]  # 134 and 138 fall between yearly visits
    # flu: every year once the 6-month dose is given (visits at 6, 18, 30, then yearly)
    assert _ages(person, "flu")[:4] == [6, 18, 30, 48]
    assert _ages(person, "flu")[4:] == list(range(60, 12 * 20, 12))
    dtap = [i for e in encounters for i in e.immunizations if i.codes[0].code == "20"]
    assert [i.series for i in dtap] == [1, 2, 3, 4, 5]
    assert all(i.cost == IMMUNIZATION_COST for i in dtap)


def test_nothing_before_first_available_year() -> None:
    birth = tu.ymd_ms(2004, 1, 1)
    person, _ = _visit_all(birth, WELLNESS_MONTHS)
    given_times = person.attributes["immunizations"]
    for key, times in given_times.items():
        assert all(t >= BY_KEY[key].available_from for t in times), key
    # rotavirus appeared in 2006, when this child was 24 months old: caught up then
    assert _ages(person, "rv_mono") == [24, 30]
    # PCV13 (2010) came too late for the childhood doses of someone born in 1990
    person90, _ = _visit_all(tu.ymd_ms(1990, 5, 1), WELLNESS_MONTHS + [12 * y for y in range(20, 40)])
    assert _ages(person90, "pcv13") == []


def test_catch_up_window_is_four_years() -> None:
    birth = tu.ymd_ms(2000, 6, 15)
    at_10 = tu.age_reached_ms(birth, 120)
    # never vaccinated: every childhood dose is more than 48 months overdue, only flu remains
    assert [v.key for v in due_vaccines(birth, at_10, {})] == ["flu"]
    at_11 = tu.age_reached_ms(birth, 132)
    assert [v.key for v in due_vaccines(birth, at_11, {})] == ["flu", "men", "tdap", "hpv"]
    dtap = BY_KEY["dtap"]
    assert is_due(dtap, birth, tu.age_reached_ms(birth, 51), [])  # 4- and 6-month doses still in window
    assert not is_due(dtap, birth, tu.age_reached_ms(birth, 96), [])


def test_adult_doses() -> None:
    birth = tu.ymd_ms(1960, 2, 1)
    due_at = {m: [v.key for v in due_vaccines(birth, tu.age_reached_ms(birth, m), {})] for m in (600, 780, 792)}
    assert "zoster" in due_at[600]
    assert "pcv13" in due_at[780] and "ppsv23" not in due_at[780]
    assert "ppsv23" in due_at[792]
    # zoster (2006) is not offered to someone who was 50 in 2000 and 56 in 2006
    old = tu.ymd_ms(1950, 2, 1)
    assert not is_due(BY_KEY["zoster"], old, tu.ymd_ms(2006, 6, 1), [])


def test_give_immunizations_records_and_remembers() -> None:
    person = _person(tu.ymd_ms(2015, 3, 10))
    clock = Clock(person)
    clock.now = tu.age_reached_ms(person.birth, 2)
    enc = Encounter(id="e", start=clock.now, codes=[])
    give_immunizations(clock, enc)
    keys = [i.name for i in enc.immunizations]
    assert keys == ["hepb", "rv_mono", "dtap", "hib", "pcv13", "ipv"]  # hepb's birth dose caught up
    assert len({i.id for i in enc.immunizations}) == len(keys)
    assert all(i.start == clock.now and i.series == 1 for i in enc.immunizations)
    assert person.attributes["immunizations"]["dtap"] == [clock.now]
    # a second visit at the same instant: only hepb, whose 1-month dose is also due by now
    enc2 = Encounter(id="e2", start=clock.now, codes=[])
    give_immunizations(clock, enc2)
    assert [(i.name, i.series) for i in enc2.immunizations] == [("hepb", 2)]


@settings(max_examples=150, deadline=None)
@given(
    birth_day=st.integers(min_value=tu.ymd_ms(1930, 1, 1) // tu.DAY, max_value=tu.ymd_ms(2020, 1, 1) // tu.DAY),
    months=st.lists(st.integers(min_value=0, max_value=1250), min_size=1, max_size=60, unique=True),
)
def test_property_never_too_many_or_too_early(birth_day: int, months: list[int]) -> None:
    birth = birth_day * tu.DAY
    person, _ = _visit_all(birth, sorted(months))
    for key, times in person.attributes.get("immunizations", {}).items():
        vaccine = BY_KEY[key]
        assert len(times) <= len(vaccine.ages_months)
        for n, t in enumerate(times):
            assert t >= vaccine.available_from
            assert tu.age_months(birth, t) >= vaccine.ages_months[n], (key, n)


# ---------------------------------------------------------------- COVID-19


def _run_covid(birth: int, seed: int, until: int, death: int | None = None) -> FakeSim:
    person = _person(birth, seed)
    person.deathdate = death
    sim = FakeSim(person)
    sim.env.process(c19.covid19_immunization(sim))
    sim.env.run(until=until)
    return sim


def _plans(birth_years: range, n: int, seed: int = 7) -> list[tuple[int, c19.Plan | None]]:
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        birth = tu.ymd_ms(rng.choice(birth_years), rng.randint(1, 12), rng.randint(1, 28))
        out.append((birth, c19.plan_vaccination(birth, rng.random(), rng.random() < c19.PFIZER_SHARE)))
    return out


def test_coverage_curves_never_decrease() -> None:
    for group in c19.GROUPS:
        values = [group.coverage(t) for t in range(c19.PROGRAM_START, c19.DATA_END + tu.WEEK, tu.DAY)]
        assert all(b >= a for a, b in zip(values, values[1:], strict=False)), group
        assert 0.0 <= values[-1] <= 100.0
    assert 0.2 < c19.SENIOR_SHARE_OF_ADULTS < 0.25


def test_born_after_programme_start_not_eligible() -> None:
    sim = _run_covid(tu.ymd_ms(2021, 1, 1), 1, tu.ymd_ms(2023, 1, 1))
    assert sim.person.get("C19_VACCINE_STATUS") == "not_eligible"
    assert sim.doses == []
    toddler = _run_covid(tu.ymd_ms(2019, 6, 1), 1, tu.ymd_ms(2023, 1, 1))  # under 5 throughout
    assert toddler.person.get("C19_VACCINE_STATUS") == "not_eligible" and toddler.doses == []


def test_seniors_follow_published_coverage() -> None:
    plans = _plans(range(1930, 1950), 600)
    assert all(p is None or p.first >= c19.PROGRAM_START for _, p in plans)
    by_july = sum(1 for _, p in plans if p is not None and p.second <= c19._d(2021, 7, 22)) / len(plans)
    assert by_july == pytest.approx(0.796, abs=0.06)
    ever = sum(1 for _, p in plans if p is not None) / len(plans)
    assert ever == pytest.approx(0.87, abs=0.05)


def test_adults_18_64_follow_derived_coverage() -> None:
    plans = _plans(range(1962, 2000), 600)
    by_aug = sum(1 for _, p in plans if p is not None and p.second <= c19._d(2021, 8, 26)) / len(plans)
    assert by_aug == pytest.approx(c19.adults_18_64(c19._d(2021, 8, 26)) / 100, abs=0.07)
    codes = {p.vaccine.code for _, p in plans if p is not None}
    assert codes == {"207", "208"}


def test_children_and_adolescents_wait_for_eligibility() -> None:
    kids = _plans(range(2010, 2016), 400)
    for birth, p in kids:
        if p is None:
            continue
        assert p.vaccine.code == "208"  # Pfizer only under 18
        assert p.second - p.first == 21 * tu.DAY
        age = tu.age_years(birth, p.first)
        assert age >= 5
        if age < 12:
            assert p.first >= c19._d(2021, 11, 2)
        elif age < 16:
            assert p.first >= c19._d(2021, 5, 10)
        else:
            assert p.first >= c19._d(2021, 4, 19)
    assert all(p is None or p.first >= c19._d(2021, 4, 19) for _, p in kids)


def test_process_sets_attributes_and_records_two_doses() -> None:
    birth = tu.ymd_ms(1945, 5, 5)
    sims = [_run_covid(birth, seed, tu.ymd_ms(2023, 1, 1)) for seed in range(40)]
    vaccinated = [s for s in sims if s.doses]
    assert vaccinated and len(vaccinated) < len(sims)
    for sim in vaccinated:
        attrs = sim.person.attributes
        (t1, code1, s1), (t2, code2, s2) = sim.doses
        assert (s1, s2) == (1, 2) and code1 == code2
        assert t1 == attrs["C19_SCHEDULED_FIRST_SHOT"] and t2 == attrs["C19_SCHEDULED_SECOND_SHOT"]
        assert t2 - t1 == c19.INTERVAL_DAYS[code1.code] * tu.DAY
        assert attrs["C19_VACCINE"] == code1.code
        assert attrs["C19_VACCINE_STATUS"] == "vaccinated"
        assert attrs["C19_FULLY_VACCINATED"] is True
    for sim in sims:
        if not sim.doses:
            assert sim.person.get("C19_FULLY_VACCINATED") is False
            assert sim.person.get("C19_VACCINE_STATUS") == "not_eligible"


def test_status_while_waiting_and_after_first_dose() -> None:
    birth = tu.ymd_ms(1945, 5, 5)
    # a person whose first dose comes after the programme starts (the decision is taken then)
    seed = next(s for s in range(100)
                if (doses := _run_covid(birth, s, tu.ymd_ms(2023, 1, 1)).doses)
                and doses[0][0] > c19.PROGRAM_START)
    first = _run_covid(birth, seed, tu.ymd_ms(2023, 1, 1)).doses[0][0]
    waiting = _run_covid(birth, seed, first)
    assert waiting.person.get("C19_VACCINE_STATUS") == "waiting" and waiting.doses == []
    between = _run_covid(birth, seed, first + tu.DAY)
    assert between.person.get("C19_VACCINE_STATUS") == "vaccinated"
    assert between.person.get("C19_FULLY_VACCINATED") is False
    dead = _run_covid(birth, seed, tu.ymd_ms(2023, 1, 1), death=first - tu.DAY)
    assert dead.doses == []
