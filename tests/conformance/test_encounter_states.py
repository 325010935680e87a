"""Encounter, EncounterEnd, ConditionOnset/End, AllergyOnset/End
(module-format.md §6.10–§6.15, §8.5, §8.6; engine-behaviour.md §4.2)."""

from __future__ import annotations

from datetime import date

import pytest

from simulator.engine import timeutil as tu
from simulator.gmf.loader import ModuleLoadError
from simulator.record import Code

from .gmf import (
    DAY,
    ENGINE,
    GENERAL_EXAM,
    HOUR,
    MINUTE,
    OWNER,
    WELL_CHILD,
    age_cond,
    assert_proportion,
    branch,
    code,
    cond_attr,
    delay,
    delay_days,
    encounter,
    encounter_end,
    encounter_of,
    encounters_named,
    engine_wellness_visits,
    entries,
    entries_with,
    guard,
    initial,
    mark,
    mark_time,
    module,
    onset,
    pairs,
    rcode,
    run,
    set_attr,
    simple,
    the_encounter,
    wellness,
)

# ---------------------------------------------------------------- Encounter (non-wellness)


@pytest.mark.parametrize(
    ("cls", "expected_class", "minutes"),
    [
        ("ambulatory", "ambulatory", 15),
        ("Emergency", "emergency", 60),  # case-insensitive
        ("inpatient", "inpatient", 24 * 60),
        ("hospice", "hospice", 24 * 60),
        ("snf", "snf", 24 * 60),
        ("outpatient", "outpatient", 15),
        ("URGENTCARE", "urgentcare", 15),
        ("home", "home", 15),
        ("virtual", "virtual", 15),
        ("wellness", "wellness", 15),
        (None, "ambulatory", 15),  # missing class → ambulatory
    ],
)
def test_non_wellness_encounter_class_codes_and_default_duration(cls, expected_class, minutes):
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay(1, "days", "Visit"),
        "Visit": encounter("End", cls=cls, code_value="50849002"),
        "End": encounter_end("Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        visit = the_encounter(record, "Visit")
        assert visit.start == person.birth + DAY
        assert visit.encounter_class == expected_class
        assert visit.codes == [rcode("50849002")]
        assert visit.owner == OWNER
        assert visit.ended and visit.stop == visit.start + minutes * MINUTE


def test_unknown_encounter_class_is_a_load_error():
    m = module({"Initial": initial("Visit"), "Visit": encounter("Terminal", cls="spaceship")})
    with pytest.raises(ModuleLoadError):
        run(m, population=1)


def test_telemedicine_always_makes_a_virtual_encounter():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("End", cls="inpatient", telemedicine_possibility="Always"),
        "End": encounter_end("Terminal"),
    })
    for _, record in pairs(run(m, population=5)):
        assert the_encounter(record, "Visit").encounter_class == "virtual"


def _telemedicine_possible(reference_date: date, population: int) -> list[str]:
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("End", cls="ambulatory", telemedicine_possibility="possible"),
        "End": encounter_end("Terminal"),
    })
    result = run(m, population=population, reference_date=reference_date)
    return [the_encounter(r, "Visit").encounter_class for r in result.records]


def test_telemedicine_possible_before_2016_is_never_virtual():
    classes = _telemedicine_possible(date(2012, 1, 1), population=100)
    assert set(classes) == {"ambulatory"}


def test_telemedicine_possible_after_april_2020_is_virtual_15_percent():
    classes = _telemedicine_possible(date(2024, 1, 1), population=600)
    assert set(classes) <= {"ambulatory", "virtual"}
    assert_proportion(classes.count("virtual"), len(classes), 0.15)


