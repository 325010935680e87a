"""Transitions (module-format.md §7): direct, distributed, conditional, complex,
lookup_table and type_of_care."""

from __future__ import annotations

from datetime import date

import pytest

from simulator.engine import timeutil as tu
from simulator.errors import SimulationError
from simulator.gmf.loader import ModuleLoadError

from .gmf import (
    DAY,
    WEEK,
    age_cond,
    assert_mean,
    assert_proportion,
    cond_attr,
    delay,
    delay_days,
    guard,
    initial,
    mark,
    mark_time,
    mark_times,
    module,
    pairs,
    run,
    set_attr,
)

TARGETS = ("A", "B", "C", "D")


def _outcomes(states: dict, population: int, choice: str = "Choose", **kwargs) -> list[str]:
    """Run a module whose `choice` state branches to A/B/C/D, each recording `path`."""
    all_states = {"Initial": initial(choice) if "Initial" not in states else states["Initial"],
                  **states}
    for t in TARGETS:
        all_states.setdefault(t, set_attr("path", t, "Terminal"))
    result = run(module(all_states), population=population, **kwargs)
    return [p.attributes["path"] for p in result.people]


def _distributed(options: list) -> dict:
    return {"type": "Simple", "distributed_transition": [
        {"transition": t, "distribution": p} for t, p in options]}


# ---------------------------------------------------------------- direct


def test_direct_transition():
    assert set(_outcomes({"Choose": {"type": "Simple", "direct_transition": "B"}}, 5)) == {"B"}


def test_first_transition_member_wins():
    # direct > distributed > conditional > complex (§4 rule 3)
    state = {"type": "Simple", "conditional_transition": [{"transition": "C"}],
             "distributed_transition": [{"transition": "B", "distribution": 1.0}],
             "direct_transition": "A"}
    assert set(_outcomes({"Choose": state}, 5)) == {"A"}
    state = {"type": "Simple", "complex_transition": [{"transition": "C"}],
             "conditional_transition": [{"transition": "B"}]}
    assert set(_outcomes({"Choose": state}, 5)) == {"B"}


def test_transition_to_a_missing_state_is_a_load_error():
    with pytest.raises(ModuleLoadError):
        _outcomes({"Choose": {"type": "Simple", "direct_transition": "Nowhere"}}, 1)


# ---------------------------------------------------------------- distributed


def test_distributed_transition_proportions():
    paths = _outcomes({"Choose": _distributed([("A", 0.3), ("B", 0.5), ("C", 0.2)])}, 600)
    for target, p in [("A", 0.3), ("B", 0.5), ("C", 0.2)]:
        assert_proportion(paths.count(target), len(paths), p)


def test_distributed_transition_remainder_falls_to_the_last_option():
    paths = _outcomes({"Choose": _distributed([("A", 0.2), ("B", 0.3)])}, 600)
    assert_proportion(paths.count("A"), len(paths), 0.2)
    assert_proportion(paths.count("B"), len(paths), 0.8)


def test_distributed_transition_sum_above_one_shadows_later_options():
    paths = _outcomes({"Choose": _distributed([("A", 0.6), ("B", 0.6), ("C", 0.5)])}, 600)
    assert "C" not in paths
    assert_proportion(paths.count("B"), len(paths), 0.4)


@pytest.mark.parametrize(
    ("setup", "p_a"),
    [
        (set_attr("risk", 0.8, "Choose"), 0.8),
        (set_attr("risk", 1, "Choose"), 1.0),  # integer value accepted (Recommended, §7.2)
        ({"type": "Simple", "direct_transition": "Choose"}, 0.1),  # missing → default
    ],
    ids=["double", "integer", "default"],
)
def test_distributed_transition_named_attribute_distribution(setup, p_a):
    states = {
        "Initial": initial("Setup"),
        "Setup": setup,
        "Choose": {"type": "Simple", "distributed_transition": [
            {"transition": "A", "distribution": {"attribute": "risk", "default": 0.1}},
            {"transition": "B", "distribution": 0.9}]},
    }
    paths = _outcomes(states, 500)
    assert_proportion(paths.count("A"), len(paths), p_a)


