"""Conditions (module-format.md §9, §9.1, §11): all 21 condition types and the comparison
rules, evaluated in conditional transitions and Guards."""

from __future__ import annotations

import pytest

from simulator.engine import timeutil as tu
from simulator.errors import SimulationError
from simulator.gmf.loader import ModuleLoadError

from .gmf import (
    DAY,
    HOUR,
    WEEK,
    age_cond,
    check_condition,
    code,
    cond_attr,
    delay,
    delay_days,
    encounter,
    encounter_end,
    guard,
    initial,
    mark,
    mark_time,
    module,
    onset,
    pairs,
    run,
    set_attr,
    simple,
)

TRUE = {"condition_type": "True"}
FALSE = {"condition_type": "False"}
# comparing a string attribute with a number is a runtime error (§9.1 rule 7): a tripwire
# showing whether a sub-condition was evaluated
BAD = cond_attr("text", ">", 5)
TEXT_SETUP = {"Setup": set_attr("text", "abc", "Check")}


def _all(condition: dict, setup: dict | None = None, population: int = 3, **kwargs) -> bool:
    """The single result shared by every person (asserts they agree)."""
    values, _ = check_condition(condition, setup=setup, population=population, **kwargs)
    assert len(set(values)) == 1, values
    return values[0]


# ---------------------------------------------------------------- And / Or / Not / At Least / At Most


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (TRUE, True),
        (FALSE, False),
        ({"condition_type": "And", "conditions": [TRUE, TRUE, TRUE]}, True),
        ({"condition_type": "And", "conditions": [TRUE, FALSE, TRUE]}, False),
        ({"condition_type": "Or", "conditions": [FALSE, FALSE, TRUE]}, True),
        ({"condition_type": "Or", "conditions": [FALSE, FALSE]}, False),
        ({"condition_type": "Not", "condition": FALSE}, True),
        ({"condition_type": "Not", "condition": TRUE}, False),
        ({"condition_type": "At Least", "minimum": 2, "conditions": [TRUE, FALSE, TRUE]}, True),
        ({"condition_type": "At Least", "minimum": 3, "conditions": [TRUE, FALSE, TRUE]}, False),
        ({"condition_type": "At Least", "minimum": 0, "conditions": [FALSE]}, True),
        ({"condition_type": "At Most", "maximum": 1, "conditions": [TRUE, FALSE, FALSE]}, True),
        ({"condition_type": "At Most", "maximum": 1, "conditions": [TRUE, FALSE, TRUE]}, False),
        ({"condition_type": "At Most", "maximum": 0, "conditions": [FALSE, FALSE]}, True),
        ({"condition_type": "And", "conditions": [
            {"condition_type": "Or", "conditions": [FALSE, TRUE]},
            {"condition_type": "Not", "condition": {"condition_type": "And", "conditions": [TRUE, FALSE]}}]},
         True),
    ],
)
def test_logical_conditions(condition, expected):
    assert _all(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"condition_type": "And", "conditions": [FALSE, BAD]}, False),  # stops at first false
        ({"condition_type": "Or", "conditions": [TRUE, BAD]}, True),  # stops at first true
    ],
    ids=["and", "or"],
)
def test_and_or_short_circuit(condition, expected):
    assert _all(condition, setup=TEXT_SETUP) is expected


@pytest.mark.parametrize(
    "condition",
    [
        {"condition_type": "And", "conditions": [TRUE, BAD]},
        {"condition_type": "Or", "conditions": [FALSE, BAD]},
        {"condition_type": "At Least", "minimum": 1, "conditions": [TRUE, BAD]},  # all evaluated
        {"condition_type": "At Most", "maximum": 5, "conditions": [TRUE, BAD]},  # all evaluated
    ],
    ids=["and", "or", "at-least", "at-most"],
)
def test_sub_conditions_that_are_evaluated_raise(condition):
    with pytest.raises(SimulationError):
        check_condition(condition, setup=TEXT_SETUP, population=1)


# ---------------------------------------------------------------- Gender / SES / Race


@pytest.mark.parametrize(
    ("run_gender", "gender", "expected"),
    [("F", "F", True), ("M", "F", False), ("M", "M", True), ("F", "f", False)],
)
def test_gender_condition(run_gender, gender, expected):
    assert _all({"condition_type": "Gender", "gender": gender}, gender=run_gender) is expected


