"""Control states (module-format.md §6.1–§6.9): Initial, Terminal, Simple, Guard, Delay,
SetAttribute, Counter, CallSubmodule, Physiology."""

from __future__ import annotations

import math

import pytest

from simulator.engine import timeutil as tu
from simulator.gmf.loader import ModuleLoadError
from simulator.record import Code

from .gmf import (
    DAY,
    HOUR,
    MINUTE,
    OWNER,
    SECOND,
    WEEK,
    age_cond,
    assert_mean,
    assert_proportion,
    branch,
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
    mark_times,
    module,
    pairs,
    run,
    set_attr,
    simple,
    terminal,
    the_encounter,
)

# ---------------------------------------------------------------- Initial / Terminal / Simple


def test_initial_simple_terminal_pass_in_one_instant():
    m = module({
        "Initial": initial("Before"),
        "Before": mark("before", "Branch"),
        "Branch": simple("Set"),
        "Set": set_attr("reached", True, "After"),
        "After": mark("after", "Done"),
        "Done": terminal(),
    })
    result = run(m, population=5)
    for person, record in pairs(result):
        assert person.attributes["reached"] is True
        assert mark_time(record, "before") == mark_time(record, "after") == person.birth
    counts = result.state_counts
    assert counts["Initial"] == counts["Simple"] == counts["Terminal"] == 5
    assert counts["SetAttribute"] == 5


def test_terminal_ignores_its_transition():
    m = module({
        "Initial": initial("Done"),
        "Done": {"type": "Terminal", "direct_transition": "Beyond"},
        "Beyond": set_attr("beyond_terminal", True, "Terminal"),
    })
    result = run(m, population=3)
    assert all("beyond_terminal" not in p.attributes for p in result.people)
    assert result.state_counts["SetAttribute"] == 0


def test_several_terminal_states_are_allowed():
    m = module({
        "Initial": {"type": "Initial", "conditional_transition": [
            {"condition": {"condition_type": "Gender", "gender": "F"}, "transition": "End_F"},
            {"transition": "End_M"}]},
        "End_F": terminal(),
        "End_M": terminal(),
    })
    result = run(m, population=20)
    assert result.state_counts["Terminal"] == 20


def test_top_level_terminal_ends_the_modules_open_encounter_and_releases_the_lock():
    holder = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Stay"),
        "Stay": delay_days(2, "Terminal"),
    }, name="Holder")
    other = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(2, "Other_Visit"),
        "Other_Visit": encounter("End"),
        "End": encounter_end("Terminal"),
    }, name="Other")
    result = run({"holder": holder, "other": other}, population=5)
    for person, record in pairs(result):
        visit = the_encounter(record, "Visit")
        assert visit.start == person.birth + DAY
        assert visit.ended and visit.stop == person.birth + 3 * DAY
        # the other module's encounter waited for the lock released by Holder's Terminal
        assert the_encounter(record, "Other_Visit").start == person.birth + 3 * DAY


def test_submodule_terminal_does_not_end_the_callers_encounter():
    main = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Call"),
        "Call": {"type": "CallSubmodule", "submodule": "sub/open_visit", "direct_transition": "Stay"},
        "Stay": delay_days(1, "End"),
        "End": encounter_end("Terminal", discharge_disposition=code("01", "Home", "NUBC")),
    })
    sub = module({"Initial": initial("Sub_Visit"), "Sub_Visit": encounter("Terminal")},
                 name="Open Visit")
    result = run({"main": main, "sub/open_visit": sub}, population=5)
    for person, record in pairs(result):
        visit = the_encounter(record, "Sub_Visit")
        assert visit.owner == OWNER  # the caller's runtime name owns it (§6.8 rule 1)
        assert visit.start == person.birth + DAY
        assert visit.stop == person.birth + 2 * DAY
        assert visit.discharge == Code("NUBC", "01")


# ---------------------------------------------------------------- Guard


