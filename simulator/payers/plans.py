"""Payers, their plans and the eligibility rules, loaded from `simulator/data/payers.json`.

The data file carries a source beside every figure; this module only turns it into frozen,
typed objects. Ids are name-based UUIDs so they are identical in every run (csv-export.md
§3.15: "name-based UUID of <numeric id><name>").
"""

from __future__ import annotations

import bisect
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "payers.json"

GOVERNMENT = "GOVERNMENT"
PRIVATE = "PRIVATE"
NO_INSURANCE = "NO_INSURANCE"

# Plan eligibility policies (engine-behaviour.md §8).
ELIGIBLE_ALL = "all"
ELIGIBLE_MEDICARE = "medicare"
ELIGIBLE_MEDICAID = "medicaid"
ELIGIBLE_DUAL = "dual"
ELIGIBLE_NONE = "none"


def payer_uuid(numeric_id: int, name: str) -> str:
    return str(uuid.uuid3(uuid.NAMESPACE_OID, f"{numeric_id}{name}"))


def plan_uuid(payer_numeric_id: int, design: str) -> str:
    return str(uuid.uuid3(uuid.NAMESPACE_OID, f"{payer_numeric_id}:{design}"))


@dataclass(frozen=True, slots=True)
class Payer:
    id: str
    numeric_id: int
    name: str
    ownership: str  # GOVERNMENT | PRIVATE | NO_INSURANCE
    address: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    phone: str = ""


def _by_year(table: tuple[tuple[int, float], ...], year: int, default: float) -> float:
    """Step lookup: the row of the latest year <= `year`, the first row before the table."""
    if not table:
        return default
    i = bisect.bisect_right([y for y, _ in table], year) - 1
    return table[max(i, 0)][1]


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    payer: Payer
    name: str
    deductible: float
    copay: float
    coinsurance: float  # the patient's share of what is left after copay and deductible, 0-1
    monthly_premium: float
    max_out_of_pocket: float | None  # None: no cap (Original Medicare)
    priority: int  # lower wins among candidates (engine-behaviour.md §8)
    start_year: int | None = None  # None: open-ended
    end_year: int | None = None
    medicare_supplement: bool = False
    eligibility: str = ELIGIBLE_ALL
    premium_by_year: tuple[tuple[int, float], ...] = ()
    deductible_by_year: tuple[tuple[int, float], ...] = ()
    # From this calendar plan year on, preventive services carry no cost sharing (None: never)
    preventive_free_from_year: int | None = None
    # (service, copay): services paid with that copay alone, outside the deductible
    copay_only: tuple[tuple[str, float], ...] = ()
    # Relative chance of this plan among the best candidates of a plan choice
    weight: float = 1.0

    @property
    def is_government(self) -> bool:
        return self.payer.ownership == GOVERNMENT

    @property
    def is_insured(self) -> bool:
        return self.payer.ownership != NO_INSURANCE

    def active(self, year: int) -> bool:
        return (self.start_year is None or year >= self.start_year) and (
            self.end_year is None or year <= self.end_year
        )

    def premium_in(self, year: int) -> float:
        return _by_year(self.premium_by_year, year, self.monthly_premium)

    def deductible_in(self, year: int) -> float:
        return _by_year(self.deductible_by_year, year, self.deductible)

    def preventive_free_in(self, year: int | None) -> bool:
        """Whether preventive services cost the patient nothing in a plan year of `year`
        (None: no plan year was started, and the plan's latest rule holds, as for its
        scalar deductible)."""
        first = self.preventive_free_from_year
        return first is not None and (year is None or year >= first)


@dataclass(frozen=True, slots=True)
class MedicaidRules:
    start_year: int
    child_max_age: int
    child_limit_before_chip: float
    chip_start_year: int
    child_limit: float
    pregnant_limit: float
    adult_limit_before_expansion: float
    adult_limit_non_expansion: float
    non_expansion_from_year: int
    expansion_limit: float
    # state -> first calendar year the ACA expansion counts for
    expansion_year: Mapping[str, int]
    # state -> (from year, adult limit) for non-expansion states with their own adult coverage
    state_adult_limits: Mapping[str, tuple[int, float]]