@pytest.mark.parametrize("category", ["Low", "Middle", "High"])
def test_socioeconomic_status_condition(category):
    values, result = check_condition(
        {"condition_type": "Socioeconomic Status", "category": category}, population=150)
    expected = [p.attributes["socioeconomic_category"] == category for p in result.people]
    assert values == expected
    assert any(values)


def test_race_condition_is_case_insensitive():
    for race in ("White", "WHITE", "white"):
        values, result = check_condition({"condition_type": "Race", "race": race}, population=60)
        assert values == [p.attributes["race"] == "white" for p in result.people]
        assert True in values and False in values
    # Hispanic is an ethnicity, never a race
    assert _all({"condition_type": "Race", "race": "Hispanic"}, population=60) is False


def test_ethnicity_through_the_attribute_condition():
    values, result = check_condition(cond_attr("ethnicity", "==", "hispanic"), population=100)
    assert values == [p.attributes["ethnicity"] == "hispanic" for p in result.people]


# ---------------------------------------------------------------- Age / Date

JUNE_2019 = {"year": 2019, "month": 6, "day": 1, "hour": 0, "minute": 0, "second": 0, "millisecond": 0}
AT_JUNE_2019 = {"Setup": guard({"condition_type": "Date", "operator": ">=", "date": JUNE_2019}, "Check")}


@pytest.mark.parametrize(
    ("operator", "quantity", "unit"),
    [("<", 5, "years"), (">=", 5, "years"), ("==", 4, "years"), (">", 60, "months"),
     ("<=", 48, "months"), ("!=", 5, "years")],
)
def test_age_condition(operator, quantity, unit):
    values, result = check_condition(age_cond(operator, quantity, unit), setup=AT_JUNE_2019,
                                     population=60, age=(4, 7))
    at = tu.ymd_ms(2019, 6, 1)
    ops = {"<": int.__lt__, ">=": int.__ge__, "==": int.__eq__, ">": int.__gt__, "<=": int.__le__,
           "!=": int.__ne__}
    expected = []
    for p in result.people:
        age = tu.age_years(p.birth, at) if unit == "years" else tu.age_months(p.birth, at)
        expected.append(ops[operator](age, quantity))
    assert values == expected
    assert True in values and False in values


def test_age_in_months_is_total_completed_months():
    # A person checked 18 months after birth (exactly, at midnight) is 18 months old, and not a
    # day before.
    m = module({
        "Initial": initial("Wait"),
        "Wait": guard(age_cond(">=", 18, "months"), "Check"),
        "Check": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "And", "conditions": [
                age_cond("==", 18, "months"), age_cond("==", 1, "years")]}, "transition": "Yes"},
            {"transition": "Terminal"}]},
        "Yes": set_attr("ok", True, "Terminal"),
    })
    for person in run(m, population=10, age=(3, 4)).people:
        assert person.attributes["ok"] is True


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"year": 2019, "operator": "=="}, True),
        ({"year": 2019, "operator": ">"}, False),
        ({"year": 2020, "operator": "<"}, True),
        ({"month": 6, "operator": "=="}, True),
        ({"month": 5, "operator": ">"}, True),
        ({"month": 7, "operator": ">="}, False),
        ({"date": JUNE_2019, "operator": ">="}, True),
        ({"date": JUNE_2019, "operator": ">"}, False),
        ({"date": {**JUNE_2019, "millisecond": 1}, "operator": "<"}, True),
        # lenient calendar: day 0 is the last day of the previous month
        ({"date": {**JUNE_2019, "month": 7, "day": 0}, "operator": "<"}, True),
        ({"date": {**JUNE_2019, "day": 0}, "operator": "<"}, False),
        # precedence year → month → date
        ({"year": 2019, "month": 1, "date": {**JUNE_2019, "year": 2030}, "operator": "=="}, True),
        ({"month": 6, "date": {**JUNE_2019, "year": 2030}, "operator": "=="}, True),
    ],
)
def test_date_condition(condition, expected):
    assert _all({"condition_type": "Date", **condition}, setup=AT_JUNE_2019, age=(3, 4)) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"operator": ">=", "year": 2019}, tu.ymd_ms(2019, 1, 1)),
        ({"operator": "==", "month": 6}, tu.ymd_ms(2018, 6, 1)),
        ({"operator": ">=", "date": JUNE_2019}, tu.ymd_ms(2019, 6, 1)),
        ({"operator": ">", "date": JUNE_2019}, tu.ymd_ms(2019, 6, 1) + 1),
        ({"operator": ">=", "date": {**JUNE_2019, "month": 3, "day": 0, "hour": 7}},
         tu.ymd_ms(2019, 2, 28) + 7 * HOUR),
    ],
)
def test_guard_on_date_wakes_exactly(condition, expected):
    m = module({
        "Initial": initial("Start"),
        "Start": guard({"condition_type": "Date", "operator": ">=", "year": 2018}, "Wait"),
        "Wait": guard({"condition_type": "Date", **condition}, "Hit"),
        "Hit": mark("hit", "Terminal"),
    })
    for _, record in pairs(run(m, population=5, age=(3, 4))):
        assert mark_time(record, "hit") == expected