def test_guard_on_age_wakes_at_midnight_utc_of_the_birthday():
    m = module({"Initial": initial("Wait"), "Wait": guard(age_cond(">=", 3), "Hit"),
                "Hit": mark("hit", "Terminal")})
    result = run(m, population=30, age=(5, 6))
    for person, record in pairs(result):
        t = mark_time(record, "hit")
        assert t == tu.age_reached_ms(person.birth, 36)
        assert t % DAY == 0


@pytest.mark.parametrize(
    ("operator", "quantity", "unit", "months"),
    [(">", 2, "years", 36), (">=", 18, "months", 18), (">", 18, "months", 19), ("==", 4, "years", 48)],
)
def test_guard_on_age_flips_exactly(operator, quantity, unit, months):
    m = module({"Initial": initial("Wait"), "Wait": guard(age_cond(operator, quantity, unit), "Hit"),
                "Hit": mark("hit", "Terminal")})
    result = run(m, population=15, age=(5, 6))
    for person, record in pairs(result):
        assert mark_time(record, "hit") == tu.age_reached_ms(person.birth, months)


def test_guard_already_true_passes_at_once():
    m = module({"Initial": initial("Wait"), "Wait": delay(5, "hours", "G"),
                "G": guard({"condition_type": "True"}, "Hit"), "Hit": mark("hit", "Terminal")})
    result = run(m, population=5)
    for person, record in pairs(result):
        assert mark_time(record, "hit") == person.birth + 5 * HOUR


def test_guard_that_never_becomes_true_blocks_for_life():
    m = module({"Initial": initial("G"), "G": guard({"condition_type": "False"}, "Set"),
                "Set": set_attr("passed", True, "Terminal")})
    result = run(m, population=5)
    assert all("passed" not in p.attributes for p in result.people)
    assert result.state_counts["SetAttribute"] == 0


def test_guard_waits_for_an_attribute_set_later_by_another_module():
    waiter = module({
        "Initial": initial("Wait"),
        "Wait": guard(cond_attr("go", "==", True), "Hit"),
        "Hit": mark("hit", "Terminal"),
    }, name="Waiter")
    setter = module({
        "Initial": initial("Sleep"),
        "Sleep": delay(10, "days", "Not_Yet"),
        "Not_Yet": set_attr("go", False, "Sleep2"),
        "Sleep2": delay(6, "hours", "Go"),
        "Go": set_attr("go", True, "Terminal"),
    }, name="Setter")
    result = run({"waiter": waiter, "setter": setter}, population=10)
    for person, record in pairs(result):
        assert mark_time(record, "hit") == person.birth + 10 * DAY + 6 * HOUR


# ---------------------------------------------------------------- Delay


@pytest.mark.parametrize(
    ("quantity", "unit", "expected"),
    [
        (3, "days", 3 * DAY),
        (1.5, "hours", 90 * MINUTE),
        (2.5, "minutes", 150 * SECOND),
        (90, "seconds", 90 * SECOND),
        (0.0015, "seconds", 1),  # floor(1000 · q) ms
        (2, "weeks", 14 * DAY),
        (1.5, "months", 45 * DAY),  # 1 month = 30 days
        (0.5, "years", 182 * DAY),  # floor(365.25 · 0.5) days
        (1, "years", 365 * DAY),
        (2, "years", 730 * DAY),  # floor(730.5)
        (4, "years", 1461 * DAY),  # 365.25-day years
        (0.01, "days", 0),  # floor(24 · 0.01) = 0 hours: zero-length delay passes at once
        (1.01, "days", 24 * HOUR),  # floor(24.24) hours
    ],
)
def test_delay_exact_uses_the_fractional_routine(quantity, unit, expected):
    m = module({"Initial": initial("Start"), "Start": mark("start", "Wait"),
                "Wait": delay(quantity, unit, "End"), "End": mark("end", "Terminal")})
    result = run(m, population=4, age=(5, 6))
    for _, record in pairs(result):
        assert mark_time(record, "end") - mark_time(record, "start") == expected