def test_encounter_waits_while_another_module_holds_the_lock():
    holder = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Stay", cls="inpatient"),
        "Stay": delay_days(5, "End"),
        "End": encounter_end("Terminal"),
    }, name="Holder")
    other = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(2, "Other_Visit"),
        "Other_Visit": encounter("After"),
        "After": mark("other_after", "End"),
        "End": encounter_end("Terminal"),
    }, name="Other")
    for person, record in pairs(run({"holder": holder, "other": other}, population=5)):
        assert the_encounter(record, "Visit").stop == person.birth + 6 * DAY
        assert the_encounter(record, "Other_Visit").start == person.birth + 6 * DAY
        assert mark_time(record, "other_after") == person.birth + 6 * DAY


def test_a_new_encounter_of_the_same_module_ends_the_previous_one_now():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "First"),
        "First": encounter("Stay"),
        "Stay": delay(2, "hours", "Second"),
        "Second": encounter("End", cls="emergency"),
        "End": encounter_end("Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        first, second = the_encounter(record, "First"), the_encounter(record, "Second")
        assert first.ended and first.stop == person.birth + DAY + 2 * HOUR
        assert second.start == person.birth + DAY + 2 * HOUR
        assert second.stop == second.start + 60 * MINUTE


# ---------------------------------------------------------------- Encounter reason (§6.10 rule 6)


def test_encounter_reason_from_an_attribute_holding_a_condition():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Dx"),
        "Dx": onset("233604007", "Visit", assign_to_attribute="pneumonia"),
        "Visit": encounter("End", reason="pneumonia"),
        "End": encounter_end("Terminal"),
    })
    for _, record in pairs(run(m, population=3)):
        assert the_encounter(record, "Visit").reason == rcode("233604007")


def test_encounter_reason_from_an_attribute_holding_a_code_or_other_value():
    m = module({
        "Initial": initial("As_Code"),
        "As_Code": {"type": "SetAttribute", "attribute": "why", "value_code": code("10509002"),
                    "direct_transition": "As_Text"},
        "As_Text": set_attr("why_text", "flu", "Wait"),
        "Wait": delay_days(1, "Visit_Code"),
        "Visit_Code": encounter("Visit_Text", reason="why"),
        "Visit_Text": encounter("End", reason="why_text"),
        "End": encounter_end("Terminal"),
    })
    for _, record in pairs(run(m, population=3)):
        assert the_encounter(record, "Visit_Code").reason == rcode("10509002")
        assert the_encounter(record, "Visit_Text").reason is None


def test_encounter_reason_from_a_prior_condition_onset_state():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Flu"),
        "Flu": onset("6142004", "Visit", target_encounter=""),
        "Visit": encounter("Cure", reason="Flu"),
        "Cure": {"type": "ConditionEnd", "condition_onset": "Flu", "direct_transition": "Visit2"},
        # the prior-state rule applies (Flu is in the history) but the condition has ended:
        # no reason, and the ConditionOnset-definition rule is not tried (§6.10)
        "Visit2": encounter("End", reason="Flu"),
        "End": encounter_end("Terminal"),
    })
    for _, record in pairs(run(m, population=3)):
        assert the_encounter(record, "Visit").reason == rcode("6142004")
        assert the_encounter(record, "Visit2").reason is None


def test_encounter_reason_from_a_condition_onset_state_never_visited():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("End", reason="Later_Onset"),
        "End": encounter_end("Terminal"),
        "Later_Onset": onset("40055000", "Terminal"),
    })
    for _, record in pairs(run(m, population=3)):
        assert the_encounter(record, "Visit").reason == rcode("40055000")


def test_encounter_reason_unknown_name_gives_no_reason():
    m = module({
        "Initial": initial("Visit"),
        "Visit": encounter("End", reason="nothing_by_that_name"),
        "End": encounter_end("Terminal"),
    })
    for _, record in pairs(run(m, population=3)):
        assert the_encounter(record, "Visit").reason is None


# ---------------------------------------------------------------- Encounter (wellness)