# ---------------------------------------------------------------- Symptom


@pytest.mark.parametrize(
    ("symptom", "operator", "value", "expected"),
    [("Cough", ">=", 40, True), ("Cough", ">", 40, False), ("Cough", "==", 40, True),
     ("Cough", "<", 40.5, True), ("Fever", "==", 0, True), ("Fever", ">", 0, False)],
)
def test_symptom_condition(symptom, operator, value, expected):
    setup = {"Setup": {"type": "Symptom", "symptom": "Cough", "exact": {"quantity": 40},
                       "direct_transition": "Check"}}
    cond = {"condition_type": "Symptom", "symptom": symptom, "operator": operator, "value": value}
    assert _all(cond, setup=setup) is expected


# ---------------------------------------------------------------- Attribute (§9.1)


def _attr_setup(value):
    if value is _MISSING:
        return None
    if value == "counter":
        return {"Setup": {"type": "Counter", "attribute": "x", "action": "increment",
                          "direct_transition": "Check"}}
    return {"Setup": set_attr("x", value, "Check")}


_MISSING = object()


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        # rule 1/2: nil tests; a missing left operand is false for every other operator
        (_MISSING, "is nil", None, True),
        (_MISSING, "is not nil", None, False),
        (_MISSING, "==", 5, False),
        (_MISSING, "!=", 5, False),
        (_MISSING, "<", 5, False),
        (_MISSING, ">=", 5, False),
        (3, "is nil", None, False),
        (3, "is not nil", None, True),
        # rule 3: numbers compare as doubles
        (3, "==", 3.0, True),
        (3, "!=", 3, False),
        (2, "<", 2.5, True),
        (2.5, ">=", 2.5, True),
        (2.5, ">", 2.5, False),
        (3, "<=", -1, False),
        ("counter", "==", 1, True),  # Counter stores 1.0
        # rule 4: booleans; <, <=, >, >= all mean "not equal"
        (True, "==", True, True),
        (True, "==", False, False),
        (True, "!=", False, True),
        (True, "<", False, True),
        (True, "<", True, False),
        (False, ">", True, True),
        (True, ">=", True, False),
        (True, "<=", False, True),
        # rule 5: strings, lexicographic by UTF-16 code units, case-sensitive
        ("foo", "==", "foo", True),
        ("Foo", "==", "foo", False),
        ("abc", "<", "abd", True),
        ("B", "<", "a", True),
        ("b", ">", "abc", True),
        ("x", "!=", "y", True),
        ("abc", ">=", "abc", True),
    ],
)
def test_attribute_comparison_rules(left, operator, right, expected):
    assert _all(cond_attr("x", operator, right), setup=_attr_setup(left)) is expected


@pytest.mark.parametrize(
    ("left", "right"),
    [("text", True), (3, "3"), ("text", 5), (True, 1)],
)
def test_attribute_comparison_of_mismatched_types_is_a_runtime_error(left, right):
    with pytest.raises(SimulationError):
        check_condition(cond_attr("x", "==", right), setup=_attr_setup(left), population=1)


