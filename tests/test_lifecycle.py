"""The built-in life around the modules: attributes the corpus reads, visits, payers, death."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from simulator.config import PROJECT_MODULES, RunConfig
from simulator.engine import timeutil as tu
from simulator.testing import run_modules
from simulator.worker import Worker

REFERENCE = date(2024, 6, 1)
NOOP = {"name": "Noop", "states": {"Initial": {"type": "Initial", "direct_transition": "Terminal"},
                                    "Terminal": {"type": "Terminal"}}}

# Attributes JSON modules of the corpus read that the engine (not another module) must provide
# (engine-behaviour.md §5.1), for living adults.
ENGINE_ATTRIBUTES = (
    "gender", "race", "ethnicity", "first_language", "income", "poverty_ratio", "education",
    "state", "city", "county", "zip", "fips", "marital_status", "sexual_orientation", "smoker",
    "RH_NEG", "birth_country", "food_insecurity", "severe_housing_cost_burden", "unemployed",
    "no_vehicle_access", "uninsured", "insurance_status", "socioeconomic_category",
    "mi_risk", "ihd_risk", "stroke_risk", "atrial_fibrillation_risk", "cardio_risk", "ascvd_risk",
    "C19_FULLY_VACCINATED", "C19_VACCINE_STATUS", "immunizations", "AGE", "AGE_MONTHS",
)


def test_every_attribute_the_corpus_reads_is_provided_for_adults() -> None:
    result = run_modules(NOOP, population=25, age=(45, 70), reference_date=REFERENCE, seed=3)
    for person in result.people:
        if not person.alive(tu.date_ms(REFERENCE)):
            continue
        missing = [name for name in ENGINE_ATTRIBUTES if person.attributes.get(name) is None]
        assert not missing, (person.index, missing)
        assert isinstance(person.attributes.get("mi_risk"), float)
        age = tu.age_years(person.birth, tu.date_ms(REFERENCE))
        fall = person.attributes.get("probability_of_fall_injury")
        assert (fall is None) == (age < 65)


def test_children_have_bmi_percentile_and_are_vaccinated_on_schedule() -> None:
    result = run_modules(NOOP, population=15, age=(3, 6), reference_date=REFERENCE, seed=4)
    for person, record in zip(result.people, result.records, strict=True):
        percentile = person.attributes.get("bmi_percentile")
        assert percentile is not None and 0.0 <= percentile <= 100.0
        doses = Counter(i.codes[0].code for e in record.encounters for i in e.immunizations)
        assert doses["20"] >= 4 and doses["03"] >= 1, doses  # DTaP and MMR by age 3


def test_encounters_have_provider_clinician_and_payer_and_coverage_is_contiguous(tmp_path: Path) -> None:
    config = RunConfig(population=6, seed=8, reference_date=REFERENCE, modules_dir=PROJECT_MODULES,
                       output=tmp_path, min_age=20, max_age=80)
    worker = Worker.for_run(config)
    shared = worker.world
    ints, floats = worker.population.draw(list(range(6)))
    for k in range(6):
        for record in worker.records(k, ints[k], floats[k]):
            assert record.encounters
            for enc in record.encounters:
                org = shared.network.organization(enc.organization_id)
                assert enc.encounter_class in org.services or org.kind == "hospital"
                assert shared.network.clinician_by_id(enc.clinician_id).organization_id == org.id
                assert enc.payer_id in shared.payers.by_id
            periods = record.coverage
            assert periods and periods[0].start == record.patient.birthdate
            for a, b in zip(periods, periods[1:], strict=False):
                assert a.end == b.start


def test_natural_death_gives_deceased_records_then_a_living_person(tmp_path: Path) -> None:
    # Only the vital-signs module, so every death is a natural one.
    config = RunConfig(population=12, seed=2, reference_date=REFERENCE, modules_dir=PROJECT_MODULES,
                       modules=("wellness_vitals",), output=tmp_path, min_age=95, max_age=99)
    worker = Worker.for_run(config)
    ints, floats = worker.population.draw(list(range(12)))
    deceased = 0
    for k in range(12):
        records = worker.records(k, ints[k], floats[k])
        *dead, alive = records
        assert alive.patient.deathdate is None
        for record in dead:
            deceased += 1
            assert record.patient.deathdate is not None
            assert record.patient.cause_of_death is not None
            assert record.patient.cause_of_death.code == "9855000"
            assert all(e.start <= record.patient.deathdate for e in record.encounters)
            assert record.encounters[-1].codes[0].code == "308646001"  # death certification
    # at 95-99 most unconditioned draws die first (US life table survival to 95 is under 10 %)
    assert deceased >= 8