def test_wellness_encounter_joins_the_next_engine_visit():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(10, "Checkup"),
        "Checkup": wellness("Dx"),
        "Dx": onset("444814009", "After"),
        "After": mark("after", "End"),
        "End": encounter_end("Terminal"),
    })
    for person, record in pairs(run(m, population=10)):
        (condition,) = entries(record, "conditions")
        enc = encounter_of(record, condition)
        assert enc.owner == ENGINE and enc.encounter_class == "wellness"
        assert enc.codes == [WELL_CHILD]
        assert condition.start == enc.start == mark_time(record, "after")
        # first engine visit after the delay: the 0–1 month interval is 30 days (§4.2)
        assert enc.start == person.birth + 30 * DAY
        later = [e.start for e in engine_wellness_visits(record) if e.start >= person.birth + 10 * DAY]
        assert enc.start == min(later)
        assert enc.discharge is None  # the engine ends its own visit; no disposition recorded


def test_engine_wellness_schedule_in_the_first_months():
    m = module({"Initial": initial("Terminal")})
    for person, record in pairs(run(m, population=5, age=(3, 4))):
        starts = [e.start - person.birth for e in engine_wellness_visits(record)]
        # 0–1 months: 30 days; 2–5 months: 60 days; 6–17 months: 90 days (§4.2)
        assert starts[:2] == [0, 30 * DAY]
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        assert set(gaps) <= {30 * DAY, 60 * DAY, 90 * DAY, 180 * DAY, 365 * DAY}


def test_wellness_encounter_after_encounter_end_joins_only_a_later_visit():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(10, "W1"),
        "W1": wellness("A"),
        "A": onset("1001", "E1"),
        "E1": encounter_end("W2"),
        "W2": wellness("B"),
        "B": onset("1002", "E2"),
        "E2": encounter_end("Terminal"),
    })
    for _, record in pairs(run(m, population=10)):
        enc_a = encounter_of(record, entries_with(record, "conditions", "1001")[0])
        enc_b = encounter_of(record, entries_with(record, "conditions", "1002")[0])
        visits = engine_wellness_visits(record)
        assert enc_b.start > enc_a.start
        assert visits.index(enc_b) == visits.index(enc_a) + 1


def test_wellness_encounter_without_encounter_end_blocks_forever():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(10, "W1"),
        "W1": wellness("Loop"),
        "Loop": simple("W2"),
        "W2": wellness("Second"),
        "Second": set_attr("second", True, "Terminal"),
    })
    result = run(m, population=5)
    assert all("second" not in p.attributes for p in result.people)


def test_adult_wellness_visit_code():
    m = module({
        "Initial": initial("Adult"),
        "Adult": guard(age_cond(">=", 20), "Checkup"),
        "Checkup": wellness("Probe"),
        "Probe": mark("adult_visit", "End"),
        "End": encounter_end("Terminal"),
    })
    for person, record in pairs(run(m, population=3, age=(25, 26))):
        t = mark_time(record, "adult_visit")
        assert t >= tu.age_reached_ms(person.birth, 240)
        (enc,) = [e for e in engine_wellness_visits(record) if e.start == t]
        assert enc.codes == [GENERAL_EXAM]
        child_visits = [e for e in engine_wellness_visits(record)
                        if e.start < tu.age_reached_ms(person.birth, 18 * 12)]
        assert child_visits and all(e.codes == [WELL_CHILD] for e in child_visits)


# ---------------------------------------------------------------- EncounterEnd


def test_encounter_end_stores_the_discharge_disposition():
    disposition = {"system": "NUBC", "code": 1, "display": "Discharged to home"}  # JSON number
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Stay", cls="inpatient"),
        "Stay": delay(3, "days", "End"),
        "End": encounter_end("Terminal", discharge_disposition=disposition),
    })
    for person, record in pairs(run(m, population=3)):
        visit = the_encounter(record, "Visit")
        assert visit.discharge == Code("NUBC", "1")
        assert visit.stop == person.birth + 4 * DAY


