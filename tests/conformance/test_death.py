"""Death state (module-format.md §6.31) and the death certificate (engine-behaviour.md §4.6)."""

from __future__ import annotations

import pytest

from simulator.errors import SimulationError
from simulator.record import Code

from .gmf import (
    DAY,
    HOUR,
    assert_mean,
    code,
    delay,
    delay_days,
    encounter,
    encounter_end,
    initial,
    mark,
    mark_times,
    module,
    onset,
    pairs,
    rcode,
    run,
    set_attr,
    the_encounter,
)

CAUSE = "22298006"  # myocardial infarction
DEATH_CERTIFICATION = Code("SNOMED-CT", "308646001")
CAUSE_OF_DEATH = Code("LOINC", "69453-9")
DEATH_CERTIFICATE = Code("LOINC", "69409-1")


def _death(to: str, **extra) -> dict:
    return {"type": "Death", "direct_transition": to, **extra}


def _certificates(record):
    return [e for e in record.encounters if e.codes and e.codes[0] == DEATH_CERTIFICATION]


def test_immediate_death_stops_every_module_and_writes_a_certificate():
    dying = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(5, "Visit"),
        "Visit": encounter("Stay", cls="inpatient"),
        "Stay": delay(2, "hours", "Die"),
        "Die": _death("After", codes=[code(CAUSE, "Myocardial infarction")]),
        "After": set_attr("after_death", True, "End"),  # never runs
        "End": encounter_end("Terminal"),
    }, name="Dying")
    other = module({
        "Initial": initial("Soon"),
        "Soon": delay_days(3, "Before"),
        "Before": mark("before_death", "Later"),
        "Later": delay_days(7, "Too_Late"),
        "Too_Late": set_attr("other_after_death", True, "Too_Late_Mark"),
        "Too_Late_Mark": mark("after_death", "Terminal"),
    }, name="Other")
    result = run({"dying": dying, "other": other}, population=5)
    for person, record in pairs(result):
        t = person.birth + 5 * DAY + 2 * HOUR
        assert person.deathdate == t
        assert person.attributes["deathdate"] == t
        assert person.attributes["cause_of_death"] == rcode(CAUSE)
        assert record.patient.deathdate == t and record.patient.cause_of_death == rcode(CAUSE)
        assert "after_death" not in person.attributes
        assert "other_after_death" not in person.attributes
        assert len(mark_times(record, "before_death")) == 1
        assert mark_times(record, "after_death") == []
        # the open encounter is closed at the death (its EncounterEnd never ran)
        visit = the_encounter(record, "Visit")
        assert visit.ended and visit.stop == t
        (cert,) = _certificates(record)
        assert record.encounters[-1] is cert
        assert t <= cert.start < t + 7 * DAY
        assert cert.encounter_class == "wellness" and cert.reason == rcode(CAUSE)
        (obs,) = cert.observations
        assert obs.codes == [CAUSE_OF_DEATH] and obs.value == rcode(CAUSE) and obs.category == "exam"
        (report,) = cert.reports
        assert report.codes == [DEATH_CERTIFICATE] and report.observations == [obs]
        assert all(e.start <= cert.start for e in record.encounters)


def test_future_death_lets_the_module_continue_until_the_death_date():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Die"),
        "Die": _death("Right_After", exact={"quantity": 10, "unit": "days"},
                      codes=[code(CAUSE)]),
        "Right_After": mark("right_after", "Short"),
        "Short": delay_days(5, "Five"),
        "Five": mark("five", "Long"),
        "Long": delay_days(20, "Never"),  # would end after the death: never completes
        "Never": mark("never", "Terminal"),
    })
    for person, record in pairs(run(m, population=5)):
        assert person.deathdate == person.birth + 11 * DAY
        assert mark_times(record, "right_after") == [person.birth + DAY]
        assert mark_times(record, "five") == [person.birth + 6 * DAY]
        assert mark_times(record, "never") == []
        (cert,) = _certificates(record)
        assert cert.start >= person.deathdate