def test_attribute_holding_a_record_entry_compared_with_a_number_is_an_error():
    setup = {"Setup": onset("1234", "Check", assign_to_attribute="x")}
    assert _all(cond_attr("x", "is not nil"), setup=setup) is True
    with pytest.raises(SimulationError):
        check_condition(cond_attr("x", ">", 1), setup=setup, population=1)


def test_unknown_operator_is_a_load_error():
    with pytest.raises(ModuleLoadError):
        check_condition(cond_attr("x", "=~", 1), population=1)


def test_attribute_without_value_is_a_load_error():
    with pytest.raises(ModuleLoadError):
        check_condition({"condition_type": "Attribute", "attribute": "x", "operator": "=="},
                        population=1)


# ---------------------------------------------------------------- Vital Sign


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [(">", 110, True), ("==", 120, True), ("<", 100, False), ("<=", 120, True)],
)
def test_vital_sign_condition_reads_the_current_value(operator, value, expected):
    setup = {"Setup": {"type": "VitalSign", "vital_sign": "Systolic Blood Pressure",
                       "exact": {"quantity": 120}, "direct_transition": "Check"}}
    cond = {"condition_type": "Vital Sign", "vital_sign": "Systolic Blood Pressure",
            "operator": operator, "value": value}
    assert _all(cond, setup=setup) is expected


def test_vital_sign_condition_on_an_engine_vital_sign():
    cond = {"condition_type": "And", "conditions": [
        {"condition_type": "Vital Sign", "vital_sign": "Oxygen Saturation", "operator": ">=", "value": 90},
        {"condition_type": "Vital Sign", "vital_sign": "Oxygen Saturation", "operator": "<=", "value": 99}]}
    assert _all(cond, population=10) is True


def test_vital_sign_never_set_is_a_runtime_error():
    cond = {"condition_type": "Vital Sign", "vital_sign": "Left ventricular Ejection fraction",
            "operator": ">", "value": 50}
    with pytest.raises(SimulationError):
        check_condition(cond, population=1)


def test_unknown_vital_sign_is_a_load_error():
    cond = {"condition_type": "Vital Sign", "vital_sign": "Blood Sugar", "operator": ">", "value": 5}
    with pytest.raises(ModuleLoadError):
        check_condition(cond, population=1)


def test_guard_on_a_vital_sign_polls_weekly():
    waiter = module({
        "Initial": initial("Start"),
        "Start": delay_days(1, "Wait"),
        "Wait": guard({"condition_type": "Vital Sign", "vital_sign": "Left ventricular Ejection fraction",
                       "operator": "<", "value": 30}, "Hit"),
        "Hit": mark("hit", "Terminal"),
    }, name="Waiter")
    setter = module({
        "Initial": initial("Set"),
        "Set": {"type": "VitalSign", "vital_sign": "Left ventricular Ejection fraction",
                "exact": {"quantity": 55}, "direct_transition": "Later"},
        "Later": delay(10, "days", "Drop"),
        "Drop": {"type": "VitalSign", "vital_sign": "Left ventricular Ejection fraction",
                 "exact": {"quantity": 25}, "direct_transition": "Terminal"},
    }, name="Setter")
    for person, record in pairs(run({"setter": setter, "waiter": waiter}, population=5)):
        t = mark_time(record, "hit")
        assert person.birth + 10 * DAY <= t <= person.birth + 17 * DAY
        assert (t - (person.birth + DAY)) % WEEK == 0


# ---------------------------------------------------------------- Observation

HBA1C = code("4548-4", "HbA1c", "LOINC")


def _obs(value: float, to: str, codes=None) -> dict:
    return {"type": "Observation", "category": "laboratory", "unit": "%", "codes": codes or [HBA1C],
            "exact": {"quantity": value}, "direct_transition": to}


def _obs_cond(operator: str, value=None, **extra) -> dict:
    cond = {"condition_type": "Observation", "operator": operator, "codes": [HBA1C], **extra}
    if value is not None:
        cond["value"] = value
    return cond


def test_observation_condition_finds_the_latest_encounters_observation():
    setup = {
        "Setup": delay_days(1, "V1"),
        "V1": encounter("O1"),
        "O1": _obs(5.0, "E1"),
        "E1": encounter_end("Later"),
        "Later": delay_days(1, "V2"),
        "V2": encounter("O2"),
        # within one encounter the first match in recording order wins (§9)
        "O2": _obs(8.0, "O3"),
        "O3": _obs(6.0, "E2"),
        "E2": encounter_end("Check"),
    }
    assert _all(_obs_cond("==", 8.0), setup=setup) is True
    assert _all(_obs_cond(">=", 6.5), setup=setup) is True