def test_delay_range_is_uniform_and_truncated_to_whole_hours_for_days():
    m = module({
        "Initial": initial("Start"),
        "Start": mark("start", "Wait"),
        "Wait": {"type": "Delay", "range": {"low": 2, "high": 4, "unit": "days"},
                 "direct_transition": "End"},
        "End": mark("end", "Terminal"),
    })
    result = run(m, population=400)
    durations = [mark_time(r, "end") - mark_time(r, "start") for r in result.records]
    assert all(2 * DAY <= d < 4 * DAY for d in durations)
    assert all(d % HOUR == 0 for d in durations)  # days → floor(24·q) hours
    # mean of the truncated uniform: 3 days − 0.5 hour; sd of U(2,4) days
    assert_mean([d / DAY for d in durations], 3 - 0.5 / 24, 2 / math.sqrt(12))


def test_delay_exact_wins_over_range():
    m = module({
        "Initial": initial("Start"),
        "Start": mark("start", "Wait"),
        "Wait": {"type": "Delay", "exact": {"quantity": 1, "unit": "hours"},
                 "range": {"low": 2, "high": 4, "unit": "days"}, "direct_transition": "End"},
        "End": mark("end", "Terminal"),
    })
    for record in run(m, population=5).records:
        assert mark_time(record, "end") - mark_time(record, "start") == HOUR


def _distribution_delay(distribution, unit, population, age=(1, 2)):
    m = module({
        "Initial": initial("Start"),
        "Start": mark("start", "Wait"),
        "Wait": {"type": "Delay", "distribution": distribution, "unit": unit,
                 "direct_transition": "End"},
        "End": mark("end", "Terminal"),
    })
    result = run(m, population=population, age=age)
    return [mark_time(r, "end") - mark_time(r, "start") for r in result.records]


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (2.7, "years", 730 * DAY),  # truncated to 2, then 365-day years
        (1, "years", 365 * DAY),
        (4, "years", 4 * 365 * DAY),
        (1.9, "weeks", WEEK),
        (2.99, "days", 2 * DAY),
        (1.5, "hours", HOUR),
        (0.7, "days", 0),
    ],
)
def test_delay_distribution_truncates_then_uses_the_integer_routine(value, unit, expected):
    durations = _distribution_delay(
        {"kind": "EXACT", "parameters": {"value": value}}, unit, population=3, age=(5, 6)
    )
    assert durations == [expected] * 3


def test_delay_uniform_distribution_truncates_to_whole_units():
    durations = _distribution_delay(
        {"kind": "UNIFORM", "parameters": {"low": 0.5, "high": 1.5}}, "days", population=400
    )
    assert set(durations) <= {0, DAY}
    assert_proportion(durations.count(DAY), len(durations), 0.5)


def test_delay_exponential_distribution_is_shifted_by_one():
    # 1 − mean·ln(1 − u) >= 1, so a "days" delay is never 0 days; P(1 day) = P(value < 2)
    durations = _distribution_delay(
        {"kind": "EXPONENTIAL", "parameters": {"mean": 2}}, "days", population=400
    )
    assert min(durations) == DAY
    assert all(d % DAY == 0 for d in durations)
    assert_proportion(durations.count(DAY), len(durations), 1 - math.exp(-0.5))


def test_delay_gaussian_distribution_is_clamped_to_min_max():
    durations = _distribution_delay(
        {"kind": "GAUSSIAN",
         "parameters": {"mean": 5, "standardDeviation": 10, "min": 3, "max": 6}},
        "days", population=400,
    )
    assert set(durations) <= {3 * DAY, 4 * DAY, 5 * DAY, 6 * DAY}
    # P(value == 6 days) = P(x >= 6) = P(z >= 0.1); the clamp does not resample
    assert_proportion(durations.count(6 * DAY), len(durations), 0.460172)


def test_delay_triangular_distribution_stays_within_bounds():
    durations = _distribution_delay(
        {"kind": "TRIANGULAR", "parameters": {"min": 2, "mode": 3, "max": 10}}, "hours",
        population=400,
    )
    assert all(2 * HOUR <= d < 10 * HOUR and d % HOUR == 0 for d in durations)
    # P(value < 3) = (3 − 2)² / ((10 − 2)(3 − 2)) = 1/8 → truncated to 2 hours
    assert_proportion(durations.count(2 * HOUR), len(durations), 1 / 8)


