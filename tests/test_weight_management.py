"""Weight management (engine-behaviour.md §4.5, Weight Loss)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy

from simulator.builtin import weight_management as wm
from simulator.engine import timeutil as tu
from simulator.engine.person import Person

BIRTH = tu.ymd_ms(1980, 4, 15)


class FakeSim:
    def __init__(self, person: Person, bmi: float = 22.0, weight: float = 80.0) -> None:
        self.env = simpy.Environment(initial_time=person.birth)
        self.person = person
        self.vitals = {"BMI": bmi, "Weight": weight}
        self.reads: list[str] = []

    @property
    def now(self) -> int:
        return self.env.now  # type: ignore[return-value]

    def read_vital(self, frame: Any, name: str) -> float:
        assert frame is None
        self.reads.append(name)
        return self.vitals[name]


def _sim(seed: int = 1, bmi: float = 22.0, percentile: float | None = None, birth: int = BIRTH) -> FakeSim:
    attrs: dict[str, Any] = {"gender": "M"}
    if percentile is not None:
        attrs["bmi_percentile"] = percentile
    sim = FakeSim(Person(0, seed, birth, attrs), bmi=bmi)
    sim.env.process(wm.weight_management(sim))
    return sim


def _at(birth: int, years: int, days: int = 0) -> int:
    return tu.age_reached_ms(birth, years * 12) + days * tu.DAY


def _managed(years: float, adherent: bool = True, long_term: bool = False, loss: float = 0.08) -> dict[str, Any]:
    return {
        wm.ACTIVE: True,
        "weight_management_start": 0,
        "weight_loss_adherence": adherent,
        "long_term_weight_loss": long_term,
        "weight_loss_percentage": loss,
    }


def test_obesity_thresholds() -> None:
    assert not wm.obese(4, 40.0, 99.0)
    assert wm.obese(5, None, 95.0) and not wm.obese(5, None, 94.9)
    assert not wm.obese(19, 45.0, 80.0)  # children are judged by percentile only
    assert wm.obese(20, 30.0, None) and not wm.obese(20, 29.9, 99.0)
    assert not wm.obese(12, None, None)


def test_percentile_change_from_z_score_shift() -> None:
    change = wm.percentile_change(97.0)
    assert 1.0 < change < 2.5
    assert wm.percentile_change(50.0) == pytest.approx(7.53, abs=0.05)
    assert wm.percentile_change(99.5) < wm.percentile_change(97.0) < wm.percentile_change(80.0)


@pytest.mark.parametrize(
    ("years", "long_term", "expected"),
    [(0.0, False, 1.0), (0.5, False, 0.96), (1.0, False, 0.92), (3.0, False, 0.96), (5.0, False, 1.0),
     (8.0, False, 1.0), (0.5, True, 0.96), (3.0, True, 0.92), (20.0, True, 0.92)],
)
def test_weight_multiplier(years: float, long_term: bool, expected: float) -> None:
    attrs = _managed(years, long_term=long_term)
    now = int(years * tu.YEAR_365)
    assert wm.weight_multiplier(attrs, now) == pytest.approx(expected)


def test_weight_multiplier_is_one_without_adherence_or_management() -> None:
    assert wm.weight_multiplier(_managed(0.5, adherent=False), tu.YEAR_365 // 2) == 1.0
    assert wm.weight_multiplier({wm.ACTIVE: False}, 0) == 1.0
    assert wm.weight_multiplier({}, 0) == 1.0


def test_adult_start_probability_and_draws() -> None:
    started = []
    for seed in range(1500):
        sim = _sim(seed, bmi=35.0)
        sim.env.run(until=_at(BIRTH, 20, 1))
        if sim.person.get(wm.ACTIVE):
            started.append(sim.person.attributes)
            assert sim.person.get("weight_management_start") == _at(BIRTH, 20)
            assert sim.person.get("pre_management_weight") == 80.0
    assert len(started) / 1500 == pytest.approx(0.493, abs=0.04)
    adherent = sum(a["weight_loss_adherence"] for a in started) / len(started)
    long_term = sum(a["long_term_weight_loss"] for a in started) / len(started)
    assert adherent == pytest.approx(0.605, abs=0.05)
    assert long_term == pytest.approx(0.2, abs=0.04)
    losses = [a["weight_loss_percentage"] for a in started]
    assert all(0.07 <= x <= 0.10 for x in losses)
    assert min(losses) < 0.075 and max(losses) > 0.095


def test_not_obese_adult_never_starts() -> None:
    sim = _sim(3, bmi=29.9)
    sim.env.run(until=_at(BIRTH, 60))
    assert not sim.person.get(wm.ACTIVE)
    assert "weight_management_start" not in sim.person.attributes


def test_children_checked_from_age_five_by_percentile() -> None:
    seen_start_ages = set()
    for seed in range(60):
        sim = _sim(seed, percentile=99.0)
        sim.env.run(until=_at(BIRTH, 5) - tu.DAY)
        assert not sim.person.get(wm.ACTIVE)
        sim.env.run(until=_at(BIRTH, 20) - tu.DAY)
        start = sim.person.get("weight_management_start")
        if start is not None:
            seen_start_ages.add(tu.age_years(BIRTH, start))
            assert start == _at(BIRTH, tu.age_years(BIRTH, start))  # on a birthday
            assert "BMI" not in sim.reads  # children are judged by percentile
    assert min(seen_start_ages) == 5


def test_adherent_child_gets_percentile_offset_until_twenty() -> None:
    for seed in range(200):
        sim = _sim(seed, percentile=97.0)
        sim.env.run(until=_at(BIRTH, 6))
        attrs = sim.person.attributes
        if attrs.get(wm.ACTIVE) and attrs["weight_loss_adherence"]:
            break
    else:
        pytest.fail("no adherent child in 200 seeds")
    assert wm.bmi_percentile_offset(attrs) == pytest.approx(wm.percentile_change(97.0))
    sim.env.run(until=_at(BIRTH, 20) + tu.DAY)
    assert not attrs[wm.ACTIVE]
    assert wm.bmi_percentile_offset(attrs) == 0.0


def test_trigger_starts_management_between_birthdays() -> None:
    sim = _sim(5, bmi=22.0)
    when = _at(BIRTH, 30, 100)

    def set_trigger() -> Generator[Any, Any, None]:
        yield sim.env.timeout(when - sim.now)
        sim.person.set(wm.TRIGGER, True)

    sim.env.process(set_trigger())
    sim.env.run(until=when + tu.DAY)
    assert sim.person.get(wm.ACTIVE)
    assert sim.person.get("weight_management_start") == when


def test_episode_lengths() -> None:
    outcomes: dict[str, int] = {}
    for seed in range(300):
        sim = _sim(seed, bmi=35.0)
        sim.env.run(until=_at(BIRTH, 20, 1))
        attrs = sim.person.attributes
        if not attrs.get(wm.ACTIVE):
            continue
        start = attrs["weight_management_start"]
        kind = ("long_term" if attrs["long_term_weight_loss"] else "regain") if attrs[
            "weight_loss_adherence"] else "non_adherent"
        if kind in outcomes:
            continue
        outcomes[kind] = seed
        expected_end = {"non_adherent": start + tu.YEAR_365, "regain": start + 5 * tu.YEAR_365}.get(kind)
        if expected_end is None:
            sim.env.run(until=start + 30 * tu.YEAR_365)
            assert attrs[wm.ACTIVE] and attrs["weight_management_start"] == start
        else:
            sim.env.run(until=expected_end - tu.DAY)
            assert attrs[wm.ACTIVE]
            sim.env.run(until=expected_end + tu.DAY)
            assert not attrs[wm.ACTIVE]
    assert set(outcomes) == {"long_term", "regain", "non_adherent"}