def test_observation_condition_nil_and_value_code():
    smoking = code("72166-2", "Tobacco smoking status", "LOINC")
    never = code("266919005", "Never smoked")
    setup = {"Setup": {"type": "Observation", "category": "social-history", "unit": "",
                       "codes": [smoking], "value_code": never, "direct_transition": "Check"}}
    cond = {"condition_type": "Observation", "operator": "==", "codes": [smoking], "value_code": never}
    assert _all(cond, setup=setup) is True
    cond_other = {**cond, "value_code": code("8517006", "Ex-smoker")}
    assert _all(cond_other, setup=setup) is False
    assert _all({**cond, "operator": "is not nil"}, setup=setup) is True
    assert _all(_obs_cond("is nil"), setup=setup) is True


def test_observation_condition_first_code_that_finds_something_wins():
    other = code("2345-7", "Glucose", "LOINC")
    setup = {"Setup": _obs(99.0, "Check", codes=[other])}
    cond = {"condition_type": "Observation", "operator": "==", "value": 99,
            "codes": [HBA1C, other]}
    assert _all(cond, setup=setup) is True


def test_observation_condition_by_missing_attribute_is_false():
    cond = {"condition_type": "Observation", "operator": "is nil", "referenced_by_attribute": "nope"}
    assert _all(cond) is False


def test_observation_condition_without_observation_is_a_runtime_error():
    with pytest.raises(SimulationError):
        check_condition(_obs_cond(">", 5), population=1)


def test_guard_on_an_observation_polls_weekly():
    waiter = module({
        "Initial": initial("Start"),
        "Start": delay(1, "hours", "Wait"),
        "Wait": guard({"condition_type": "And", "conditions": [
            _obs_cond("is not nil"), _obs_cond(">=", 7)]}, "Hit"),
        "Hit": mark("hit", "Terminal"),
    }, name="Waiter")
    recorder = module({
        "Initial": initial("Later"),
        "Later": delay(9, "days", "Obs"),
        "Obs": _obs(7.5, "Terminal"),
    }, name="Recorder")
    for person, record in pairs(run({"recorder": recorder, "waiter": waiter}, population=5)):
        t = mark_time(record, "hit")
        assert person.birth + 9 * DAY <= t <= person.birth + 16 * DAY
        assert (t - (person.birth + HOUR)) % WEEK == 0


# ---------------------------------------------------------------- PriorState


def _prior(name: str, **extra) -> dict:
    return {"condition_type": "PriorState", "name": name, **extra}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (_prior("A"), True),
        (_prior("Z"), False),  # a state of the module that was never entered
        (_prior("Check"), True),  # the state being processed is in the history
        (_prior("A", since="B"), False),  # B came after A
        (_prior("B", since="A"), True),
        (_prior("A", since="A"), False),  # since == name → false
        (_prior("A", within={"quantity": 4, "unit": "days"}), False),  # A exited 5 days ago
        (_prior("A", within={"quantity": 6, "unit": "days"}), True),
        (_prior("A", within={"quantity": 5, "unit": "days"}), False),  # exactly at the cutoff
        (_prior("B", within={"quantity": 1, "unit": "days"}), True),
        (_prior("A", within={"quantity": 1, "unit": "weeks"}, since="B"), False),
    ],
)
def test_prior_state_condition(condition, expected):
    setup = {"Setup": simple("A"), "A": simple("Wait"), "Wait": delay_days(5, "B"),
             "B": simple("Check"), "Z": simple("Check")}
    assert _all(condition, setup=setup) is expected


def test_prior_state_naming_no_state_is_refused():
    # Synthea would run it as always false; we refuse it as the mistake it is (docs/errors.md)
    with pytest.raises(ModuleLoadError, match="PriorState name 'Nowhere' is not a state"):
        _all(_prior("Nowhere"))