def test_consecutive_delays_measure_from_the_previous_end():
    m = module({
        "Initial": initial("Start"),
        "Start": mark("start", "D1"),
        "D1": delay(3, "days", "D2"),
        "D2": delay(4, "hours", "D3"),
        "D3": delay(0, "days", "End"),
        "End": mark("end", "Terminal"),
    })
    for person, record in pairs(run(m, population=5)):
        assert mark_time(record, "end") == person.birth + 3 * DAY + 4 * HOUR


# ---------------------------------------------------------------- SetAttribute


def _set_and_read(state: dict, population: int = 3, before: dict | None = None):
    states = {"Initial": initial("Before" if before else "Set"), "Set": state}
    if before:
        states["Before"] = before
    result = run(module(states), population=population)
    return [p.attributes for p in result.people]


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [
        (1, 1, int),
        (1.0, 1, int),  # integral literal numbers are stored as integers
        (-4.0, -4, int),
        (2.5, 2.5, float),
        ("text", "text", str),
        (True, True, bool),
        (False, False, bool),
    ],
)
def test_set_attribute_literal_values(value, expected, kind):
    for attrs in _set_and_read(set_attr("x", value, "Terminal")):
        assert attrs["x"] == expected
        assert type(attrs["x"]) is kind


def test_set_attribute_range_honours_decimals():
    state = {"type": "SetAttribute", "attribute": "x", "range": {"low": 1, "high": 2, "decimals": 2},
             "direct_transition": "Terminal"}
    values = [a["x"] for a in _set_and_read(state, population=50)]
    assert all(isinstance(v, float) and 1 <= v <= 2 for v in values)
    assert all(round(v, 2) == v for v in values)
    assert len(set(values)) > 10


def test_set_attribute_range_without_decimals_is_a_raw_double():
    state = {"type": "SetAttribute", "attribute": "x", "range": {"low": 10, "high": 20},
             "direct_transition": "Terminal"}
    values = [a["x"] for a in _set_and_read(state, population=50)]
    assert all(isinstance(v, float) and 10 <= v < 20 for v in values)
    assert any(round(v, 4) != v for v in values)


def test_set_attribute_distribution_round_stores_a_double():
    state = {"type": "SetAttribute", "attribute": "x", "direct_transition": "Terminal",
             "distribution": {"kind": "UNIFORM", "round": True, "parameters": {"low": 1, "high": 4}}}
    values = [a["x"] for a in _set_and_read(state, population=100)]
    assert all(type(v) is float and v.is_integer() and 1 <= v <= 4 for v in values)
    assert set(values) == {1.0, 2.0, 3.0, 4.0}


def test_set_attribute_gaussian_distribution():
    state = {"type": "SetAttribute", "attribute": "x", "direct_transition": "Terminal",
             "distribution": {"kind": "GAUSSIAN", "parameters": {"mean": 10, "standardDeviation": 2}}}
    values = [a["x"] for a in _set_and_read(state, population=400)]
    assert all(type(v) is float for v in values)
    assert_mean(values, 10, 2)


def test_set_attribute_value_code_stores_the_code():
    state = {"type": "SetAttribute", "attribute": "x", "direct_transition": "Terminal",
             "value_code": code("38341003", "Hypertension")}
    for attrs in _set_and_read(state):
        assert attrs["x"] == Code("SNOMED-CT", "38341003")
        assert attrs["x"].display == "Hypertension"


def test_set_attribute_value_attribute_copies_the_same_object():
    m = module({
        "Initial": initial("Onset"),
        "Onset": {"type": "ConditionOnset", "codes": [code("44054006")],
                  "assign_to_attribute": "source", "direct_transition": "Copy"},
        "Copy": {"type": "SetAttribute", "attribute": "copy", "value_attribute": "source",
                 "direct_transition": "Missing"},
        "Missing": {"type": "SetAttribute", "attribute": "fallback", "value_attribute": "nope",
                    "value": 5, "direct_transition": "Missing2"},
        "Missing2": {"type": "SetAttribute", "attribute": "gone", "value_attribute": "nope",
                     "direct_transition": "Terminal"},
    })
    for person in run(m, population=3).people:
        a = person.attributes
        assert a["copy"] is a["source"]
        assert a["fallback"] == 5  # missing source attribute: the literal value is used
        assert "gone" not in a