@dataclass(frozen=True, slots=True)
class Rules:
    premium_share_of_income: float
    mandate_year: int
    poverty_level: float
    medicare_age: int
    medicare_start_year: int
    medicare_disability_start_year: int
    medicaid: MedicaidRules
    # state -> share of the people without public coverage who have none (ACS 2018), and the
    # national share for any other state (engine-behaviour.md §8, "Plan choice")
    uninsured_without_public: Mapping[str, float] = field(default_factory=dict)
    uninsured_without_public_national: float = 0.0

    def uninsured_share(self, state: str) -> float:
        """The chance that a person whom no government plan accepts has no private plan."""
        return self.uninsured_without_public.get(state, self.uninsured_without_public_national)


@dataclass(frozen=True, slots=True)
class PayerCatalog:
    payers: tuple[Payer, ...]  # export order: government, private, then NO_INSURANCE
    plans: tuple[Plan, ...]  # every plan except the NO_INSURANCE plan, in payer order
    no_insurance: Payer
    no_insurance_plan: Plan
    rules: Rules
    by_id: Mapping[str, Payer] = field(default_factory=dict)
    plan_by_id: Mapping[str, Plan] = field(default_factory=dict)


def _value(entry: Any) -> Any:
    """A figure is stored as {"value": v, "source": id}; plain values pass through."""
    return entry["value"] if isinstance(entry, dict) and "value" in entry else entry


def _table(rows: list[dict[str, Any]]) -> tuple[tuple[int, float], ...]:
    return tuple(sorted((int(r["year"]), float(r["amount"])) for r in rows))


def _expansion_year(iso: str) -> int:
    # Plans are chosen once a year, so a mid-year start counts from the year it was in force
    # for at least half of (1 July or earlier), else from the next year.
    d = date.fromisoformat(iso)
    return d.year if (d.month, d.day) <= (7, 1) else d.year + 1


def _rules(data: Mapping[str, Any]) -> Rules:
    aff, mc, md = data["affordability"], data["medicare"], data["medicaid"]
    gap = data.get("uninsured_without_public", {})
    medicaid = MedicaidRules(
        start_year=int(_value(md["start_year"])),
        child_max_age=int(_value(md["child_max_age"])),
        child_limit_before_chip=float(_value(md["child_limit_before_chip"])),
        chip_start_year=int(_value(md["chip_start_year"])),
        child_limit=float(_value(md["child_limit"])),
        pregnant_limit=float(_value(md["pregnant_limit"])),
        adult_limit_before_expansion=float(_value(md["adult_limit_before_expansion"])),
        adult_limit_non_expansion=float(_value(md["adult_limit_non_expansion"])),
        non_expansion_from_year=int(_value(md["non_expansion_from_year"])),
        expansion_limit=float(_value(md["expansion_limit"])),
        expansion_year={r["state"]: _expansion_year(r["date"]) for r in md["expansion_effective"]},
        state_adult_limits={
            r["state"]: (int(r["from_year"]), float(r["limit"]))
            for r in md["non_expansion_state_limits"]
        },
    )
    return Rules(
        premium_share_of_income=float(_value(aff["premium_share_of_income"])),
        mandate_year=int(_value(aff["mandate_year"])),
        poverty_level=float(_value(aff["poverty_level"])),
        medicare_age=int(_value(mc["age"])),
        medicare_start_year=int(_value(mc["start_year"])),
        medicare_disability_start_year=int(_value(mc["disability_and_esrd_start_year"])),
        medicaid=medicaid,
        uninsured_without_public={s: float(v) for s, v in gap.get("by_state", {}).items()},
        uninsured_without_public_national=float(gap.get("national", 0.0)),
    )