def test_prior_state_within_uses_the_fractional_routine():
    # 0.5 years = 182 days; A exited 182.5 days before the check → outside the window
    setup = {"Setup": simple("A"), "A": simple("Wait"), "Wait": delay(182 * 24 + 12, "hours", "Check")}
    assert _all(_prior("A", within={"quantity": 0.5, "unit": "years"}), setup=setup) is False
    setup["Wait"] = delay(181 * 24 + 12, "hours", "Check")
    assert _all(_prior("A", within={"quantity": 0.5, "unit": "years"}), setup=setup) is True


# ---------------------------------------------------------------- Active Condition / Allergy / Medication / CarePlan


def _visit_setup(states: dict, first: str) -> dict:
    return {"Setup": delay_days(1, "Visit"), "Visit": encounter(first), **states}


def _active(kind: str, code_value: str | None = None, attribute: str | None = None,
            system: str = "SNOMED-CT") -> dict:
    cond: dict = {"condition_type": kind}
    if code_value is not None:
        cond["codes"] = [code("0000"), code(code_value, system=system)]  # any listed code
    if attribute is not None:
        cond["referenced_by_attribute"] = attribute
    return cond


CONDITION_SETUP = _visit_setup({
    "Dx": onset("44054006", "Dx2", assign_to_attribute="diabetes"),
    "Dx2": onset("38341003", "Cure", assign_to_attribute="hypertension"),
    "Cure": {"type": "ConditionEnd", "condition_onset": "Dx2", "direct_transition": "Surgery"},
    "Surgery": {"type": "Procedure", "codes": [code("80146002")], "direct_transition": "Rx"},
    "Rx": {"type": "MedicationOrder", "codes": [code("860975", system="RxNorm")],
           "assign_to_attribute": "med", "direct_transition": "Rx2"},
    "Rx2": {"type": "MedicationOrder", "codes": [code("106892", system="RxNorm")],
            "assign_to_attribute": "med2", "direct_transition": "Stop"},
    "Stop": {"type": "MedicationEnd", "medication_order": "Rx2", "direct_transition": "Give"},
    "Give": {"type": "MedicationOrder", "codes": [code("1000", system="RxNorm")],
             "administration": True, "assign_to_attribute": "given", "direct_transition": "Allergy"},
    "Allergy": {"type": "AllergyOnset", "codes": [code("91935009")], "assign_to_attribute": "peanut",
                "direct_transition": "Plan"},
    "Plan": {"type": "CarePlanStart", "codes": [code("698360004")], "assign_to_attribute": "plan",
             "direct_transition": "Plan2"},
    "Plan2": {"type": "CarePlanStart", "codes": [code("443402002")], "assign_to_attribute": "plan2",
              "direct_transition": "Plan_End"},
    "Plan_End": {"type": "CarePlanEnd", "careplan": "Plan2", "direct_transition": "Implant"},
    "Implant": {"type": "Device", "code": code("706004007"), "direct_transition": "End"},
    "End": encounter_end("Check"),
}, "Dx")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (_active("Active Condition", "44054006"), True),
        (_active("Active Condition", attribute="diabetes"), True),
        (_active("Active Condition", "38341003"), False),  # ended
        (_active("Active Condition", attribute="hypertension"), False),
        (_active("Active Condition", attribute="not_set"), False),
        (_active("Active Condition", "44054006", system="ICD-10"), True),  # code string only
        (_active("Active Condition", "80146002"), True),  # procedures stay "present" forever
        (_active("Active Condition", "706004007"), True),  # devices share the present map
        (_active("Active Allergy", "91935009"), True),
        (_active("Active Allergy", attribute="peanut"), True),
        (_active("Active Allergy", "12345"), False),
        (_active("Active Medication", "860975", system="RxNorm"), True),
        (_active("Active Medication", attribute="med"), True),
        (_active("Active Medication", "106892", system="RxNorm"), False),  # ended
        (_active("Active Medication", attribute="med2"), False),
        (_active("Active Medication", attribute="given"), False),  # administration only
        (_active("Active CarePlan", "698360004"), True),
        (_active("Active CarePlan", attribute="plan"), True),
        (_active("Active CarePlan", "443402002"), False),  # ended
        (_active("Active CarePlan", attribute="plan2"), False),
        (_active("Active CarePlan", attribute="not_set"), False),
    ],
)
def test_active_entry_conditions(condition, expected):
    assert _all(condition, setup=CONDITION_SETUP) is expected


