"""Loading rules and JSON coercions around the state types (module-format.md §1.1, §2, §4),
and the module order of engine-behaviour.md §3.3."""

from __future__ import annotations

import pytest

from simulator.gmf.loader import ModuleLoadError

from .gmf import (
    OWNER,
    code,
    cond_attr,
    delay_days,
    encounter,
    encounter_end,
    entries,
    initial,
    module,
    pairs,
    run,
    set_attr,
    the_encounter,
)


def _loads(m: dict) -> bool:
    try:
        run(m, population=1)
    except ModuleLoadError:
        return False
    return True


@pytest.mark.parametrize(
    "states",
    [
        {"Initial": initial("X"), "X": {"type": "Teleport", "direct_transition": "Terminal"}},
        {"Initial": initial("X"), "X": {"type": "delay", "exact": {"quantity": 1, "unit": "days"},
                                        "direct_transition": "Terminal"}},  # case-sensitive
        {"Initial": initial("X"), "X": {"type": "Set Attribute", "attribute": "a", "value": 1,
                                        "direct_transition": "Terminal"}},  # no whitespace removal
        {"Initial": initial("X"), "X": {"type": "Delayable", "direct_transition": "Terminal"}},
        {"Initial": initial("X"), "X": {"direct_transition": "Terminal"}},  # no type
        {"Start": initial("Terminal")},  # no state named Initial
        {"Initial": initial("X"), "X": {"type": "Simple"}},  # no transition
        {"Initial": initial("X"), "X": delay_days(1, "Missing")},  # missing target (Recommended)
        {"Initial": initial("X"), "X": {"type": "Delay", "exact": {"quantity": 1, "unit": "fortnights"},
                                        "direct_transition": "Terminal"}},  # unknown time unit
        {"Initial": initial("X"), "X": {"type": "Delay", "distribution": {"kind": "uniform",
                                        "parameters": {"low": 1, "high": 2}}, "unit": "days",
                                        "direct_transition": "Terminal"}},  # kind is upper-case
        {"Initial": initial("X"), "X": {"type": "Delay", "distribution": {"kind": "GAUSSIAN",
                                        "parameters": {"mean": 1}}, "unit": "days",
                                        "direct_transition": "Terminal"}},  # missing parameter
        {"Initial": initial("X"), "X": {"type": "Counter", "attribute": "n",
                                        "direct_transition": "Terminal"}},  # no action
        {"Initial": initial("X"), "X": {"type": "Guard", "allow": {
            "condition_type": "Age", "operator": ">", "quantity": 3, "unit": "days"},
            "direct_transition": "Terminal"}},  # Age only in years or months
        {"Initial": initial("X"), "X": {"type": "VitalSign", "vital_sign": "Blood Sugar",
                                        "exact": {"quantity": 1}, "direct_transition": "Terminal"}},
        {"Initial": initial("X"), "X": {"type": "CallSubmodule", "submodule": "nowhere/none",
                                        "direct_transition": "Terminal"}},  # Recommended: at load
    ],
    ids=["unknown-type", "lower-case-type", "spaced-type", "abstract-type", "no-type", "no-initial",
         "no-transition", "missing-target", "unknown-unit", "lower-case-kind", "missing-parameter",
         "counter-without-action", "age-in-days", "unknown-vital-sign", "missing-submodule"],
)
def test_invalid_modules_fail_to_load(states):
    assert not _loads(module(states))


@pytest.mark.parametrize(("version", "ok"), [(None, True), (1, True), (2, True), (2.0, True), (3, False)])
def test_gmf_version(version, ok):
    m = module({"Initial": initial("Terminal")})
    if version is None:
        del m["gmf_version"]
    else:
        m["gmf_version"] = version
    assert _loads(m) is ok