def test_encounter_end_stop_covers_entries_that_outlast_the_encounter():
    imaging = {
        "type": "ImagingStudy",
        "procedure_code": code("399208008", "Plain chest X-ray"),
        "series": [{"body_site": code("51185008"), "modality": code("CR", system="DICOM-DCM"),
                    "instances": [{"title": "PA", "sop_class": code("1.2.840.10008.5.1.4.1.1.1.1",
                                                                      system="DICOM-SOP")}]}],
        "direct_transition": "End",
    }
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Xray"),
        "Xray": imaging,  # adds a 30-minute procedure without blocking
        "End": encounter_end("Terminal"),
    })
    for _, record in pairs(run(m, population=3)):
        visit = the_encounter(record, "Visit")
        assert visit.stop == visit.start + 30 * MINUTE


def test_encounter_end_without_an_open_encounter_passes():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "End"),
        "End": encounter_end("After"),
        "After": mark("after", "Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        assert mark_time(record, "after") == person.birth + DAY


def test_entries_go_into_the_most_recent_encounter_even_if_it_has_ended():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("End"),
        "End": encounter_end("Later"),
        "Later": delay(2, "hours", "Dx"),
        "Dx": onset("38341003", "Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        (condition,) = entries(record, "conditions")
        assert encounter_of(record, condition) is the_encounter(record, "Visit")
        assert condition.start == person.birth + DAY + 2 * HOUR


# ---------------------------------------------------------------- ConditionOnset


def test_condition_onset_without_target_is_diagnosed_now_in_the_current_encounter():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Dx"),
        "Dx": {"type": "ConditionOnset", "assign_to_attribute": "dx",
               "codes": [code("44054006", "Diabetes"), code("E11", "Diabetes", "ICD-10")],
               "direct_transition": "End"},
        "End": encounter_end("Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        visit = the_encounter(record, "Visit")
        (condition,) = visit.conditions
        assert condition.codes == [rcode("44054006"), Code("ICD-10", "E11")]
        assert condition.start == person.birth + DAY and condition.stop is None
        assert condition.name == "Dx"
        assert person.attributes["dx"] is condition


def test_condition_onset_with_target_encounter_is_diagnosed_at_that_encounter():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Onset"),
        "Onset": onset("195967001", "Check_Pending", target_encounter="Dx_Visit",
                       assign_to_attribute="asthma"),
        "Check_Pending": {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "And", "conditions": [
                cond_attr("asthma", "is not nil"),
                {"condition_type": "Not", "condition": {
                    "condition_type": "Active Condition", "referenced_by_attribute": "asthma"}}]},
             "transition": "Pending_OK"},
            {"transition": "Later"}]},
        "Pending_OK": set_attr("pending_ok", True, "Later"),
        "Later": delay(5, "days", "Other_Visit"),
        # an encounter with another name does not diagnose it
        "Other_Visit": encounter("Other_End"),
        "Other_End": encounter_end("Dx_Visit"),
        "Dx_Visit": encounter("Check_Active"),
        "Check_Active": branch({"condition_type": "Active Condition",
                                "referenced_by_attribute": "asthma"}, "Active_OK", "End"),
        "Active_OK": set_attr("active_ok", True, "End"),
        "End": encounter_end("Terminal"),
    })
    for person, record in pairs(run(m, population=5)):
        visit = the_encounter(record, "Dx_Visit")
        assert the_encounter(record, "Other_Visit").conditions == []
        (condition,) = entries(record, "conditions")
        assert condition in visit.conditions
        assert condition.start == person.birth + 6 * DAY
        assert person.attributes["asthma"] is condition
        assert person.attributes.get("pending_ok") is True
        assert person.attributes.get("active_ok") is True