@pytest.mark.parametrize("kind", ["Active Condition", "Active Allergy", "Active Medication",
                                  "Active CarePlan"])
def test_active_condition_needs_codes_or_attribute(kind):
    with pytest.raises(ModuleLoadError):
        check_condition({"condition_type": kind}, population=1)


def test_active_condition_guard_wakes_when_the_condition_starts():
    waiter = module({
        "Initial": initial("Wait"),
        "Wait": guard(_active("Active Condition", "44054006"), "Hit"),
        "Hit": mark("hit", "Terminal"),
    }, name="Waiter")
    other = module({
        "Initial": initial("Later"),
        "Later": delay(3, "days", "Dx"),
        "Dx": onset("44054006", "Terminal"),
    }, name="Other")
    for person, record in pairs(run({"waiter": waiter, "other": other}, population=3)):
        assert mark_time(record, "hit") == person.birth + 3 * DAY


# ---------------------------------------------------------------- condition_type spelling


@pytest.mark.parametrize(
    ("spelling", "extra", "expected"),
    [
        ("ActiveCondition", {"codes": [code("44054006")]}, True),
        ("Active  Condition", {"codes": [code("44054006")]}, True),
        (" Active\tCondition ", {"codes": [code("44054006")]}, True),
        ("Prior State", {"name": "Setup"}, True),
        ("PriorState", {"name": "Setup"}, True),
        ("AtLeast", {"minimum": 1, "conditions": [TRUE]}, True),
        ("At  Most", {"maximum": 0, "conditions": [TRUE]}, False),
        ("SocioeconomicStatus", {"category": "Nope"}, None),  # load error: bad category
        ("Vital Sign", {"vital_sign": "Systolic Blood Pressure", "operator": ">", "value": 0}, True),
        ("VitalSign", {"vital_sign": "Systolic Blood Pressure", "operator": ">", "value": 0}, True),
        ("Active CarePlan", {"codes": [code("1")]}, False),
        ("ActiveCarePlan", {"codes": [code("1")]}, False),
    ],
)
def test_condition_type_is_whitespace_insensitive(spelling, extra, expected):
    setup = {"Setup": onset("44054006", "Check")}
    condition = {"condition_type": spelling, **extra}
    if expected is None:
        with pytest.raises(ModuleLoadError):
            check_condition(condition, setup=setup, population=1)
        return
    assert _all(condition, setup=setup) is expected


@pytest.mark.parametrize("spelling", ["active condition", "Active Conditions", "priorstate", "AND"])
def test_condition_type_is_case_sensitive(spelling):
    with pytest.raises(ModuleLoadError):
        check_condition({"condition_type": spelling, "codes": [code("1")], "name": "x",
                         "conditions": []}, population=1)


def test_guard_on_prior_state_within_polls_weekly():
    m = module({
        "Initial": initial("A"),
        "A": simple("Wait"),
        "Wait": guard({"condition_type": "Not", "condition": _prior(
            "A", within={"quantity": 10, "unit": "days"})}, "Hit"),
        "Hit": mark("hit", "Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        t = mark_time(record, "hit") - person.birth
        assert 10 * DAY <= t <= 17 * DAY and t % WEEK == 0


def test_guard_on_a_symptom_wakes_when_it_is_set():
    waiter = module({
        "Initial": initial("Wait"),
        "Wait": guard({"condition_type": "Symptom", "symptom": "Fatigue", "operator": ">=",
                       "value": 30}, "Hit"),
        "Hit": mark("hit", "Terminal"),
    }, name="Waiter")
    setter = module({
        "Initial": initial("Later"),
        "Later": delay(2 * 24 + 3, "hours", "Low"),
        "Low": {"type": "Symptom", "symptom": "Fatigue", "exact": {"quantity": 10},
                "direct_transition": "Later2"},
        "Later2": delay(1, "hours", "High"),
        "High": {"type": "Symptom", "symptom": "Fatigue", "exact": {"quantity": 35},
                 "direct_transition": "Terminal"},
    }, name="Setter")
    for person, record in pairs(run({"waiter": waiter, "setter": setter}, population=3)):
        assert mark_time(record, "hit") == person.birth + 2 * DAY + 4 * HOUR