def test_distributed_transition_negative_named_value_reduces_the_cumulative_sum():
    states = {
        "Initial": initial("Setup"),
        "Setup": set_attr("risk", -0.2, "Choose"),
        "Choose": {"type": "Simple", "distributed_transition": [
            {"transition": "C", "distribution": {"attribute": "risk", "default": 0.5}},
            {"transition": "A", "distribution": 0.5},
            {"transition": "B", "distribution": 0.5}]},
    }
    paths = _outcomes(states, 600)
    assert "C" not in paths
    assert_proportion(paths.count("A"), len(paths), 0.3)
    assert_proportion(paths.count("B"), len(paths), 0.7)  # 0.5 plus the 0.2 remainder


# ---------------------------------------------------------------- conditional


def _conditional(options: list) -> dict:
    out = []
    for cond, target in options:
        opt = {"transition": target}
        if cond is not None:
            opt["condition"] = cond
        out.append(opt)
    return {"type": "Simple", "conditional_transition": out}


TRUE = {"condition_type": "True"}
FALSE = {"condition_type": "False"}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([(FALSE, "A"), (TRUE, "B"), (TRUE, "C")], "B"),  # first true wins
        ([(FALSE, "A"), (None, "B"), (TRUE, "C")], "B"),  # no condition anywhere = taken
        ([(FALSE, "A"), (FALSE, "B"), (FALSE, "C")], "C"),  # none true → last option anyway
        ([(TRUE, "A")], "A"),
    ],
    ids=["first-true", "unconditioned-middle", "fall-through", "single"],
)
def test_conditional_transition(options, expected):
    assert set(_outcomes({"Choose": _conditional(options)}, 5)) == {expected}


def test_conditional_transition_per_person():
    states = {"Choose": _conditional([({"condition_type": "Gender", "gender": "F"}, "A"),
                                      (None, "B")])}
    result = run(module({"Initial": initial("Choose"), **states,
                         "A": set_attr("path", "A", "Terminal"),
                         "B": set_attr("path", "B", "Terminal")}), population=50)
    genders = {p.attributes["gender"] for p in result.people}
    assert genders == {"M", "F"}
    for p in result.people:
        assert p.attributes["path"] == ("A" if p.attributes["gender"] == "F" else "B")


# ---------------------------------------------------------------- complex


def _complex(options: list) -> dict:
    return {"type": "Simple", "complex_transition": options}


def test_complex_transition_picks_the_first_matching_option_then_distributes():
    state = _complex([
        {"condition": FALSE, "distributions": [{"transition": "D", "distribution": 1.0}]},
        {"condition": TRUE, "distributions": [{"transition": "A", "distribution": 0.25},
                                              {"transition": "B", "distribution": 0.75}]},
        {"distributions": [{"transition": "C", "distribution": 1.0}]},
    ])
    paths = _outcomes({"Choose": state}, 600)
    assert set(paths) <= {"A", "B"}
    assert_proportion(paths.count("A"), len(paths), 0.25)


def test_complex_transition_falls_through_to_the_last_option():
    state = _complex([
        {"condition": FALSE, "transition": "D"},
        {"condition": FALSE, "distributions": [{"transition": "A", "distribution": 0.5},
                                               {"transition": "C", "distribution": 0.5}]},
    ])
    paths = _outcomes({"Choose": state}, 600)
    assert set(paths) <= {"A", "C"}
    assert_proportion(paths.count("A"), len(paths), 0.5)


def test_complex_transition_prefers_transition_over_distributions():
    state = _complex([{"condition": TRUE, "transition": "B",
                       "distributions": [{"transition": "A", "distribution": 1.0}]}])
    assert set(_outcomes({"Choose": state}, 5)) == {"B"}
    state = _complex([{"transition": "C", "distributions": []}])
    assert set(_outcomes({"Choose": state}, 5)) == {"C"}


