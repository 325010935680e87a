"""Plain, typed health-record data.

Everything here is data with no behaviour and no knowledge of any output format: the engine
fills it in, exporters read it. Times are integer milliseconds since 1970-01-01T00:00:00Z.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Code:
    """A coded concept. Two codes are equal when system and code are equal."""

    system: str
    code: str
    display: str = ""
    version: str | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Code) and self.system == other.system and self.code == other.code

    def __hash__(self) -> int:
        return hash((self.system, self.code))


@dataclass(slots=True)
class Entry:
    """Common part of every record entry. `name` is the module state that last touched it."""

    id: str
    start: int
    codes: list[Code]
    name: str = ""
    stop: int | None = None

    @property
    def code(self) -> Code:
        return self.codes[0]


@dataclass(slots=True)
class Condition(Entry):
    pass


@dataclass(slots=True)
class Reaction:
    code: Code
    severity: str  # "mild" | "moderate" | "severe"


@dataclass(slots=True)
class Allergy(Entry):
    allergy_type: str | None = None  # "allergy" | "intolerance"
    category: str | None = None  # "food" | "medication" | "environment" | "biologic"
    reactions: list[Reaction] = field(default_factory=list)


@dataclass(slots=True)
class Medication(Entry):
    reasons: list[Code] = field(default_factory=list)
    prescription: dict[str, Any] | None = None
    chronic: bool = False
    administration: bool = False
    stop_reason: Code | None = None
    cost: float = 0.0
    claim: Claim | None = None  # a medication is billed on a claim of its own


@dataclass(slots=True)
class CarePlan(Entry):
    activities: list[Code] = field(default_factory=list)
    goals: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[Code] = field(default_factory=list)
    stop_reason: Code | None = None


@dataclass(slots=True)
class Procedure(Entry):
    reasons: list[Code] = field(default_factory=list)
    cost: float = 0.0


@dataclass(slots=True)
class Observation(Entry):
    """`value` is a float, int, bool, str, Code, list (sampled data) or None (a panel)."""

    value: Any = None
    unit: str = ""
    category: str | None = None
    children: list[Observation] = field(default_factory=list)


@dataclass(slots=True)
class Report(Entry):
    observations: list[Observation] = field(default_factory=list)
    cost: float = 0.0


@dataclass(slots=True)
class Immunization(Entry):
    series: int | None = None
    cost: float = 0.0


@dataclass(slots=True)
class ImagingInstance:
    uid: str
    title: str
    sop_class: Code


@dataclass(slots=True)
class ImagingSeries:
    uid: str
    body_site: Code
    modality: Code
    instances: list[ImagingInstance]


@dataclass(slots=True)
class ImagingStudy(Entry):
    """`codes` holds the study's procedure code; `uid` is the DICOM study UID."""

    uid: str = ""
    series: list[ImagingSeries] = field(default_factory=list)


@dataclass(slots=True)
class Device(Entry):
    manufacturer: str | None = None
    model: str | None = None
    udi: str = ""
    device_identifier: str = ""
    lot_number: str = ""
    serial_number: str = ""
    manufacture_time: int = 0
    expiration_time: int = 0


@dataclass(slots=True)
class Supply(Entry):
    quantity: int = 1


@dataclass(slots=True)
class Encounter(Entry):
    """A visit. `owner` is the module runtime name that created it (or "Encounter")."""

    encounter_class: str = "ambulatory"
    owner: str = ""
    reason: Code | None = None
    discharge: Code | None = None
    organization_id: str | None = None
    clinician_id: str | None = None
    payer_id: str | None = None
    base_cost: float = 0.0
    payer_coverage: float = 0.0  # amount of the encounter's claim the primary payer pays
    ended: bool = False
    observations: list[Observation] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)
    procedures: list[Procedure] = field(default_factory=list)
    immunizations: list[Immunization] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    careplans: list[CarePlan] = field(default_factory=list)
    imaging_studies: list[ImagingStudy] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    supplies: list[Supply] = field(default_factory=list)
    claim: Claim | None = None  # set when the encounter ends (adjudicated by the payer)
    # Its observations as observations.csv lines, made in bulk by the compiled engine when a
    # run writes only CSV or Parquet (then `observations` is empty): no Observation objects.
    observation_lines: list[str] | None = None

    @property
    def claim_total(self) -> float:
        """The encounter's own cost plus its claim's line items (procedures, immunizations,
        reports)."""
        total = self.base_cost
        for group in (self.procedures, self.immunizations, self.reports):
            for entry in group:
                total += entry.cost
        return total