def test_set_attribute_null_or_no_value_removes_the_attribute():
    m = module({
        "Initial": initial("A"),
        "A": set_attr("a", 1, "B"),
        "B": set_attr("b", "x", "Clear_A"),
        "Clear_A": set_attr("a", None, "Clear_B"),
        "Clear_B": {"type": "SetAttribute", "attribute": "b", "direct_transition": "Terminal"},
    })
    for person in run(m, population=3).people:
        assert "a" not in person.attributes and "b" not in person.attributes


def test_set_attribute_expression_is_evaluated():
    m = module({
        "Initial": initial("Base"),
        "Base": set_attr("base", 3, "Expr"),
        "Expr": {"type": "SetAttribute", "attribute": "x", "expression": "#{base} * 2 + 1",
                 "direct_transition": "Terminal"},
    })
    for person in run(m, population=3).people:
        assert person.attributes["x"] == pytest.approx(7)


def test_set_attribute_value_source_precedence():
    # expression > range > distribution > value_code > value_attribute > value
    m = module({
        "Initial": initial("Src"),
        "Src": set_attr("src", "copied", "E"),
        "E": {"type": "SetAttribute", "attribute": "e", "expression": "1 + 1",
              "range": {"low": 10, "high": 11}, "value": 99, "direct_transition": "R"},
        "R": {"type": "SetAttribute", "attribute": "r", "range": {"low": 10, "high": 11},
              "distribution": {"kind": "EXACT", "parameters": {"value": 50}}, "value": 99,
              "direct_transition": "D"},
        "D": {"type": "SetAttribute", "attribute": "d",
              "distribution": {"kind": "EXACT", "parameters": {"value": 50}},
              "value_code": code("1"), "value": 99, "direct_transition": "C"},
        "C": {"type": "SetAttribute", "attribute": "c", "value_code": code("1"),
              "value_attribute": "src", "value": 99, "direct_transition": "V"},
        "V": {"type": "SetAttribute", "attribute": "v", "value_attribute": "src", "value": 99,
              "direct_transition": "Terminal"},
    })
    for person in run(m, population=3).people:
        a = person.attributes
        assert a["e"] == pytest.approx(2)
        assert 10 <= a["r"] < 11
        assert a["d"] == 50.0
        assert a["c"] == Code("SNOMED-CT", "1")
        assert a["v"] == "copied"


# ---------------------------------------------------------------- Counter


def test_counter_increment_and_decrement_store_doubles():
    m = module({
        "Initial": initial("Inc1"),
        "Inc1": {"type": "Counter", "attribute": "n", "action": "increment", "direct_transition": "Inc2"},
        "Inc2": {"type": "Counter", "attribute": "n", "action": "increment", "direct_transition": "Dec"},
        "Dec": {"type": "Counter", "attribute": "m", "action": "decrement", "direct_transition": "Other"},
        # any action other than "increment" subtracts
        "Other": {"type": "Counter", "attribute": "k", "action": "lower", "amount": 3,
                  "direct_transition": "Terminal"},
    })
    for person in run(m, population=3).people:
        a = person.attributes
        assert a["n"] == 2.0 and type(a["n"]) is float
        assert a["m"] == -1.0 and type(a["m"]) is float
        assert a["k"] == -3.0


def test_counter_amount_zero_means_one_and_fractions_truncate():
    m = module({
        "Initial": initial("Start"),
        "Start": set_attr("n", 10, "Zero"),
        "Zero": {"type": "Counter", "attribute": "n", "action": "increment", "amount": 0,
                 "direct_transition": "Frac"},
        "Frac": {"type": "Counter", "attribute": "n", "action": "increment", "amount": 2.7,
                 "direct_transition": "Terminal"},
    })
    for person in run(m, population=3).people:
        assert person.attributes["n"] == 13.0  # 10 + 1 + 2
        assert type(person.attributes["n"]) is float