def test_complex_transition_distribution_remainder_and_named_distribution():
    state = _complex([{"condition": cond_attr("risky", "==", True),
                       "distributions": [{"transition": "A", "distribution": {"attribute": "risk",
                                                                              "default": 0.0}},
                                         {"transition": "B", "distribution": 0.1}]},
                      {"transition": "C"}])
    states = {"Initial": initial("S1"), "S1": set_attr("risky", True, "S2"),
              "S2": set_attr("risk", 0.5, "Choose"), "Choose": state}
    paths = _outcomes(states, 600)
    assert set(paths) <= {"A", "B"}
    assert_proportion(paths.count("A"), len(paths), 0.5)


# ---------------------------------------------------------------- lookup_table


def _lookup(table: str, defaults: tuple[float, ...] = (0.5, 0.5), targets: tuple[str, ...] = ("A", "B")) -> dict:
    return {"type": "Simple", "lookup_table_transition": [
        {"transition": t, "default_probability": d, "lookup_table_name": table}
        for t, d in zip(targets, defaults, strict=True)]}


AT_2019_06 = {"condition_type": "Date", "operator": ">=",
              "date": {"year": 2019, "month": 6, "day": 1, "hour": 0, "minute": 0, "second": 0,
                       "millisecond": 0}}


def test_lookup_table_by_age_and_attribute():
    table = ("age,gender,A,B\n"
             "0-39,M,1.0,0.0\n"
             "0-39,F,0.0,1.0\n"
             "40-140,M,0.0,1.0\n"
             "40-140,F,1.0,0.0\n")
    states = {"Initial": initial("Wait"), "Wait": guard(AT_2019_06, "Choose"),
              "Choose": _lookup("by_age.csv")}
    all_states = {**states, "A": set_attr("path", "A", "Terminal"), "B": set_attr("path", "B", "Terminal")}
    result = run(module(all_states), population=200, age=(30, 50),
                 lookup_tables={"by_age.csv": table})
    at = tu.ymd_ms(2019, 6, 1)
    seen = set()
    for p in result.people:
        age = tu.age_years(p.birth, at)
        female = p.attributes["gender"] == "F"
        expected = "A" if (age >= 40) == female else "B"
        assert p.attributes["path"] == expected, (age, female)
        seen.add((age >= 40, female))
    assert len(seen) == 4


def test_lookup_table_age_ranges_are_inclusive_and_defaults_apply_when_no_row_matches():
    # ages 29 and 30 are covered by the rows; 31+ falls back to the default probabilities
    table = "age,A,B\n0-29,1.0,0.0\n30-30,0.0,1.0\n"
    states = {"Initial": initial("Wait"), "Wait": guard(AT_2019_06, "Choose"),
              "Choose": _lookup("ages.csv", defaults=(0.25, 0.75))}
    all_states = {**states, "A": set_attr("path", "A", "Terminal"), "B": set_attr("path", "B", "Terminal")}
    result = run(module(all_states), population=700, age=(29, 40), lookup_tables={"ages.csv": table})
    at = tu.ymd_ms(2019, 6, 1)
    fallback = []
    for p in result.people:
        age = tu.age_years(p.birth, at)
        if age <= 29:
            assert p.attributes["path"] == "A"
        elif age == 30:
            assert p.attributes["path"] == "B"
        else:
            fallback.append(p.attributes["path"])
    assert len(fallback) >= 400
    assert_proportion(fallback.count("A"), len(fallback), 0.25)


