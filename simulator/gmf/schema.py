"""pydantic v2 models of the Generic Module Framework (module-format.md).

One model per state type (31), transition type (6) and condition type (21). Unknown JSON
members are ignored, as in Synthea; numbers in text fields keep their literal text and
non-integral numbers in integer fields truncate (see `coerce`).

Tagged unions use a callable discriminator whose tags start with "§" so that error locations
can drop them and show the plain JSON path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    model_validator,
)

from simulator.gmf.coerce import AnyValue, Int, JsonFloat, Text, describe_number, to_text
from simulator.record import Code

TAG = "§"

TimeUnit = Literal["seconds", "minutes", "hours", "days", "weeks", "months", "years"]
Operator = Literal["<", "<=", "==", ">=", ">", "!=", "is nil", "is not nil"]

VITAL_SIGNS = (
    "Height",
    "Weight",
    "Height Percentile",
    "Weight Percentile",
    "BMI",
    "Head Circumference",
    "Head Circumference Percentile",
    "Systolic Blood Pressure",
    "Diastolic Blood Pressure",
    "Oxygen Saturation",
    "Blood Glucose",
    "Glucose",
    "Urea Nitrogen",
    "Creatinine",
    "Calcium",
    "Sodium",
    "Potassium",
    "Chloride",
    "Carbon Dioxide",
    "Total Cholesterol",
    "Triglycerides",
    "LDL",
    "HDL",
    "Microalbumin Creatinine Ratio",
    "EGFR",
    "Heart Rate",
    "Respiration Rate",
    "Left ventricular Ejection fraction",
)
VitalName = Literal[VITAL_SIGNS]  # type: ignore[valid-type]

# ---------------------------------------------------------------- numbers in range
#
# The bounds are what the engine can run and the exporters can write: times stay inside the
# calendar (years 1 to 9999), rounding stays inside a double's precision, and counts stay
# small enough to fit one person's record in memory.

MAX_YEARS = 1000  # longest time quantity (a Delay, a death, a procedure, an age)
MAX_DECIMALS = 15  # a double holds 15-17 significant digits
MAX_SERIES = 1000  # imaging series per study
MAX_INSTANCES = 10_000  # imaging instances per series
MAX_QUANTITY = 2**31 - 1  # supply quantities, vaccine series (FHIR integers are 32-bit)
# Values drawn from ranges and distributions: far beyond any measurement, and small enough
# that drawing and rounding them (x · 10^15) stays finite.
MAX_MAGNITUDE = 1e250
YEARS_PER_UNIT = {
    "years": 1.0, "months": 1 / 12, "weeks": 7 / 365.25, "days": 1 / 365.25,
    "hours": 1 / 8766, "minutes": 1 / 525_960, "seconds": 1 / 31_557_600,
}


def _probability(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"probability {describe_number(value)} is not between 0 and 1 "
                         "(probabilities are fractions: 0.25 for 25%)")
    return value


Probability = Annotated[float, AfterValidator(_probability)]


def check_time(quantity: float, unit: str, what: str, negative_ok: bool = False) -> None:
    """A time quantity must be at least 0 (unless `negative_ok`) and at most MAX_YEARS."""
    shown = f"{describe_number(quantity)} {unit}"
    if quantity < 0 and not negative_ok:
        raise ValueError(f"{what} of {shown} is negative")
    if abs(quantity) * YEARS_PER_UNIT[unit] > MAX_YEARS:
        raise ValueError(f"{what} of {shown} is longer than {MAX_YEARS} years")


def _magnitude(value: Any, what: str) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool) \
            and abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"{what} {describe_number(value)} is beyond ±{MAX_MAGNITUDE:g}")


def _in_range(value: int, low: int, high: int, what: str) -> None:
    if not low <= value <= high:
        raise ValueError(f"{what} {describe_number(value)} is not between {low} and {high}")


def _parse_code(value: Any) -> Code:
    if isinstance(value, Code):
        return value
    if not isinstance(value, dict):
        raise ValueError("a code must be an object with 'system', 'code' and 'display'")
    missing = [k for k in ("system", "code") if value.get(k) is None]
    if missing:
        raise ValueError(f"code object is missing {', '.join(repr(m) for m in missing)}")
    parts = {k: to_text(value.get(k)) for k in ("system", "code", "display", "version")}
    for key, text in parts.items():
        if text is not None and not isinstance(text, str):
            raise ValueError(f"code member {key!r} must be a string, not {type(text).__name__}")
    if not parts["code"].strip():
        raise ValueError("empty code: give the concept's code")
    return Code(parts["system"], parts["code"], parts["display"] or "", parts["version"])


CodeField = Annotated[Code, PlainValidator(_parse_code)]


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, arbitrary_types_allowed=True)


# ---------------------------------------------------------------- shared blocks (§5)


class Distribution(Model):
    kind: Literal["EXACT", "UNIFORM", "GAUSSIAN", "EXPONENTIAL", "TRIANGULAR"]
    round: bool = False
    parameters: dict[str, float]

    @model_validator(mode="after")
    def _check_parameters(self) -> Distribution:
        required = {
            "EXACT": ("value",),
            "UNIFORM": ("low", "high"),
            "GAUSSIAN": ("mean", "standardDeviation"),
            "EXPONENTIAL": ("mean",),
            "TRIANGULAR": ("min", "mode", "max"),
        }[self.kind]
        missing = [p for p in required if p not in self.parameters]
        if missing:
            raise ValueError(
                f"{self.kind} distribution needs parameter(s) {', '.join(missing)}"
            )
        p = self.parameters
        for name, value in p.items():
            _magnitude(value, f"{self.kind} {name}")
        if self.kind == "GAUSSIAN" and p["standardDeviation"] < 0:
            raise ValueError("GAUSSIAN standardDeviation is negative")
        if self.kind == "EXPONENTIAL" and p["mean"] <= 0:
            raise ValueError("EXPONENTIAL mean must be positive")
        if self.kind == "TRIANGULAR" and not p["min"] <= p["mode"] <= p["max"]:
            raise ValueError("TRIANGULAR needs min <= mode <= max")
        if "min" in p and "max" in p and p["min"] > p["max"] and self.kind == "GAUSSIAN":
            raise ValueError("GAUSSIAN min is above max")
        return self

    def check_time(self, unit: str, what: str) -> None:
        """Every value the distribution can take, in `unit`, is a time quantity in range."""
        p = self.parameters
        if self.kind == "GAUSSIAN":
            check_time(abs(p["mean"]) + 6 * p["standardDeviation"], unit, what, negative_ok=True)
        elif self.kind == "EXPONENTIAL":
            check_time(20 * p["mean"], unit, what + " (20 times its mean)")
        else:
            for value in p.values():
                check_time(value, unit, what, negative_ok=True)


class Range(Model):
    """Unit-less range (Observation, SetAttribute, Symptom, VitalSign)."""

    low: float
    high: float
    decimals: Int | None = None

    @model_validator(mode="after")
    def _decimals(self) -> Range:
        _magnitude(self.low, "range low")
        _magnitude(self.high, "range high")
        if self.decimals is not None:
            _in_range(self.decimals, 0, MAX_DECIMALS, "decimals")
        return self


class RangeWithUnit(Model):
    low: float
    high: float
    unit: TimeUnit

    @model_validator(mode="after")
    def _bounds(self) -> RangeWithUnit:
        check_time(self.low, self.unit, "range low")
        check_time(self.high, self.unit, "range high")
        return self


class IntRangeWithUnit(Model):
    """Procedure `duration`: integer bounds (0.5 truncates to 0, a documented quirk)."""

    low: Int
    high: Int
    unit: TimeUnit

    @model_validator(mode="after")
    def _bounds(self) -> IntRangeWithUnit:
        check_time(self.low, self.unit, "duration low")
        check_time(self.high, self.unit, "duration high")
        return self


class Exact(Model):
    quantity: AnyValue

    @model_validator(mode="after")
    def _size(self) -> Exact:
        _magnitude(self.quantity, "exact quantity")
        return self


class ExactWithUnit(Model):
    quantity: float
    unit: TimeUnit

    @model_validator(mode="after")
    def _bounds(self) -> ExactWithUnit:
        check_time(self.quantity, self.unit, "a time")
        return self


class DateSpec(Model):
    year: Int = 0
    month: Int = 0
    day: Int = 0
    hour: Int = 0
    minute: Int = 0
    second: Int = 0
    millisecond: Int = 0

    @model_validator(mode="after")
    def _calendar(self) -> DateSpec:
        # The calendar is lenient (day 0 is the last day of the month before, month 13 the
        # January after, module-format.md §9), so only the instant must be in the calendar.
        year = (self.year * 12 + self.month - 1) // 12
        offset_days = (self.day - 1 + (self.hour + (self.minute + (self.second + self.millisecond
                       / 1000) / 60) / 60) / 24)
        if not 1 <= year <= 9999 or abs(offset_days) > 366 * 100:
            raise ValueError(f"date {self.year}-{self.month}-{self.day} {self.hour}:"
                             f"{self.minute}:{self.second}.{self.millisecond} is not a date "
                             "between the years 1 and 9999")
        return self


# ---------------------------------------------------------------- conditions (§9)


class Logic(Model):
    condition_type: str


class And(Logic):
    conditions: list[ConditionUnion]


class Or(Logic):
    conditions: list[ConditionUnion]


class Not(Logic):
    condition: ConditionUnion


class AtLeast(Logic):
    minimum: Int
    conditions: list[ConditionUnion]


class AtMost(Logic):
    maximum: Int
    conditions: list[ConditionUnion]


class TrueLogic(Logic):
    pass


class FalseLogic(Logic):
    pass


class Gender(Logic):
    gender: Text


class Age(Logic):
    quantity: float
    unit: Literal["years", "months"]
    operator: Operator

    @model_validator(mode="after")
    def _bounds(self) -> Age:
        check_time(self.quantity, self.unit, "an age", negative_ok=True)
        return self


class Date(Logic):
    operator: Operator
    year: Int | None = None
    month: Int | None = None
    date: DateSpec | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Date:
        if self.year is None and self.month is None and self.date is None:
            raise ValueError("a Date condition needs 'year', 'month' or 'date'")
        if self.year is not None:
            _in_range(self.year, 1, 9999, "year")
        elif self.month is not None:
            _in_range(self.month, 1, 12, "month")
        return self


class SocioeconomicStatus(Logic):
    category: Literal["High", "Middle", "Low"]


class Race(Logic):
    race: Text


class SymptomLogic(Logic):
    symptom: Text
    operator: Operator
    value: float = 0.0


class Attribute(Logic):
    attribute: Text
    operator: Operator
    value: AnyValue = None

    @model_validator(mode="after")
    def _value_needed(self) -> Attribute:
        if self.operator not in ("is nil", "is not nil") and "value" not in self.model_fields_set:
            raise ValueError(f"operator {self.operator!r} needs a 'value'")
        return self


class VitalSignLogic(Logic):
    vital_sign: VitalName
    operator: Operator
    value: float = 0.0


class _ByCodesOrAttribute(Logic):
    codes: list[CodeField] | None = None
    referenced_by_attribute: Text | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> _ByCodesOrAttribute:
        if not self.codes and not self.referenced_by_attribute:
            raise ValueError("needs 'codes' or 'referenced_by_attribute'")
        return self


class ObservationLogic(_ByCodesOrAttribute):
    operator: Operator
    value: AnyValue = None
    value_code: CodeField | None = None


class PriorState(Logic):
    name: Text
    since: Text | None = None
    within: ExactWithUnit | None = None


class ActiveCondition(_ByCodesOrAttribute):
    pass


class ActiveAllergy(_ByCodesOrAttribute):
    pass


class ActiveMedication(_ByCodesOrAttribute):
    pass


class ActiveCarePlan(_ByCodesOrAttribute):
    pass


CONDITION_TYPES: dict[str, type[Logic]] = {
    "And": And,
    "Or": Or,
    "Not": Not,
    "AtLeast": AtLeast,
    "AtMost": AtMost,
    "True": TrueLogic,
    "False": FalseLogic,
    "Gender": Gender,
    "Age": Age,
    "Date": Date,
    "SocioeconomicStatus": SocioeconomicStatus,
    "Race": Race,
    "Symptom": SymptomLogic,
    "Attribute": Attribute,
    "VitalSign": VitalSignLogic,
    "Observation": ObservationLogic,
    "PriorState": PriorState,
    "ActiveCondition": ActiveCondition,
    "ActiveAllergy": ActiveAllergy,
    "ActiveMedication": ActiveMedication,
    "ActiveCarePlan": ActiveCarePlan,
}

_WS = re.compile(r"\s+")


def condition_key(condition_type: Any) -> str | None:
    """Synthea matches condition types case-sensitively after removing all whitespace."""
    if not isinstance(condition_type, str):
        return None
    key = _WS.sub("", condition_type)
    return key if key in CONDITION_TYPES else None


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        key = condition_key(value.get("condition_type"))
    elif isinstance(value, Logic):
        key = condition_key(value.condition_type)
    else:
        return None
    return TAG + key if key else None


ConditionUnion = Annotated[
    Annotated[And, Tag(TAG + "And")]
    | Annotated[Or, Tag(TAG + "Or")]
    | Annotated[Not, Tag(TAG + "Not")]
    | Annotated[AtLeast, Tag(TAG + "AtLeast")]
    | Annotated[AtMost, Tag(TAG + "AtMost")]
    | Annotated[TrueLogic, Tag(TAG + "True")]
    | Annotated[FalseLogic, Tag(TAG + "False")]
    | Annotated[Gender, Tag(TAG + "Gender")]
    | Annotated[Age, Tag(TAG + "Age")]
    | Annotated[Date, Tag(TAG + "Date")]
    | Annotated[SocioeconomicStatus, Tag(TAG + "SocioeconomicStatus")]
    | Annotated[Race, Tag(TAG + "Race")]
    | Annotated[SymptomLogic, Tag(TAG + "Symptom")]
    | Annotated[Attribute, Tag(TAG + "Attribute")]
    | Annotated[VitalSignLogic, Tag(TAG + "VitalSign")]
    | Annotated[ObservationLogic, Tag(TAG + "Observation")]
    | Annotated[PriorState, Tag(TAG + "PriorState")]
    | Annotated[ActiveCondition, Tag(TAG + "ActiveCondition")]
    | Annotated[ActiveAllergy, Tag(TAG + "ActiveAllergy")]
    | Annotated[ActiveMedication, Tag(TAG + "ActiveMedication")]
    | Annotated[ActiveCarePlan, Tag(TAG + "ActiveCarePlan")],
    Discriminator(
        _condition_tag,
        custom_error_type="unknown_condition_type",
        custom_error_message="unknown condition_type",
    ),
]

for _model in (And, Or, Not, AtLeast, AtMost):
    _model.model_rebuild()

# ---------------------------------------------------------------- transitions (§7)


class NamedDistribution(Model):
    attribute: Text
    default: Probability = 0.0


def _probability_tag(value: Any) -> str:
    return TAG + ("named" if isinstance(value, dict | NamedDistribution) else "number")


ProbabilityOrNamed = Annotated[
    Annotated[Probability, Tag(TAG + "number")] | Annotated[NamedDistribution, Tag(TAG + "named")],
    Discriminator(_probability_tag),
]


class DistributedOption(Model):
    transition: Text
    distribution: ProbabilityOrNamed


class ConditionalOption(Model):
    transition: Text
    condition: ConditionUnion | None = None


class ComplexOption(Model):
    condition: ConditionUnion | None = None
    transition: Text | None = None
    distributions: list[DistributedOption] | None = None

    @model_validator(mode="after")
    def _target(self) -> ComplexOption:
        if self.transition is None and self.distributions is None:
            raise ValueError("a complex_transition option needs 'transition' or 'distributions'")
        return self


def _table_file(name: str) -> str:
    if not name.strip() or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"lookup_table_name {name!r} must be the name of a file in the "
                         "modules folder's lookup_tables/")
    return name


class LookupOption(Model):
    transition: Text
    default_probability: Probability = 0.0
    lookup_table_name: Annotated[Text, AfterValidator(_table_file)]


class TypeOfCare(Model):
    ambulatory: Text
    emergency: Text
    telemedicine: Text


TRANSITION_KEYS = (
    "direct_transition",
    "distributed_transition",
    "conditional_transition",
    "complex_transition",
    "lookup_table_transition",
    "type_of_care_transition",
)

# ---------------------------------------------------------------- states (§6)


class State(Model):
    type: str
    direct_transition: Text | None = None
    distributed_transition: list[DistributedOption] | None = None
    conditional_transition: list[ConditionalOption] | None = None
    complex_transition: list[ComplexOption] | None = None
    lookup_table_transition: list[LookupOption] | None = None
    type_of_care_transition: TypeOfCare | None = None

    def transition_key(self) -> str | None:
        """The transition member that wins when several are present (§4 rule 3)."""
        for key in TRANSITION_KEYS:
            if getattr(self, key) is not None:
                return key
        return None


class Initial(State):
    pass


class Terminal(State):
    pass


class Simple(State):
    pass


class Guard(State):
    allow: ConditionUnion


class Delay(State):
    exact: ExactWithUnit | None = None
    range: RangeWithUnit | None = None
    distribution: Distribution | None = None
    unit: TimeUnit | None = None

    @model_validator(mode="after")
    def _duration(self) -> Delay:
        if self.exact is None and self.range is None:
            if self.distribution is None:
                raise ValueError("a Delay needs 'exact', 'range' or 'distribution' with 'unit'")
            if self.unit is None:
                raise ValueError("a Delay with a 'distribution' needs a time 'unit'")
            self.distribution.check_time(self.unit, "a Delay")
        return self


class SetAttribute(State):
    attribute: Text
    value: AnyValue = None
    value_code: CodeField | None = None
    value_attribute: Text | None = None
    range: Range | None = None
    distribution: Distribution | None = None
    expression: Text | None = None
    series_data: Text | None = None
    period: float = 1.0

    @model_validator(mode="after")
    def _series(self) -> SetAttribute:
        if self.series_data is not None:
            for sample in self.series_data.split():
                try:
                    float(sample)
                except ValueError:
                    raise ValueError(f"series_data: {sample!r} is not a number (the samples are "
                                     "numbers separated by spaces)") from None
        return self


class Counter(State):
    attribute: Text
    action: Text
    amount: Int = 1

    @model_validator(mode="after")
    def _amount(self) -> Counter:
        _in_range(self.amount, -(2**53), 2**53, "amount")
        return self


class CallSubmodule(State):
    submodule: Text


class Physiology(State):
    model: Text | None = None
    solver: Text | None = None
    step_size: float | None = None
    sim_duration: float | None = None
    lead_time: float = 0.0
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    alt_direct_transition: Text

    @model_validator(mode="after")
    def _lead(self) -> Physiology:
        if self.sim_duration is not None and self.lead_time > self.sim_duration:
            raise ValueError("'lead_time' must not exceed 'sim_duration'")
        return self


ENCOUNTER_CLASSES = (
    "ambulatory",
    "emergency",
    "inpatient",
    "outpatient",
    "urgentcare",
    "wellness",
    "hospice",
    "home",
    "snf",
    "virtual",
)


class Encounter(State):
    wellness: bool = False
    encounter_class: Text | None = None
    codes: list[CodeField] = Field(default_factory=list)
    reason: Text | None = None
    telemedicine_possibility: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> Encounter:
        if self.encounter_class is not None and self.encounter_class.lower() not in ENCOUNTER_CLASSES:
            raise ValueError(
                f"unknown encounter_class {self.encounter_class!r} "
                f"(expected one of {', '.join(ENCOUNTER_CLASSES)})"
            )
        if self.telemedicine_possibility is not None and self.telemedicine_possibility.lower() not in (
            "none",
            "possible",
            "always",
        ):
            raise ValueError(
                f"unknown telemedicine_possibility {self.telemedicine_possibility!r} "
                "(expected none, possible or always)"
            )
        if not self.wellness and not self.codes:
            raise ValueError("a non-wellness Encounter needs 'codes'")
        return self


class EncounterEnd(State):
    discharge_disposition: CodeField | None = None


class ConditionOnset(State):
    codes: list[CodeField] = Field(min_length=1)
    target_encounter: Text | None = None
    assign_to_attribute: Text | None = None


class _EndBySelector(State):
    referenced_by_attribute: Text | None = None
    codes: list[CodeField] | None = None


class ConditionEnd(_EndBySelector):
    condition_onset: Text | None = None


class SeverityOption(Model):
    level: Literal["none", "mild", "moderate", "severe"]
    value: Probability


class ReactionSpec(Model):
    reaction: CodeField
    possible_severities: list[SeverityOption]

    @model_validator(mode="after")
    def _sum(self) -> ReactionSpec:
        if sum(s.value for s in self.possible_severities) > 1.001:
            raise ValueError("possible_severities probabilities sum to more than 1")
        return self


class AllergyOnset(ConditionOnset):
    allergy_type: Text | None = None
    category: Text | None = None
    reactions: list[ReactionSpec] = Field(default_factory=list)


class AllergyEnd(_EndBySelector):
    allergy_onset: Text | None = None


class Dosage(Model):
    amount: float | None = None
    frequency: Int | None = None
    period: float | None = None
    unit: TimeUnit | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Dosage:
        for member in ("amount", "period"):
            value = getattr(self, member)
            if value is not None and not 0 <= value <= 1e9:
                raise ValueError(f"dosage {member} {describe_number(value)} is not between 0 "
                                 "and 10^9")
        if self.frequency is not None:
            _in_range(self.frequency, 0, MAX_QUANTITY, "dosage frequency")
        return self


class Prescription(Model):
    """What the exporters read of a MedicationOrder's `prescription` (the state keeps the
    JSON object itself)."""

    as_needed: bool | None = None
    dosage: Dosage | None = None
    duration: ExactWithUnit | None = None
    refills: Int | None = None
    instructions: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _refills(self) -> Prescription:
        if self.refills is not None:
            _in_range(self.refills, 0, MAX_QUANTITY, "refills")
        return self


def _prescription(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        Prescription.model_validate(value)
    return value


class MedicationOrder(State):
    codes: list[CodeField] = Field(min_length=1)
    reason: Text | None = None
    prescription: Annotated[dict[str, Any] | None, AfterValidator(_prescription)] = None
    chronic: bool = False
    administration: bool = False
    assign_to_attribute: Text | None = None


class MedicationEnd(_EndBySelector):
    medication_order: Text | None = None


class CarePlanStart(State):
    codes: list[CodeField] = Field(min_length=1)
    activities: list[CodeField] = Field(default_factory=list)
    goals: list[dict[str, Any]] = Field(default_factory=list)
    reason: Text | None = None
    assign_to_attribute: Text | None = None


class CarePlanEnd(_EndBySelector):
    careplan: Text | None = None


class Procedure(State):
    codes: list[CodeField] = Field(min_length=1)
    reason: Text | None = None
    duration: IntRangeWithUnit | None = None
    distribution: Distribution | None = None
    unit: TimeUnit | None = None
    assign_to_attribute: Text | None = None

    @model_validator(mode="after")
    def _unit(self) -> Procedure:
        if self.duration is None and self.distribution is not None:
            if self.unit is None:
                raise ValueError("a Procedure with a 'distribution' needs a time 'unit'")
            self.distribution.check_time(self.unit, "a Procedure duration")
        return self


class SampledData(Model):
    attributes: list[Text] = Field(default_factory=list)
    origin_value: float | None = None
    factor: float | None = None
    lower_limit: float | None = None
    upper_limit: float | None = None
    decimal_format: Text | None = None


class ObservationSpec(Model):
    """An observation definition: the Observation state and each child of a panel/report."""

    codes: list[CodeField] = Field(min_length=1)
    category: Text | None = None
    unit: Text | None = None
    exact: Exact | None = None
    range: Range | None = None
    distribution: Distribution | None = None
    attribute: Text | None = None
    vital_sign: VitalName | None = None
    value_code: CodeField | None = None
    expression: Text | None = None
    sampled_data: SampledData | None = None
    attachment: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _unit_needed(self) -> ObservationSpec:
        if (self.exact is not None or self.range is not None) and not (self.unit or "").strip():
            raise ValueError("an observation with 'exact' or 'range' needs a non-blank 'unit'")
        return self


class Observation(State, ObservationSpec):
    pass


class MultiObservation(State):
    codes: list[CodeField] = Field(min_length=1)
    category: Text | None = None
    observations: list[ObservationSpec] = Field(default_factory=list)


class DiagnosticReport(State):
    codes: list[CodeField] = Field(min_length=1)
    observations: list[ObservationSpec] = Field(default_factory=list)


class InstanceSpec(Model):
    title: Text = ""
    sop_class: CodeField


class SeriesSpec(Model):
    body_site: CodeField
    modality: CodeField
    instances: list[InstanceSpec] = Field(min_length=1)
    min_number_instances: Int = 0
    max_number_instances: Int = 0

    @model_validator(mode="after")
    def _counts(self) -> SeriesSpec:
        _in_range(self.min_number_instances, 0, MAX_INSTANCES, "min_number_instances")
        _in_range(self.max_number_instances, 0, MAX_INSTANCES, "max_number_instances")
        return self


class ImagingStudy(State):
    procedure_code: CodeField
    series: list[SeriesSpec] = Field(min_length=1)
    min_number_series: Int = 0
    max_number_series: Int = 0

    @model_validator(mode="after")
    def _counts(self) -> ImagingStudy:
        _in_range(self.min_number_series, 0, MAX_SERIES, "min_number_series")
        _in_range(self.max_number_series, 0, MAX_SERIES, "max_number_series")
        return self


class Device(State):
    code: CodeField
    manufacturer: Text | None = None
    model: Text | None = None
    assign_to_attribute: Text | None = None


class DeviceEnd(_EndBySelector):
    device: Text | None = None


class SupplyItem(Model):
    quantity: Int
    code: CodeField

    @model_validator(mode="after")
    def _quantity(self) -> SupplyItem:
        _in_range(self.quantity, 0, MAX_QUANTITY, "quantity")
        return self


class SupplyList(State):
    supplies: list[SupplyItem] = Field(min_length=1)


class Vaccine(State):
    codes: list[CodeField] = Field(min_length=1)
    series: Int = 1

    @model_validator(mode="after")
    def _series(self) -> Vaccine:
        _in_range(self.series, 1, MAX_QUANTITY, "series")
        return self


class Symptom(State):
    symptom: Text
    cause: Text | None = None
    probability: float = 1.0  # outside [0, 1] it is 1.0 (module-format.md §6.29)
    exact: Exact | None = None
    range: Range | None = None
    distribution: Distribution | None = None

    @model_validator(mode="after")
    def _value(self) -> Symptom:
        _number_quantity(self.exact, "a Symptom")
        return self


class VitalSign(State):
    vital_sign: VitalName
    unit: Text | None = None
    exact: Exact | None = None
    range: Range | None = None
    distribution: Distribution | None = None
    expression: Text | None = None

    @model_validator(mode="after")
    def _source(self) -> VitalSign:
        if self.exact is None and self.range is None and self.expression is None and self.distribution is None:
            raise ValueError("a VitalSign needs 'exact', 'range', 'distribution' or 'expression'")
        _number_quantity(self.exact, "a VitalSign")
        return self


def _number_quantity(exact: Exact | None, what: str) -> None:
    if exact is not None and (isinstance(exact.quantity, bool)
                              or not isinstance(exact.quantity, int | float)):
        raise ValueError(f"{what}'s exact quantity must be a number, not {exact.quantity!r}")


class Death(State):
    codes: list[CodeField] | None = None
    condition_onset: Text | None = None
    referenced_by_attribute: Text | None = None
    exact: ExactWithUnit | None = None
    range: RangeWithUnit | None = None


STATE_TYPES: dict[str, type[State]] = {
    cls.__name__: cls
    for cls in (
        Initial,
        Terminal,
        Simple,
        Guard,
        Delay,
        SetAttribute,
        Counter,
        CallSubmodule,
        Physiology,
        Encounter,
        EncounterEnd,
        ConditionOnset,
        ConditionEnd,
        AllergyOnset,
        AllergyEnd,
        MedicationOrder,
        MedicationEnd,
        CarePlanStart,
        CarePlanEnd,
        Procedure,
        Observation,
        MultiObservation,
        DiagnosticReport,
        ImagingStudy,
        Device,
        DeviceEnd,
        SupplyList,
        Vaccine,
        Symptom,
        VitalSign,
        Death,
    )
}


def _state_tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return TAG + kind if isinstance(kind, str) and kind in STATE_TYPES else None


StateUnion = Annotated[
    Annotated[Initial, Tag(TAG + "Initial")]
    | Annotated[Terminal, Tag(TAG + "Terminal")]
    | Annotated[Simple, Tag(TAG + "Simple")]
    | Annotated[Guard, Tag(TAG + "Guard")]
    | Annotated[Delay, Tag(TAG + "Delay")]
    | Annotated[SetAttribute, Tag(TAG + "SetAttribute")]
    | Annotated[Counter, Tag(TAG + "Counter")]
    | Annotated[CallSubmodule, Tag(TAG + "CallSubmodule")]
    | Annotated[Physiology, Tag(TAG + "Physiology")]
    | Annotated[Encounter, Tag(TAG + "Encounter")]
    | Annotated[EncounterEnd, Tag(TAG + "EncounterEnd")]
    | Annotated[ConditionOnset, Tag(TAG + "ConditionOnset")]
    | Annotated[ConditionEnd, Tag(TAG + "ConditionEnd")]
    | Annotated[AllergyOnset, Tag(TAG + "AllergyOnset")]
    | Annotated[AllergyEnd, Tag(TAG + "AllergyEnd")]
    | Annotated[MedicationOrder, Tag(TAG + "MedicationOrder")]
    | Annotated[MedicationEnd, Tag(TAG + "MedicationEnd")]
    | Annotated[CarePlanStart, Tag(TAG + "CarePlanStart")]
    | Annotated[CarePlanEnd, Tag(TAG + "CarePlanEnd")]
    | Annotated[Procedure, Tag(TAG + "Procedure")]
    | Annotated[Observation, Tag(TAG + "Observation")]
    | Annotated[MultiObservation, Tag(TAG + "MultiObservation")]
    | Annotated[DiagnosticReport, Tag(TAG + "DiagnosticReport")]
    | Annotated[ImagingStudy, Tag(TAG + "ImagingStudy")]
    | Annotated[Device, Tag(TAG + "Device")]
    | Annotated[DeviceEnd, Tag(TAG + "DeviceEnd")]
    | Annotated[SupplyList, Tag(TAG + "SupplyList")]
    | Annotated[Vaccine, Tag(TAG + "Vaccine")]
    | Annotated[Symptom, Tag(TAG + "Symptom")]
    | Annotated[VitalSign, Tag(TAG + "VitalSign")]
    | Annotated[Death, Tag(TAG + "Death")],
    Discriminator(
        _state_tag, custom_error_type="unknown_state_type", custom_error_message="unknown state type"
    ),
]


class ModuleSchema(Model):
    name: Text
    states: dict[str, StateUnion]
    gmf_version: float | None = None
    remarks: Any = None
    specialty: Text | None = None

    @model_validator(mode="after")
    def _version(self) -> ModuleSchema:
        if self.gmf_version is not None and self.gmf_version > 2.0:
            raise ValueError(f"gmf_version {self.gmf_version:g} is newer than supported (2)")
        return self


__all__ = ["ModuleSchema", "STATE_TYPES", "CONDITION_TYPES", "JsonFloat", "condition_key"]