def test_condition_onset_targeting_the_open_encounter_is_diagnosed_now():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Dx_Visit"),
        "Dx_Visit": encounter("Onset"),
        "Onset": onset("195967001", "End", target_encounter="Dx_Visit"),
        "End": encounter_end("Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        (condition,) = the_encounter(record, "Dx_Visit").conditions
        assert condition.start == person.birth + DAY


def test_condition_onset_whose_target_never_happens_is_never_recorded():
    m = module({
        "Initial": initial("Onset"),
        "Onset": onset("195967001", "Wait", target_encounter="Never_Visit"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("End"),
        "End": encounter_end("Terminal"),
        "Never_Visit": encounter("Terminal"),
    })
    for _, record in pairs(run(m, population=3)):
        assert entries(record, "conditions") == []


def test_condition_onset_targeting_a_wellness_encounter():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(3, "Onset"),
        "Onset": onset("444814009", "Checkup", target_encounter="Checkup"),
        "Checkup": wellness("End"),
        "End": encounter_end("Terminal"),
    })
    for person, record in pairs(run(m, population=5)):
        (condition,) = entries(record, "conditions")
        enc = encounter_of(record, condition)
        assert enc.owner == ENGINE and enc.encounter_class == "wellness"
        assert condition.start == enc.start == person.birth + 30 * DAY


def test_condition_onset_reuses_an_active_entry_with_the_same_code():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "First"),
        "First": onset("38341003", "Later"),
        "Later": delay_days(2, "Second"),
        "Second": {"type": "ConditionOnset", "codes": [code("38341003"), code("I10", system="ICD-10")],
                   "assign_to_attribute": "htn", "direct_transition": "Terminal"},
    })
    for person, record in pairs(run(m, population=3)):
        (condition,) = entries(record, "conditions")
        assert condition.start == person.birth + DAY  # start time kept
        assert condition.name == "Second"
        assert condition.codes == [rcode("38341003"), Code("ICD-10", "I10")]
        assert person.attributes["htn"] is condition


def test_condition_onset_after_condition_end_starts_a_new_entry():
    m = module({
        "Initial": initial("First"),
        "First": onset("38341003", "Later"),
        "Later": delay_days(2, "Cure"),
        "Cure": {"type": "ConditionEnd", "codes": [code("38341003")], "direct_transition": "Again"},
        "Again": delay_days(1, "Second"),
        "Second": onset("38341003", "Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        first, second = sorted(entries(record, "conditions"), key=lambda c: c.start)
        assert first.stop == person.birth + 2 * DAY
        assert second.start == person.birth + 3 * DAY and second.stop is None


# ---------------------------------------------------------------- ConditionEnd


def _condition_end_module(end_state: dict) -> dict:
    return module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Dx_A"),
        "Dx_A": onset("1001", "Dx_B", assign_to_attribute="cond_a"),
        "Dx_B": onset("1002", "End"),
        "End": encounter_end("Later"),
        "Later": delay_days(4, "Cure"),
        "Cure": {**end_state, "direct_transition": "Check"},
        "Check": branch({"condition_type": "Active Condition", "codes": [code("1001")]},
                        "Still_Active", "Terminal"),
        "Still_Active": set_attr("a_active", True, "Terminal"),
    })


@pytest.mark.parametrize(
    "selector",
    [
        {"condition_onset": "Dx_A"},
        {"referenced_by_attribute": "cond_a"},
        {"codes": [code("1001")]},
        # precedence: condition_onset wins over codes
        {"condition_onset": "Dx_A", "codes": [code("1002")]},
    ],
    ids=["condition_onset", "referenced_by_attribute", "codes", "precedence"],
)
def test_condition_end_selectors(selector):
    m = _condition_end_module({"type": "ConditionEnd", **selector})
    for person, record in pairs(run(m, population=3)):
        (a,) = entries_with(record, "conditions", "1001")
        (b,) = entries_with(record, "conditions", "1002")
        assert a.stop == person.birth + 5 * DAY
        assert b.stop is None
        assert "a_active" not in person.attributes


@pytest.mark.parametrize(
    "selector",
    [{"condition_onset": "No_Such_State"}, {"referenced_by_attribute": "missing_attr"},
     {"codes": [code("9999")]}],
    ids=["condition_onset", "referenced_by_attribute", "codes"],
)
def test_condition_end_with_nothing_matching_is_a_no_op(selector):
    m = _condition_end_module({"type": "ConditionEnd", **selector})
    for person, record in pairs(run(m, population=3)):
        assert all(c.stop is None for c in entries(record, "conditions"))
        assert person.attributes["a_active"] is True


# ---------------------------------------------------------------- AllergyOnset / AllergyEnd


def _allergy(to: str, **extra) -> dict:
    return {
        "type": "AllergyOnset", "allergy_type": "allergy", "category": "food",
        "codes": [code("91935009", "Allergy to peanuts")],
        "reactions": [
            {"reaction": code("271807003", "Eruption of skin"),
             "possible_severities": [{"level": "mild", "value": 0.5},
                                     {"level": "moderate", "value": 0.3},
                                     {"level": "severe", "value": 0.1},
                                     {"level": "none", "value": 0.1}]},
            {"reaction": code("39579001", "Anaphylaxis"),
             "possible_severities": [{"level": "severe", "value": 1.0}]},
        ],
        "direct_transition": to, **extra,
    }


def test_allergy_onset_records_type_category_and_reaction_severities():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Allergy"),
        "Allergy": _allergy("End", assign_to_attribute="peanut"),
        "End": encounter_end("Terminal"),
    })
    result = run(m, population=500)
    levels = []
    for person, record in pairs(result):
        (allergy,) = the_encounter(record, "Visit").allergies
        assert allergy.start == person.birth + DAY and allergy.stop is None
        assert allergy.codes == [rcode("91935009")]
        assert allergy.allergy_type == "allergy" and allergy.category == "food"
        assert allergy.name == "Allergy"
        assert person.attributes["peanut"] is allergy
        by_code = {r.code.code: r.severity for r in allergy.reactions}
        assert by_code["39579001"] == "severe"
        levels.append(by_code.get("271807003", "none"))
    n = len(levels)
    for level, p in [("mild", 0.5), ("moderate", 0.3), ("severe", 0.1), ("none", 0.1)]:
        assert_proportion(levels.count(level), n, p)