def test_lookup_table_time_column_date_and_millisecond_ranges():
    start_2019 = tu.ymd_ms(2019, 1, 1)
    end_2019 = tu.ymd_ms(2020, 1, 1) - 1
    table = ("time,{a},{b}\n"
             "2018-01-01-2018-12-31,1.0,0.0\n"  # whole days, UTC, both ends inclusive
             f"{start_2019}-{end_2019},0.0,1.0\n")  # epoch milliseconds
    at_2018 = {**AT_2019_06, "date": {**AT_2019_06["date"], "year": 2018}}
    at_2020 = {**AT_2019_06, "date": {**AT_2019_06["date"], "year": 2020}}
    states = {
        "Initial": initial("Wait1"),
        "Wait1": guard(at_2018, "First"),
        "First": _lookup("t1.csv", defaults=(0.0, 0.0), targets=("A1", "B1")),
        "A1": set_attr("first", "A", "Wait2"),
        "B1": set_attr("first", "B", "Wait2"),
        "Wait2": guard(AT_2019_06, "Second"),
        "Second": _lookup("t2.csv", defaults=(0.0, 0.0), targets=("A2", "B2")),
        "A2": set_attr("second", "A", "Wait3"),
        "B2": set_attr("second", "B", "Wait3"),
        "Wait3": guard(at_2020, "Third"),
        # 2020 matches no row: the default probabilities apply
        "Third": _lookup("t3.csv", defaults=(0.0, 1.0), targets=("A3", "B3")),
        "A3": set_attr("third", "A", "Terminal"),
        "B3": set_attr("third", "B", "Terminal"),
    }
    tables = {f"t{i}.csv": table.format(a=f"A{i}", b=f"B{i}") for i in (1, 2, 3)}
    result = run(module(states), population=10, age=(3, 4), reference_date=date(2021, 1, 1),
                 lookup_tables=tables)
    for p in result.people:
        assert p.attributes["first"] == "A"
        assert p.attributes["second"] == "B"
        assert p.attributes["third"] == "B"


def test_lookup_table_shared_by_two_states():
    table = "gender,A,B\nM,1.0,0.0\nF,0.0,1.0\n"
    states = {
        "Initial": initial("First"),
        "First": _lookup("shared.csv"),
        "A": set_attr("first", "A", "Second"),
        "B": set_attr("first", "B", "Second"),
        "Second": _lookup("shared.csv", targets=("A", "B")),
    }
    # the second visit of A/B goes to Second again: stop the loop with a counter guard
    states["A"] = {"type": "Counter", "attribute": "n", "action": "increment",
                   "conditional_transition": [{"condition": cond_attr("n", ">=", 2), "transition": "Terminal"},
                                              {"transition": "Second"}]}
    states["B"] = dict(states["A"])
    result = run(module(states), population=20, lookup_tables={"shared.csv": table})
    for p in result.people:
        assert p.attributes["n"] == 2.0


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (set_attr("level", 1, "Choose"), "A"),  # SetAttribute stores 1 → text "1"
        ({"type": "Counter", "attribute": "level", "action": "increment",
          "direct_transition": "Choose"}, "B"),  # Counter stores 1.0 → text "1.0"
        (set_attr("level", True, "Choose"), "C"),  # boolean → "true"
    ],
    ids=["integer", "double", "boolean"],
)
def test_lookup_table_attribute_text_forms(setup, expected):
    table = "level,A,B,C\n1,1,0,0\n1.0,0,1,0\ntrue,0,0,1\n"
    states = {"Initial": initial("Setup"), "Setup": setup,
              "Choose": {"type": "Simple", "lookup_table_transition": [
                  {"transition": t, "default_probability": 0, "lookup_table_name": "levels.csv"}
                  for t in ("A", "B", "C")]}}
    assert set(_outcomes(states, 5, lookup_tables={"levels.csv": table})) == {expected}