def test_counter_in_a_loop_counts_visits():
    m = module({
        "Initial": initial("Count"),
        "Count": {"type": "Counter", "attribute": "n", "action": "increment", "direct_transition": "Loop"},
        "Loop": branch(cond_attr("n", "<", 5), "Wait", "Terminal"),
        "Wait": delay(1, "days", "Count"),
    })
    result = run(m, population=3)
    for person in result.people:
        assert person.attributes["n"] == 5.0
    assert result.state_counts["Counter"] == 15


# ---------------------------------------------------------------- CallSubmodule


def test_submodule_history_is_visible_to_prior_state_in_the_caller_afterwards():
    main = module({
        "Initial": initial("Before"),
        "Before": branch({"condition_type": "PriorState", "name": "Sub_Step"}, "Seen_Early", "Call"),
        "Seen_Early": set_attr("seen_early", True, "Call"),
        "Call": {"type": "CallSubmodule", "submodule": "helpers/step", "direct_transition": "After"},
        "After": branch({"condition_type": "PriorState", "name": "Sub_Step"}, "Seen", "Not_Seen"),
        "Seen": set_attr("seen_after", True, "Terminal"),
        "Not_Seen": set_attr("seen_after", False, "Terminal"),
    })
    sub = module({
        "Initial": initial("Check_Caller"),
        # inside the submodule, PriorState only sees the submodule's own history (§6.8 rule 5)
        "Check_Caller": branch({"condition_type": "PriorState", "name": "Before"},
                               "Caller_Visible", "Sub_Step"),
        "Caller_Visible": set_attr("caller_visible", True, "Sub_Step"),
        "Sub_Step": simple("Terminal"),
    }, name="Step")
    for person in run({"main": main, "helpers/step": sub}, population=3).people:
        a = person.attributes
        assert a["seen_after"] is True
        assert "seen_early" not in a
        assert "caller_visible" not in a


def test_nested_submodules_block_and_return_at_the_right_time():
    main = module({
        "Initial": initial("Call"),
        "Call": {"type": "CallSubmodule", "submodule": "outer/a", "direct_transition": "Check"},
        "Check": branch({"condition_type": "And", "conditions": [
            {"condition_type": "PriorState", "name": "Inner_Step"},
            {"condition_type": "PriorState", "name": "Outer_Step"}]}, "Seen", "Terminal"),
        "Seen": set_attr("nested_seen", True, "Done"),
        "Done": mark("done", "Terminal"),
    })
    outer = module({
        "Initial": initial("Outer_Step"),
        "Outer_Step": delay(2, "days", "Call_Inner"),
        "Call_Inner": {"type": "CallSubmodule", "submodule": "outer/inner/b",
                       "direct_transition": "Terminal"},
    }, name="Outer")
    inner = module({
        "Initial": initial("Inner_Step"),
        "Inner_Step": delay(3, "hours", "Terminal"),
    }, name="Inner")
    result = run({"main": main, "outer/a": outer, "outer/inner/b": inner}, population=3)
    for person, record in pairs(result):
        assert person.attributes["nested_seen"] is True
        assert mark_time(record, "done") == person.birth + 2 * DAY + 3 * HOUR