@dataclass(slots=True)
class ClaimLine:
    """One billed line of a claim and who paid it. The patient's part is copay + deductible +
    coinsurance; payer + patient equals the cost truncated to cents."""

    entry_id: str  # the encounter, procedure, immunization, report or medication billed
    kind: str  # "encounter", "procedure", "immunization", "report" or "medication"
    cost: float
    copay: float = 0.0
    deductible: float = 0.0
    coinsurance: float = 0.0
    payer: float = 0.0

    @property
    def patient(self) -> float:
        return self.copay + self.deductible + self.coinsurance


@dataclass(slots=True)
class Claim:
    """A bill to the primary payer: the encounter (or medication) line first, then its items.

    `payer_id` is the NO_INSURANCE payer's id when the person was uninsured (then `member_id`
    is empty and the patient pays every line)."""

    id: str
    payer_id: str
    lines: list[ClaimLine]
    member_id: str = ""
    secondary_payer_id: str = ""

    @property
    def total(self) -> float:
        return sum(line.cost for line in self.lines)

    @property
    def payer_paid(self) -> float:
        # added in line order, as Billing adds a late line onto the encounter's coverage
        # (sum() of floats is compensated from Python 3.12, and would differ in the last bit)
        paid = 0.0
        for line in self.lines:
            paid += line.payer
        return paid

    @property
    def patient_paid(self) -> float:
        return sum(line.patient for line in self.lines)


@dataclass(slots=True)
class Patient:
    """Demographics of one person as exported (snapshot at the end of the simulation)."""

    id: str
    birthdate: int
    gender: str
    race: str
    ethnicity: str
    deathdate: int | None = None
    cause_of_death: Code | None = None
    ssn: str = ""
    drivers: str = ""
    passport: str = ""
    prefix: str = ""
    first: str = ""
    middle: str = ""
    last: str = ""
    suffix: str = ""
    maiden: str = ""
    marital: str = ""
    birthplace: str = ""
    address: str = ""
    city: str = ""
    state: str = ""
    county: str = ""
    fips: str = ""
    zip: str = ""
    lat: float | None = None
    lon: float | None = None
    income: int | None = None
    phone: str = ""
    language: str = ""  # first language, lower-case English name ("english", "spanish", ...)
    mothers_maiden_name: str = ""  # "First Last"
    birth_city: str = ""
    birth_state: str = ""
    birth_country: str = ""
    multiple_birth: int | None = None  # birth order (1-3) of a multiple birth
    sexual_orientation: str = ""

    @property
    def name(self) -> str:
        """"First Last", without the parts the patient has not got."""
        return " ".join(x for x in (self.first, self.last) if x)


@dataclass(slots=True)
class CoveragePeriod:
    """One insurance plan period of a person (feeds payer_transitions.csv).

    `payer_id` is the NO_INSURANCE payer's id when uninsured; `member_id` is empty then.
    """

    start: int
    end: int
    payer_id: str
    plan_id: str = ""
    secondary_payer_id: str = ""
    member_id: str = ""
    ownership: str = ""  # "Self", "Guardian", "Spouse" or ""
    owner_name: str = ""


@dataclass(slots=True)
class HealthRecord:
    """One person's record: demographics plus encounters in creation order.

    `index` is the person's position in the population; `end_time` is when the simulation of
    this person stopped (the reference time, or the death step).
    """

    patient: Patient
    index: int = 0
    end_time: int = 0
    encounters: list[Encounter] = field(default_factory=list)
    coverage: list[CoveragePeriod] = field(default_factory=list)