def test_delay_ending_exactly_at_the_death_does_not_complete():
    m = module({
        "Initial": initial("Die"),
        "Die": _death("Wait", exact={"quantity": 2, "unit": "days"}),
        "Wait": delay_days(2, "At_Death"),
        "At_Death": mark("at_death", "Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        assert person.deathdate == person.birth + 2 * DAY
        assert mark_times(record, "at_death") == []


def test_death_range_is_uniform():
    m = module({
        "Initial": initial("Die"),
        "Die": _death("Terminal", range={"low": 3, "high": 6, "unit": "months"}),
    })
    result = run(m, population=400)
    days = [(p.deathdate - p.birth) / DAY for p in result.people]
    assert all(90 <= d < 180 and d == int(d) for d in days)
    assert_mean(days, 134.5, 90 / 12 ** 0.5)


def test_earlier_recorded_death_wins():
    m = module({
        "Initial": initial("Late"),
        "Late": _death("Early", exact={"quantity": 20, "unit": "days"}, codes=[code("1")]),
        "Early": _death("Later_Again", exact={"quantity": 5, "unit": "days"}, codes=[code("2")]),
        "Later_Again": _death("Terminal", exact={"quantity": 10, "unit": "days"}, codes=[code("3")]),
    })
    for person in run(m, population=3).people:
        assert person.deathdate == person.birth + 5 * DAY
        assert person.attributes["cause_of_death"] == rcode("2")


def test_death_cause_from_a_condition_onset_state():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Cancer"),
        "Cancer": onset("254637007", "End"),
        "End": encounter_end("Die"),
        "Die": _death("Terminal", condition_onset="Cancer"),
    })
    for person, record in pairs(run(m, population=3)):
        assert person.attributes["cause_of_death"] == rcode("254637007")
        (cert,) = _certificates(record)
        assert cert.observations[0].value == rcode("254637007")


def test_death_cause_from_a_condition_onset_state_never_visited():
    m = module({
        "Initial": initial("Die"),
        "Die": _death("Terminal", condition_onset="Never_Onset"),
        "Never_Onset": onset("254637007", "Terminal"),
    })
    for person in run(m, population=3).people:
        assert person.attributes["cause_of_death"] == rcode("254637007")


def test_death_cause_from_an_ended_condition_is_none_and_no_certificate():
    m = module({
        "Initial": initial("Cancer"),
        "Cancer": onset("254637007", "Cured"),
        "Cured": {"type": "ConditionEnd", "condition_onset": "Cancer", "direct_transition": "Wait"},
        "Wait": delay_days(1, "Die"),
        "Die": _death("Terminal", condition_onset="Cancer"),
    })
    for person, record in pairs(run(m, population=3)):
        assert person.deathdate == person.birth + DAY
        assert "cause_of_death" not in person.attributes
        assert _certificates(record) == []


def test_death_cause_from_an_attribute():
    m = module({
        "Initial": initial("Cancer"),
        "Cancer": onset("254637007", "Wait", assign_to_attribute="cancer"),
        "Wait": delay_days(1, "Die"),
        "Die": _death("Terminal", referenced_by_attribute="cancer"),
    })
    for person, record in pairs(run(m, population=3)):
        assert person.attributes["cause_of_death"] == rcode("254637007")
        assert len(_certificates(record)) == 1


def test_death_cause_precedence_codes_first():
    m = module({
        "Initial": initial("Cancer"),
        "Cancer": onset("254637007", "Die", assign_to_attribute="cancer"),
        "Die": _death("Terminal", codes=[code(CAUSE)], condition_onset="Cancer",
                      referenced_by_attribute="cancer"),
    })
    for person in run(m, population=3).people:
        assert person.attributes["cause_of_death"] == rcode(CAUSE)


def test_death_with_a_missing_cause_attribute_is_a_runtime_error():
    m = module({"Initial": initial("Die"), "Die": _death("Terminal", referenced_by_attribute="nothing")})
    with pytest.raises(SimulationError):
        run(m, population=1)


def test_death_without_cause_has_no_certificate():
    m = module({"Initial": initial("Wait"), "Wait": delay_days(2, "Die"), "Die": _death("Terminal")})
    for person, record in pairs(run(m, population=3)):
        assert person.deathdate == person.birth + 2 * DAY
        assert "cause_of_death" not in person.attributes
        assert _certificates(record) == []
        assert all(e.start <= person.deathdate for e in record.encounters)