def test_each_call_has_its_own_progress():
    # Deviation from Synthea: two callers inside the same submodule do not share progress,
    # and a second call starts fresh from Initial.
    sub = module({
        "Initial": initial("Wait"),
        "Wait": delay(5, "days", "Count"),
        "Count": {"type": "Counter", "attribute": "calls", "action": "increment",
                  "direct_transition": "Terminal"},
    }, name="Shared")

    def caller(name: str, offset_hours: int) -> dict:
        return module({
            "Initial": initial("Offset"),
            "Offset": delay(offset_hours, "hours", "Call1"),
            "Call1": {"type": "CallSubmodule", "submodule": "shared/sub", "direct_transition": "Call2"},
            "Call2": {"type": "CallSubmodule", "submodule": "shared/sub", "direct_transition": "Done"},
            "Done": mark(f"done_{name}", "Terminal"),
        }, name=name)

    result = run({"a": caller("A", 1), "b": caller("B", 2), "shared/sub": sub}, population=3)
    for person, record in pairs(result):
        assert person.attributes["calls"] == 4.0
        assert mark_time(record, "done_A") == person.birth + HOUR + 10 * DAY
        assert mark_time(record, "done_B") == person.birth + 2 * HOUR + 10 * DAY


def test_submodule_records_into_the_callers_encounter():
    main = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Call"),
        "Call": {"type": "CallSubmodule", "submodule": "sub/dx", "direct_transition": "End"},
        "End": encounter_end("Terminal"),
    })
    sub = module({"Initial": initial("Dx"), "Dx": {
        "type": "ConditionOnset", "codes": [code("195662009")], "target_encounter": "Visit",
        "direct_transition": "Terminal"}}, name="Dx")
    for person, record in pairs(run({"main": main, "sub/dx": sub}, population=3)):
        visit = the_encounter(record, "Visit")
        assert [c.codes[0].code for c in visit.conditions] == ["195662009"]
        assert visit.conditions[0].start == person.birth + DAY


# ---------------------------------------------------------------- Physiology


def _physiology(**extra) -> dict:
    state = {"type": "Physiology", "model": "circulation/model.xml", "solver": "runge_kutta",
             "step_size": 0.01, "sim_duration": 4, "lead_time": 0, "inputs": [], "outputs": [],
             "direct_transition": "Normal", "alt_direct_transition": "Alternative"}
    state.update(extra)
    return state


def test_physiology_follows_alt_direct_transition():
    m = module({
        "Initial": initial("ECG"),
        "ECG": _physiology(),
        "Normal": set_attr("path", "normal", "Terminal"),
        "Alternative": set_attr("path", "alternative", "Terminal"),
    })
    result = run(m, population=3)
    assert all(p.attributes["path"] == "alternative" for p in result.people)
    assert result.state_counts["Physiology"] == 3


@pytest.mark.parametrize(
    "broken",
    [{"alt_direct_transition": None}, {"lead_time": 5}],
    ids=["no-alt-transition", "lead-time-beyond-duration"],
)
def test_physiology_load_validation(broken):
    state = _physiology(**broken)
    state = {k: v for k, v in state.items() if v is not None}
    m = module({"Initial": initial("ECG"), "ECG": state,
                "Normal": simple("Terminal"), "Alternative": simple("Terminal")})
    with pytest.raises(ModuleLoadError):
        run(m, population=1)


def test_marks_are_not_double_counted():
    # sanity check of the probe helper used throughout this suite
    m = module({"Initial": initial("A"), "A": mark("x", "B"), "B": mark("x", "Terminal")})
    record = run(m, population=1).records[0]
    assert len(mark_times(record, "x")) == 2


def test_call_submodule_state_is_pushed_again_on_top_of_the_merged_history():
    main = module({
        "Initial": initial("Call"),
        "Call": {"type": "CallSubmodule", "submodule": "sub/step", "direct_transition": "Check"},
        # history (newest first): Call, Terminal, Sub_Step, Initial (sub), Call, Initial
        "Check": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "PriorState", "name": "Sub_Step", "since": "Call"},
             "transition": "Wrong"},
            {"condition": {"condition_type": "PriorState", "name": "Sub_Step", "since": "Initial"},
             "transition": "Right"},
            {"transition": "Wrong"}]},
        "Right": set_attr("order", "right", "Terminal"),
        "Wrong": set_attr("order", "wrong", "Terminal"),
    })
    sub = module({"Initial": initial("Sub_Step"), "Sub_Step": simple("Terminal")}, name="Step")
    for person in run({"main": main, "sub/step": sub}, population=2).people:
        assert person.attributes["order"] == "right"