def test_unknown_members_are_ignored():
    m = module({
        "Initial": {"type": "Initial", "name": "ignored", "remarks": ["a", "b"], "foo": 1,
                    "direct_transition": "Check"},
        "Check": {"type": "Simple", "assign_to_attribute": "ignored_too", "conditional_transition": [
            {"condition": {"condition_type": "Age", "operator": ">=", "quantity": 0, "unit": "years",
                           "value": 99, "remarks": "stray members"},
             "transition": "Set", "remarks": ["option remark"]},
            {"transition": "Terminal"}]},
        "Set": set_attr("ok", True, "Terminal", name="x", unexpected={"a": 1}),
    }, remarks=["module remark"])
    for person in run(m, population=2).people:
        assert person.attributes["ok"] is True
        assert "ignored_too" not in person.attributes


def test_numeric_codes_become_text_and_string_booleans_are_booleans():
    m = module({
        "Initial": initial("Wait"),
        "Wait": delay_days(1, "Visit"),
        "Visit": {"type": "Encounter", "encounter_class": "ambulatory", "direct_transition": "Rx",
                  "codes": [{"system": "SNOMED-CT", "code": 185345009, "display": "Visit"}]},
        "Rx": {"type": "MedicationOrder", "chronic": "true", "administration": "false",
               "codes": [{"system": "RxNorm", "code": 860975, "display": "Metformin"}],
               "direct_transition": "End"},
        "End": encounter_end("Terminal"),
    })
    for _, record in pairs(run(m, population=2)):
        visit = the_encounter(record, "Visit")
        assert visit.codes[0].code == "185345009"
        (med,) = entries(record, "medications")
        assert med.codes[0].code == "860975"
        assert med.chronic is True and med.administration is False


def test_non_integral_numbers_in_integer_fields_truncate():
    sop = code("1.2.840.10008.5.1.4.1.1.1.1", system="DICOM-SOP")
    m = module({
        "Initial": initial("Visit"),
        "Visit": encounter("Scan"),
        "Scan": {"type": "ImagingStudy", "procedure_code": code("241615005"),
                 "min_number_series": 1.9, "max_number_series": 1.9,
                 "series": [{"body_site": code("1"), "modality": code("MR", system="DICOM-DCM"),
                             "min_number_instances": 2.5, "max_number_instances": 2.99,
                             "instances": [{"title": "A", "sop_class": sop}]}],
                 "direct_transition": "Shot"},
        "Shot": {"type": "Vaccine", "series": 2.8, "codes": [code("140", system="CVX")],
                 "direct_transition": "End"},
        "End": encounter_end("Terminal"),
    })
    for _, record in pairs(run(m, population=3)):
        (study,) = entries(record, "imaging_studies")
        assert len(study.series) == 1 and len(study.series[0].instances) == 2
        (imm,) = entries(record, "immunizations")
        assert imm.series == 2


def test_submodules_never_run_on_their_own():
    main = module({"Initial": initial("Terminal")})
    sub = module({"Initial": initial("Set"), "Set": set_attr("sub_ran", True, "Terminal")},
                 name="Helper")
    for person in run({"main": main, "folder/helper": sub}, population=2).people:
        assert "sub_ran" not in person.attributes


def test_runtime_name_owns_encounters():
    m = module({"Initial": initial("Visit"), "Visit": encounter("End"),
                "End": encounter_end("Terminal")})
    for _, record in pairs(run(m, population=1)):
        assert the_encounter(record, "Visit").owner == OWNER


def test_modules_run_in_code_point_order_of_their_keys():
    # "B_mod" sorts before "a_mod" (upper-case first): at the same instant a_mod runs last.
    def writer(value: str) -> dict:
        return module({"Initial": initial("Set"), "Set": set_attr("last", value, "Terminal")},
                      name=f"Writer {value}")

    result = run({"a_mod": writer("a"), "B_mod": writer("B")}, population=3)
    assert all(p.attributes["last"] == "a" for p in result.people)


def test_modules_see_each_others_attributes_in_order_at_the_same_instant():
    first = module({"Initial": initial("Set"), "Set": set_attr("flag", True, "Terminal")}, name="First")
    second = module({"Initial": {"type": "Initial", "conditional_transition": [
        {"condition": cond_attr("flag", "==", True), "transition": "Seen"},
        {"transition": "Terminal"}]}, "Seen": set_attr("seen", True, "Terminal")}, name="Second")
    result = run({"m1_first": first, "m2_second": second}, population=3)
    assert all(p.attributes.get("seen") is True for p in result.people)

