"""The compiled engine's ports of the plan choice (compiled.insurance) and the cardiovascular
risk scores (compiled.cardio) give exactly what the reference's Python gives."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.builtin import cardiovascular as cv
from simulator.compiled import cardio as cd
from simulator.compiled import expr as ex
from simulator.compiled import insurance as ins
from simulator.payers.insurance import choose_plan
from simulator.payers.plans import load_payers

CATALOG = load_payers()
PLANS = ins.plans_in_order(CATALOG)
ARRAYS = ins.catalog_arrays(CATALOG, lambda text: 0)

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@settings(max_examples=400, deadline=None)
@given(st.lists(finite, min_size=0, max_size=14))
def test_fsum_is_math_fsum(values: list[float]) -> None:
    """The ASCVD score sums its terms with expr._fsum."""
    assert ex._fsum(np.array(values, dtype=np.float64), np.empty(len(values))) == (
        True, math.fsum(values))


def _flags(draw: Any) -> dict[str, bool]:
    names = ("smoker", "diabetes", "hypertension", "blood_pressure_controlled",
             "left_ventricular_hypertrophy", "coronary_heart_disease")
    return {name: draw(st.booleans()) for name in names}


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_cardio_risks_match_the_reference(data: Any) -> None:
    age = data.draw(st.integers(min_value=0, max_value=110))
    female = data.draw(st.booleans())
    black = data.draw(st.booleans())
    flags = _flags(data.draw)
    has_af = data.draw(st.booleans())
    vitals = {"Systolic Blood Pressure": data.draw(st.floats(80, 220)),
              "Total Cholesterol": data.draw(st.floats(100, 350)),
              "HDL": data.draw(st.floats(20, 100)), "BMI": data.draw(st.floats(14, 60))}
    attrs: dict[str, Any] = {"gender": "F" if female else "M", "race": "black" if black else
                             "white", **flags}
    if has_af:
        attrs["atrial_fibrillation"] = True
    person = SimpleNamespace(birth=0, get=lambda name, default=None: attrs.get(name, default))
    now = int((age + 0.5) * 365.2425 * 86_400_000)
    from simulator.engine import timeutil as tu

    age = tu.age_years(0, now)
    expected = cv.cardiovascular_attributes(person, now, vitals.__getitem__)
    got = cd.risks(age, female, black, flags["smoker"], flags["diabetes"],
                   flags["hypertension"], has_af, flags["blood_pressure_controlled"],
                   flags["left_ventricular_hypertrophy"], flags["coronary_heart_disease"],
                   has_af, vitals["Systolic Blood Pressure"], vitals["Total Cholesterol"],
                   vitals["HDL"], vitals["BMI"])
    assert [expected[name] for name in cv.CARDIO_ATTRIBUTES] == list(got)


numbers = st.one_of(st.none(), st.booleans(), st.integers(0, 400_000),
                    st.floats(0, 400_000, allow_nan=False))


@settings(max_examples=600, deadline=None)
@given(age=st.integers(0, 100), year=st.integers(1950, 2030), u=st.floats(0, 0.999999),
       coverage=st.floats(0, 0.999999),
       previous=st.integers(-1, len(PLANS) - 1), state=st.sampled_from(["MA", "TX", "CA", "FL",
                                                                         "WI", "ZZ"]),
       income=numbers, occupation=st.one_of(st.none(), st.floats(0, 1)), ratio=numbers,
       flags=st.lists(st.one_of(st.none(), st.booleans(), st.sampled_from(["", "yes"])),
                      min_size=4, max_size=4))
def test_plan_choice_matches_the_reference(age: int, year: int, u: float, coverage: float,
                                           previous: int,
                                           state: str, income: Any, occupation: Any,
                                           ratio: Any, flags: list[Any]) -> None:
    attributes: dict[str, Any] = {}
    for name, value in (("income", income), ("occupation_level", occupation),
                        ("poverty_ratio", ratio), *zip(ins.FACT_ATTRIBUTES[2:], flags,
                                                       strict=True)):
        if value is not None:
            attributes[name] = value
    expected = choose_plan(CATALOG, age=age, year=year, state_abbreviation=state,
                           attributes=attributes, previous=PLANS[previous] if previous >= 0
                           else None, u=u, coverage=coverage)
    facts = np.zeros(ins.N_FACTS)
    for i, value in enumerate((income, ratio)):
        if isinstance(value, int | float):
            facts[2 * i], facts[2 * i + 1] = 1.0, float(value)
    for i, value in enumerate(flags):
        facts[ins.F_ESRD + i] = float(bool(value))
    person = np.zeros(6)
    person[1:5] = ins.state_params(CATALOG, state)
    got = ins.choose_plan(ARRAYS["PLAN"], ARRAYS["plan_f"], ARRAYS["prem_year"],
                          ARRAYS["prem_amount"], ARRAYS["plan_rules"], age, year, u, coverage, previous,
                          person, facts)
    assert PLANS[got] is expected