def test_allergy_onset_pending_until_target_encounter_and_reused_when_active():
    m = module({
        "Initial": initial("Allergy"),
        "Allergy": _allergy("Wait", target_encounter="Allergist"),
        "Wait": delay_days(2, "Allergist"),
        "Allergist": encounter("End"),
        "End": encounter_end("Again"),
        "Again": delay_days(1, "Allergy2"),
        "Allergy2": _allergy("Terminal"),
    })
    for person, record in pairs(run(m, population=5)):
        (allergy,) = entries(record, "allergies")
        assert allergy in the_encounter(record, "Allergist").allergies
        assert allergy.start == person.birth + 2 * DAY
        assert allergy.name == "Allergy2"


def _allergy_end_module(end_state: dict) -> dict:
    return module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": encounter("Allergy"),
        "Allergy": _allergy("Other", assign_to_attribute="peanut"),
        "Other": {"type": "AllergyOnset", "allergy_type": "intolerance", "category": "medication",
                  "codes": [code("294505008", "Allergy to amoxicillin")], "direct_transition": "End"},
        "End": encounter_end("Later"),
        "Later": delay_days(3, "Outgrown"),
        "Outgrown": {**end_state, "direct_transition": "Check"},
        "Check": branch({"condition_type": "Active Allergy", "codes": [code("91935009")]},
                        "Still", "Terminal"),
        "Still": set_attr("still_allergic", True, "Terminal"),
    })


@pytest.mark.parametrize(
    "selector",
    [{"allergy_onset": "Allergy"}, {"referenced_by_attribute": "peanut"},
     {"codes": [code("91935009")]}],
    ids=["allergy_onset", "referenced_by_attribute", "codes"],
)
def test_allergy_end_selectors(selector):
    m = _allergy_end_module({"type": "AllergyEnd", **selector})
    for person, record in pairs(run(m, population=3)):
        (peanut,) = entries_with(record, "allergies", "91935009")
        (amox,) = entries_with(record, "allergies", "294505008")
        assert peanut.stop == person.birth + 4 * DAY
        assert amox.stop is None and amox.allergy_type == "intolerance"
        assert "still_allergic" not in person.attributes