_JAVA_TEXT_BUG = pytest.mark.xfail(
    strict=True, reason="ENGINE BUG: doubles below 1e-3 or from 1e7 are not rendered in Java "
    "Double.toString form (e.g. 1.0E-4, 1.2345678E7) for lookup-table matching "
    "(module-format.md §5.6, §7.5)")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5, "0.5"),
        (0.001, "0.001"),
        (-2.25, "-2.25"),
        (9999999.0, "9999999.0"),
        pytest.param(0.0001, "1.0E-4", marks=_JAVA_TEXT_BUG),
        pytest.param(10000000.0, "1.0E7", marks=_JAVA_TEXT_BUG),
        pytest.param(12345678.0, "1.2345678E7", marks=_JAVA_TEXT_BUG),
    ],
)
def test_lookup_table_matches_the_java_text_of_doubles(value, text):
    # a distribution always stores a double (an integral literal would become an integer)
    setup = {"type": "SetAttribute", "attribute": "level", "direct_transition": "Choose",
             "distribution": {"kind": "EXACT", "parameters": {"value": value}}}
    states = {"Initial": initial("Setup"), "Setup": setup,
              "Choose": _lookup("java_text.csv", defaults=(0.0, 1.0))}
    table = f"level,A,B\n{text},1.0,0.0\n"
    assert set(_outcomes(states, 3, lookup_tables={"java_text.csv": table})) == {"A"}


def test_lookup_table_with_byte_order_mark_and_quoted_cells():
    table = '\ufeffgender,"A",B\n"M",1.0,0.0\nF,"1.0",0.0\n'
    paths = _outcomes({"Choose": _lookup("bom.csv", defaults=(0.0, 1.0))}, 10,
                      lookup_tables={"bom.csv": table})
    assert set(paths) == {"A"}


def test_lookup_table_missing_person_attribute_is_a_runtime_error():
    table = "not_an_attribute,A,B\nx,1.0,0.0\n"
    with pytest.raises(SimulationError):
        _outcomes({"Choose": _lookup("missing.csv")}, 1, lookup_tables={"missing.csv": table})


@pytest.mark.parametrize(
    "table",
    ["gender,A,Wrong\nM,1,0\n", "gender,A\nM,1\n"],
    ids=["column-not-a-transition", "too-few-columns"],
)
def test_lookup_table_columns_must_match_the_transitions(table):
    with pytest.raises(ModuleLoadError):
        _outcomes({"Choose": _lookup("bad.csv")}, 1, lookup_tables={"bad.csv": table})


def test_lookup_table_missing_file_is_a_load_error():
    with pytest.raises(ModuleLoadError):
        _outcomes({"Choose": _lookup("absent.csv")}, 1)


# ---------------------------------------------------------------- type_of_care


def _type_of_care(insurance: str, when: dict, population: int, reference: date) -> list[str]:
    states = {
        "Initial": initial("Insure"),
        "Insure": set_attr("insurance_status", insurance, "Wait"),
        "Wait": guard(when, "Choose"),
        "Choose": {"type": "Simple", "type_of_care_transition": {
            "ambulatory": "A", "emergency": "B", "telemedicine": "C"}},
    }
    return _outcomes(states, population, reference_date=reference)


def _at(year: int) -> dict:
    return {"condition_type": "Date", "operator": ">=", "year": year}


@pytest.mark.parametrize(
    ("insurance", "year", "p_ambulatory", "p_emergency", "p_telemedicine"),
    [
        ("private", 2018, 0.75, 0.25, 0.0),
        ("medicaid", 2018, 0.65, 0.35, 0.0),
        ("private", 2021, 0.56, 0.20, 0.24),
        ("none", 2021, 0.66, 0.25, 0.09),
    ],
)
def test_type_of_care_transition(insurance, year, p_ambulatory, p_emergency, p_telemedicine):
    paths = _type_of_care(insurance, _at(year), 600, date(year + 1, 6, 1))
    n = len(paths)
    assert_proportion(paths.count("A"), n, p_ambulatory)
    assert_proportion(paths.count("B"), n, p_emergency)
    assert_proportion(paths.count("C"), n, p_telemedicine)


def test_delays_before_a_distributed_transition_do_not_change_it():
    states = {"Initial": initial("Wait"), "Wait": delay_days(3, "Choose"),
              "Choose": _distributed([("A", 0.5), ("B", 0.5)])}
    paths = _outcomes(states, 400)
    assert_proportion(paths.count("A"), len(paths), 0.5)


# ---------------------------------------------------------------- hazard loops
#
# A fixed Delay whose transition comes back to itself ("each day, 10% chance to leave") must
# behave exactly like the step-by-step loop, whether or not the engine fast-forwards it.