def _payer(entry: Mapping[str, Any]) -> Payer:
    numeric_id, name = int(entry["numeric_id"]), str(entry["name"])
    return Payer(
        id=payer_uuid(numeric_id, name),
        numeric_id=numeric_id,
        name=name,
        ownership=str(entry["ownership"]),
        address=str(entry.get("address", "")),
        city=str(entry.get("city", "")),
        state=str(entry.get("state", "")),
        zip=str(entry.get("zip", "")),
        phone=str(entry.get("phone", "")),
    )


def _plan(payer: Payer, key: str, design: Mapping[str, Any], start_year: int | None) -> Plan:
    premiums = _table(design.get("monthly_premium_by_year", []))
    deductibles = _table(design.get("deductible_by_year", []))
    # Scalar fields of a by-year plan hold the latest figure; callers use premium_in(year).
    premium = _value(design["monthly_premium"]) if "monthly_premium" in design else premiums[-1][1]
    deductible = _value(design["deductible"]) if "deductible" in design else deductibles[-1][1]
    cap = _value(design.get("max_out_of_pocket"))
    label = design.get("label")
    preventive = _value(design.get("preventive_free_from_year"))
    copay_only = tuple((service, float(_value(row)))
                       for service, row in design.get("copay_only", {}).items() if service != "note")
    return Plan(
        id=plan_uuid(payer.numeric_id, key),
        payer=payer,
        name=f"{payer.name} {label}" if label else payer.name,
        deductible=float(deductible),
        copay=float(_value(design["copay"])),
        coinsurance=float(_value(design["coinsurance"])),
        monthly_premium=float(premium),
        max_out_of_pocket=None if cap is None else float(cap),
        priority=int(design["priority"]),
        start_year=start_year,
        end_year=None,
        medicare_supplement=bool(design.get("medicare_supplement", False)),
        eligibility=str(design["eligibility"]),
        premium_by_year=premiums,
        deductible_by_year=deductibles,
        preventive_free_from_year=None if preventive is None else int(preventive),
        copay_only=copay_only,
        weight=float(_value(design.get("enrolment_weight", 1.0))),
    )


def build_catalog(data: Mapping[str, Any]) -> PayerCatalog:
    rules = _rules(data)
    designs = data["plan_designs"]
    start = {
        ELIGIBLE_MEDICARE: rules.medicare_start_year,
        ELIGIBLE_MEDICAID: rules.medicaid.start_year,
        ELIGIBLE_DUAL: max(rules.medicare_start_year, rules.medicaid.start_year),
    }
    entries = sorted(data["payers"], key=lambda e: e["ownership"] != GOVERNMENT)  # stable
    payers: list[Payer] = []
    plans: list[Plan] = []
    for entry in entries:
        payer = _payer(entry)
        payers.append(payer)
        for key in entry["plans"]:
            design = designs[key]
            plans.append(_plan(payer, key, design, start.get(design["eligibility"])))
    none_payer = _payer(data["no_insurance"])
    none_plan = Plan(
        id=plan_uuid(none_payer.numeric_id, "none"), payer=none_payer, name=none_payer.name,
        deductible=0.0, copay=0.0, coinsurance=1.0, monthly_premium=0.0, max_out_of_pocket=None,
        priority=1 << 30, eligibility=ELIGIBLE_NONE,
    )
    payers.append(none_payer)
    return PayerCatalog(
        payers=tuple(payers),
        plans=tuple(plans),
        no_insurance=none_payer,
        no_insurance_plan=none_plan,
        rules=rules,
        by_id={p.id: p for p in payers},
        plan_by_id={p.id: p for p in (*plans, none_plan)},
    )


def load_payers_from(path: Path) -> PayerCatalog:
    with open(path, encoding="utf-8") as f:
        return build_catalog(json.load(f))


@lru_cache(maxsize=1)
def load_payers() -> PayerCatalog:
    """The bundled catalog (cached: it is immutable and shared by every person)."""
    return load_payers_from(DATA_FILE)
