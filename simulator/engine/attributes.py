"""The person attributes the engine and its built-in behaviour set, so modules may read them
without any module setting them (`simulate modules check` warns about every other attribute
that is read but never set). `tests/test_engine_attributes.py` scans the source for attribute
writes and fails when one is missing here.
"""

from __future__ import annotations

from simulator.builtin.cardiovascular import CARDIO_ATTRIBUTES

# simulator/population/people.py: demographics, place, socioeconomic status, identifiers
DEMOGRAPHICS = (
    "id", "gender", "race", "ethnicity", "first_language", "state", "state_abbreviation",
    "city", "county", "fips", "zip", "lat", "lon", "coordinate", "address", "birthdate",
    "birth_city", "birth_state", "birth_country", "birthplace", "multiple_birth_status",
    "sexual_orientation", "RH_NEG", "telecom", "identifier_ssn",
    "first_name", "middle_name", "last_name", "name", "name_mother", "name_father",
    "education", "education_level", "income", "income_level", "poverty_ratio",
    "occupation_level", "socioeconomic_score", "socioeconomic_category",
    "adherence probability", "active_weight_management",
)
# simulator/population/sampler.py SDOH: social determinants drawn per person
SOCIAL = ("food_insecurity", "severe_housing_cost_burden", "unemployed", "no_vehicle_access",
          "uninsured")
# simulator/builtin/lifecycle.py: events over a life
LIFECYCLE = (
    "alcoholic", "smoker", "quit smoking probability", "quit smoking age",
    "quit alcoholism probability", "quit alcoholism age", "identifier_drivers",
    "identifier_passport", "marital_status", "maiden_name", "name_prefix", "name_suffix",
)
# simulator/builtin: insurance, vaccinations, weight management
BUILT_INS = (
    "insurance_status", "immunizations",
    "C19_FULLY_VACCINATED", "C19_SCHEDULED_FIRST_SHOT", "C19_SCHEDULED_SECOND_SHOT",
    "C19_VACCINE", "C19_VACCINE_STATUS",
    "long_term_weight_loss", "pre_management_weight", "weight_loss_adherence",
    "weight_loss_bmi_percentile_change", "weight_loss_percentage", "weight_management_start",
)
# simulator/engine: death, visits, vital-sign flags
ENGINE = (
    "deathdate", "cause_of_death", "last_visit_symptom_total", "high_total_chol", "low_hdl",
    "active_wellness_encounter", "active_emergency_encounter", "active_urgent_care_encounter",
)
# simulator/builtin/computed.py: computed when read
COMPUTED = (*CARDIO_ATTRIBUTES, "probability_of_fall_injury", "days_until_death", "AGE",
            "AGE_MONTHS", "bmi_percentile")

ENGINE_ATTRIBUTES = frozenset((*DEMOGRAPHICS, *SOCIAL, *LIFECYCLE, *BUILT_INS, *ENGINE,
                               *COMPUTED))


def set_by_engine(name: str) -> bool:
    """Whether the engine sets the attribute (Synthea's per-module wellness flags included)."""
    return name in ENGINE_ATTRIBUTES or name.startswith("active_wellness_encounter")