@pytest.fixture(params=["fast-forward", "step-by-step"])
def loop_mode(request, monkeypatch):
    from simulator.engine import simulation

    monkeypatch.setattr(simulation, "FAST_FORWARD", request.param == "fast-forward")
    return request.param


def _loop_module(loop: dict, extra: dict | None = None) -> dict:
    return module({
        "Initial": initial("Start"),
        "Start": mark("start", "Loop"),
        "Loop": loop,
        "Exit": mark("exit", "Terminal"),
        **(extra or {}),
    })


def _exit_offsets(result) -> list[int]:
    return [mark_time(r, "exit") - mark_time(r, "start") for r in result.records]


def test_hazard_loop_exit_time_is_geometric(loop_mode):
    loop = {"type": "Delay", "exact": {"quantity": 1, "unit": "days"}, "distributed_transition": [
        {"transition": "Loop", "distribution": 0.9}, {"transition": "Exit", "distribution": 0.1}]}
    result = run(_loop_module(loop), population=500)
    days = [t // DAY for t in _exit_offsets(result)]
    assert all(t % DAY == 0 for t in _exit_offsets(result)) and min(days) >= 1
    assert_proportion(days.count(1), len(days), 0.1)
    assert_proportion(sum(d <= 5 for d in days), len(days), 1 - 0.9 ** 5)
    assert_mean(days, 10, 0.9 ** 0.5 / 0.1)


def _count_check():
    loop = {"type": "Delay", "exact": {"quantity": 1, "unit": "days"}, "distributed_transition": [
        {"transition": "Loop", "distribution": 0.9}, {"transition": "Exit", "distribution": 0.1}]}
    result = run(_loop_module(loop), population=100)
    days = [t // DAY for t in _exit_offsets(result)]
    assert result.state_counts["Delay"] == sum(days)  # one Delay visit per iteration


def test_hazard_loop_state_count_step_by_step(monkeypatch):
    from simulator.engine import simulation

    monkeypatch.setattr(simulation, "FAST_FORWARD", False)
    _count_check()


@pytest.mark.xfail(strict=True, reason="ENGINE BUG: hazard-loop fast-forward undercounts "
                   "state_counts['Delay'] by one per loop that leaves (statistics only; "
                   "PersonSim._skip_hazard_loop adds steps - 1 for steps further iterations)")
def test_hazard_loop_state_count_fast_forward(monkeypatch):
    from simulator.engine import simulation

    monkeypatch.setattr(simulation, "FAST_FORWARD", True)
    _count_check()


def test_hazard_loop_with_distribution_exact_delay(loop_mode):
    loop = {"type": "Delay", "distribution": {"kind": "EXACT", "parameters": {"value": 2.5}},
            "unit": "days", "distributed_transition": [
                {"transition": "Loop", "distribution": 0.5}, {"transition": "Exit", "distribution": 0.5}]}
    days = [t / DAY for t in _exit_offsets(run(_loop_module(loop), population=400))]
    assert all(d % 2 == 0 and d >= 2 for d in days)  # 2.5 → 2 whole days per iteration
    assert_proportion(days.count(2), len(days), 0.5)


def test_hazard_loop_leaves_when_an_attribute_it_reads_changes(loop_mode):
    loop = {"type": "Delay", "exact": {"quantity": 1, "unit": "days"}, "conditional_transition": [
        {"condition": cond_attr("go", "==", True), "transition": "Exit"}, {"transition": "Loop"}]}
    setter = module({"Initial": initial("Wait"), "Wait": delay(5 * 24 + 6, "hours", "Go"),
                     "Go": set_attr("go", True, "Terminal")}, name="Setter")
    result = run({"loop": _loop_module(loop), "setter": setter}, population=5)
    assert _exit_offsets(result) == [6 * DAY] * 5  # next iteration boundary after the change


def test_hazard_loop_named_distribution_follows_the_attribute(loop_mode):
    loop = {"type": "Delay", "exact": {"quantity": 1, "unit": "days"}, "distributed_transition": [
        {"transition": "Exit", "distribution": {"attribute": "risk", "default": 0.0}},
        {"transition": "Loop", "distribution": 1.0}]}
    setter = module({"Initial": initial("Wait"), "Wait": delay(3 * 24 + 12, "hours", "Risk"),
                     "Risk": set_attr("risk", 1.0, "Terminal")}, name="Setter")
    result = run({"loop": _loop_module(loop), "setter": setter}, population=5)
    assert _exit_offsets(result) == [4 * DAY] * 5


def test_hazard_loop_on_age_leaves_at_the_first_iteration_after_the_birthday(loop_mode):
    loop = {"type": "Delay", "exact": {"quantity": 1, "unit": "weeks"}, "conditional_transition": [
        {"condition": age_cond(">=", 1), "transition": "Exit"}, {"transition": "Loop"}]}
    result = run(_loop_module(loop), population=10, age=(2, 3))
    for person, record in pairs(result):
        birthday = tu.age_reached_ms(person.birth, 12)
        weeks = -(-(birthday - person.birth) // WEEK)
        assert mark_time(record, "exit") == person.birth + weeks * WEEK


def test_hazard_loop_on_a_lookup_table_by_age_and_time(loop_mode):
    by_age = "age,Loop,Exit\n0-0,1.0,0.0\n1-140,0.0,1.0\n"
    loop = {"type": "Delay", "exact": {"quantity": 30, "unit": "days"}, "lookup_table_transition": [
        {"transition": "Loop", "default_probability": 1, "lookup_table_name": "loop_age.csv"},
        {"transition": "Exit", "default_probability": 0, "lookup_table_name": "loop_age.csv"}]}
    result = run(_loop_module(loop), population=10, age=(2, 3), lookup_tables={"loop_age.csv": by_age})
    for person, record in pairs(result):
        birthday = tu.age_reached_ms(person.birth, 12)
        periods = -(-(birthday - person.birth) // (30 * DAY))
        assert mark_time(record, "exit") == person.birth + periods * 30 * DAY

    by_time = "time,Loop,Exit\n1900-01-01-2018-12-31,1.0,0.0\n2019-01-01-2099-12-31,0.0,1.0\n"
    loop["lookup_table_transition"] = [
        {**o, "lookup_table_name": "loop_time.csv"} for o in loop["lookup_table_transition"]]
    result = run(_loop_module(loop), population=10, age=(2, 3),
                 lookup_tables={"loop_time.csv": by_time})
    new_year = tu.ymd_ms(2019, 1, 1)
    for person, record in pairs(result):
        periods = -(-(new_year - person.birth) // (30 * DAY))
        assert mark_time(record, "exit") == person.birth + periods * 30 * DAY


def test_hazard_loop_that_never_leaves_ends_with_the_simulation(loop_mode):
    loop = {"type": "Delay", "exact": {"quantity": 1, "unit": "days"}, "distributed_transition": [
        {"transition": "Loop", "distribution": 1.0}, {"transition": "Exit", "distribution": 0.0}]}
    result = run(_loop_module(loop), population=3)
    assert all(mark_times(r, "exit") == [] for r in result.records)


def test_hazard_loop_is_cut_short_by_death(loop_mode):
    loop = {"type": "Delay", "exact": {"quantity": 1, "unit": "days"}, "distributed_transition": [
        {"transition": "Loop", "distribution": 0.999}, {"transition": "Exit", "distribution": 0.001}]}
    killer = module({"Initial": initial("Die"), "Die": {
        "type": "Death", "exact": {"quantity": 10, "unit": "days"}, "direct_transition": "Terminal"}},
        name="Killer")
    result = run({"loop": _loop_module(loop), "killer": killer}, population=50)
    for person, record in pairs(result):
        assert person.deathdate == person.birth + 10 * DAY
        assert all(t < person.deathdate for t in mark_times(record, "exit"))