def test_allergy_end_with_missing_attribute_is_a_no_op():
    # Deviation from Synthea (which crashes): a missing attribute does nothing.
    m = _allergy_end_module({"type": "AllergyEnd", "referenced_by_attribute": "not_set"})
    for person, record in pairs(run(m, population=3)):
        assert all(a.stop is None for a in entries(record, "allergies"))
        assert person.attributes["still_allergic"] is True


def test_encounters_of_several_modules_are_not_confused():
    # Each module ends only its own encounter; the other module's stays open until its end.
    a = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "A_Visit"),
        "A_Visit": encounter("A_End"),
        "A_End": encounter_end("Terminal"),
    }, name="A")
    b = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "B_Visit"),
        "B_Visit": encounter("Stay"),
        "Stay": delay(1, "hours", "B_End"),
        "B_End": encounter_end("Terminal"),
    }, name="B")
    for person, record in pairs(run({"a": a, "b": b}, population=3)):
        a_visit, b_visit = the_encounter(record, "A_Visit"), the_encounter(record, "B_Visit")
        assert a_visit.owner == "A Module" and b_visit.owner == "B Module"
        assert a_visit.start == person.birth + DAY
        assert a_visit.stop == a_visit.start + 15 * MINUTE
        assert b_visit.start == person.birth + DAY  # lock freed by A's EncounterEnd at once
        assert b_visit.stop == person.birth + DAY + HOUR
        assert len(encounters_named(record, "A_Visit")) == 1


def test_wellness_encounter_also_joins_a_symptom_driven_visit():
    sick = module({"Initial": initial("Wait"), "Wait": delay_days(3, "S"),
                   "S": {"type": "Symptom", "symptom": "Pain", "exact": {"quantity": 400},
                         "direct_transition": "Terminal"}}, name="Sick")
    waiting = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Checkup"),
        "Checkup": wellness("Probe"),
        "Probe": mark("joined", "End"),
        "End": encounter_end("Terminal"),
    }, name="Waiting")
    for person, record in pairs(run({"sick": sick, "waiting": waiting}, population=3)):
        t = mark_time(record, "joined")
        assert t == person.birth + 3 * DAY
        (visit,) = [e for e in record.encounters if e.start == t]
        assert visit.owner == ENGINE and visit.encounter_class == "urgentcare"


def test_engine_wellness_visits_wait_while_a_module_holds_the_lock():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(20, "Stay_Visit"),
        "Stay_Visit": encounter("Stay", cls="inpatient"),
        "Stay": delay_days(30, "End"),  # holds the lock over the day-30 wellness visit
        "End": encounter_end("Terminal"),
    })
    for person, record in pairs(run(m, population=3)):
        starts = [e.start - person.birth for e in engine_wellness_visits(record)]
        assert starts[:2] == [0, 50 * DAY]


def test_wellness_encounter_at_birth_joins_the_birth_visit():
    m = module({"Initial": initial("Checkup"), "Checkup": wellness("Dx"),
                "Dx": onset("1001", "End"), "End": encounter_end("Terminal")})
    for person, record in pairs(run(m, population=3)):
        (condition,) = entries(record, "conditions")
        enc = encounter_of(record, condition)
        assert enc.owner == ENGINE and enc.start == condition.start == person.birth


def test_non_wellness_encounter_at_birth_follows_the_birth_visit():
    m = module({"Initial": initial("Visit"), "Visit": encounter("End"), "End": encounter_end("Terminal")})
    for person, record in pairs(run(m, population=3)):
        assert record.encounters[0].owner == ENGINE and record.encounters[0].start == person.birth
        assert the_encounter(record, "Visit").start == person.birth
