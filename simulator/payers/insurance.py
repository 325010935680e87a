"""Yearly plan choice, cost sharing and the per-person insurance process (§4.1, §8).

`choose_plan` and `cost_sharing` are pure: the random number is passed in, so the same inputs
always give the same plan.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from simulator.engine import timeutil as tu
from simulator.engine.randomness import Stream, stream_id
from simulator.payers.eligibility import medicaid_eligible, medicare_eligible
from simulator.payers.plans import (
    ELIGIBLE_ALL,
    ELIGIBLE_DUAL,
    ELIGIBLE_MEDICAID,
    ELIGIBLE_MEDICARE,
    GOVERNMENT,
    NO_INSURANCE,
    PayerCatalog,
    Plan,
    load_payers,
)

if TYPE_CHECKING:
    from simulator.engine.simulation import PersonSim

# Claim line kinds that pay a copay before the deductible (engine-behaviour.md §8).
COPAY_KINDS = frozenset({"encounter", "medication"})
ADULT_AGE = 18  # below: the policy is owned by a guardian

# The service a claim line bills, as plans set cost sharing by it (engine-behaviour.md §8):
# preventive care, an office visit, a drug fill by tier; anything else is its line kind.
PREVENTIVE = "preventive"
OFFICE_VISIT = "office visit"
HOSPITAL_STAY = "hospital stay"  # an inpatient encounter's own line
INPATIENT_CARE = "inpatient care"  # the other lines of an inpatient encounter's claim
DRUG_BY_TIER = {"generic": "generic drug", "brand": "brand drug", None: "drug"}
# Encounter classes billed as preventive (the whole claim) or as an office visit
PREVENTIVE_CLASSES = frozenset({"wellness"})
OFFICE_CLASSES = frozenset({"ambulatory", "urgentcare", "virtual"})


def service_of(kind: str, encounter_class: str | None = None, drug_tier: str | None = None) -> str:
    """The service a line of `kind` bills: every line of a wellness encounter's claim and every
    immunization is preventive; an ambulatory, urgent-care or virtual encounter's own line is
    an office visit; an inpatient encounter's own line is a hospital stay, and the other lines
    of its claim inpatient care; a medication is a drug of its price tier (None: not in the
    price table)."""
    if kind == "medication":
        return DRUG_BY_TIER[drug_tier]
    if kind == "immunization" or encounter_class in PREVENTIVE_CLASSES:
        return PREVENTIVE
    if encounter_class == "inpatient":
        return HOSPITAL_STAY if kind == "encounter" else INPATIENT_CARE
    if kind == "encounter" and encounter_class in OFFICE_CLASSES:
        return OFFICE_VISIT
    return kind


def _affordable(
    plan: Plan, year: int, state: str, attributes: Mapping[str, Any], catalog: PayerCatalog,
    coverage: float,
) -> bool:
    rules = catalog.rules
    if year >= rules.mandate_year:
        # private coverage (employer, direct purchase) unless the person's coverage draw falls
        # among the state's uninsured share of the people without public coverage (§8)
        return coverage >= rules.uninsured_share(state)
    income = attributes.get("income")
    if not isinstance(income, int | float):
        return False
    return 12.0 * plan.premium_in(year) <= rules.premium_share_of_income * float(income)


def eligible_plans(
    catalog: PayerCatalog,
    *,
    age: int,
    year: int,
    state_abbreviation: str,
    attributes: Mapping[str, Any],
    coverage: float = 1.0,
) -> list[Plan]:
    """Active plans that accept the person and that they can have (government or affordable).

    `coverage` is the person's coverage draw (`coverage_draw`, a uniform; 1.0: always covered).
    """
    rules = catalog.rules
    medicare = medicare_eligible(age, year, attributes, rules)
    medicaid = medicaid_eligible(age, year, state_abbreviation, attributes, rules)
    accepted = {
        ELIGIBLE_ALL: True,
        ELIGIBLE_MEDICARE: medicare,
        ELIGIBLE_MEDICAID: medicaid,
        ELIGIBLE_DUAL: medicare and medicaid,
    }
    out: list[Plan] = []
    for plan in catalog.plans:
        if not plan.active(year) or not accepted.get(plan.eligibility, False):
            continue
        if plan.is_government or _affordable(plan, year, state_abbreviation, attributes, catalog,
                                             coverage):
            out.append(plan)
    return out


def choose_plan(
    catalog: PayerCatalog,
    *,
    age: int,
    year: int,
    state_abbreviation: str,
    attributes: Mapping[str, Any],
    previous: Plan | None,
    u: float,
    coverage: float = 1.0,
) -> Plan:
    """The primary plan for the coming year (engine-behaviour.md §8, `priority` behaviour).

    Children and young dependants are judged on the household figures their attributes carry
    (income, occupation level), exactly as adults are.
    """
    candidates = eligible_plans(
        catalog, age=age, year=year, state_abbreviation=state_abbreviation, attributes=attributes,
        coverage=coverage,
    )
    if not candidates:
        return catalog.no_insurance_plan
    best_priority = min(p.priority for p in candidates)
    best = [p for p in candidates if p.priority == best_priority]
    # Staying with the same private insurer is preferred when a private plan would be chosen.
    if (
        previous is not None
        and previous.payer.ownership not in (GOVERNMENT, NO_INSURANCE)
        and not any(p.is_government for p in best)
        and previous in best
    ):
        return previous
    return pick_weighted(best, u)


def pick_weighted(plans: list[Plan], u: float) -> Plan:
    """The plan a uniform `u` picks among `plans`, each with the chance of its enrolment weight
    (equal weights: index int(u × n)). The compiled engine's choose_plan repeats these float
    operations in this order, so both engines pick alike."""
    total = 0.0
    for plan in plans:
        total += plan.weight
    x = u * total
    acc = 0.0
    for plan in plans[:-1]:
        acc += plan.weight
        if x < acc:
            return plan
    return plans[-1]


def insurance_status(plan: Plan) -> str:
    ownership = plan.payer.ownership
    if ownership == NO_INSURANCE:
        return "none"
    if ownership == GOVERNMENT:
        return plan.payer.name.lower()
    return "private"


def truncated_cents(amount: float) -> int:
    """Whole cents, truncated, of the amount's decimal repr (12.34 stays 1234 although the
    binary value is 12.3399...); negative and non-finite amounts count as nothing."""
    if not amount > 0.0 or not math.isfinite(amount):
        return 0
    return _decimal_cents(float(amount))


@lru_cache(maxsize=65536)
def _decimal_cents(amount: float) -> int:
    # costs, copays and deductibles are few distinct numbers: a person bills each many times
    return int((Decimal(repr(amount)) * 100).to_integral_value(ROUND_DOWN))


def split_cost(
    plan: Plan, cost: float, deductible_left: float, kind: str, service: str | None = None,
    year: int | None = None,
) -> tuple[float, float, float, float, float]:
    """Split one claim line: (copay, deductible, coinsurance, payer pays, deductible left).

    Order (engine-behaviour.md §8): uninsured pays everything (as coinsurance); preventive
    care (`service`, :func:`service_of`) under a plan that waives it in the plan year of
    `year` costs the patient nothing; a service the plan pays with a copay alone costs that
    copay (at most the cost) and leaves the deductible alone; anything else pays the copay
    (encounters and medications), then the remaining deductible, then coinsurance on the rest.
    Amounts are truncated to cents, and the four parts always sum to the truncated cost.
    """
    total = truncated_cents(cost)
    if not plan.is_insured:
        return 0.0, 0.0, total / 100.0, 0.0, deductible_left
    if service == PREVENTIVE and plan.preventive_free_in(year):
        return 0.0, 0.0, 0.0, total / 100.0, deductible_left
    for copay_service, amount in plan.copay_only:
        if copay_service == service:
            copay = min(truncated_cents(amount), total)
            return copay / 100.0, 0.0, 0.0, (total - copay) / 100.0, deductible_left
    remaining = total
    copay = 0
    if kind in COPAY_KINDS:
        copay = min(truncated_cents(plan.copay), remaining)
        remaining -= copay
    deductible = min(truncated_cents(deductible_left), remaining)
    remaining -= deductible
    share = min(max(plan.coinsurance, 0.0), 1.0)
    coinsurance = min(math.floor(remaining * share + 1e-9), remaining)
    payer = remaining - coinsurance
    left = max(deductible_left - deductible / 100.0, 0.0) if deductible else deductible_left
    return copay / 100.0, deductible / 100.0, coinsurance / 100.0, payer / 100.0, left


def cap_out_of_pocket(
    split: tuple[float, float, float, float, float], allowed: int
) -> tuple[float, float, float, float, float]:
    """A ``split_cost`` answer whose patient share is at most ``allowed`` cents (what is left
    of the plan year's out-of-pocket maximum): the excess moves to the payer, taken from the
    coinsurance first, then the deductible, then the copay."""
    copay, deductible, coinsurance, payer, left = split
    parts = [round(coinsurance * 100), round(deductible * 100), round(copay * 100)]
    excess = sum(parts) - max(allowed, 0)
    if excess <= 0:
        return split
    moved = excess
    for i, part in enumerate(parts):
        take = min(part, excess)
        parts[i] = part - take
        excess -= take
    coinsurance_c, deductible_c, copay_c = parts
    return (copay_c / 100.0, deductible_c / 100.0, coinsurance_c / 100.0,
            (round(payer * 100) + moved) / 100.0, left)


def cost_sharing(
    plan: Plan, cost: float, deductible_left: float, kind: str, service: str | None = None,
    year: int | None = None,
) -> tuple[float, float, float]:
    """Split one claim line: (payer pays, patient pays, deductible left afterwards)."""
    copay, deductible, coinsurance, payer, left = split_cost(
        plan, cost, deductible_left, kind, service, year)
    return payer, round(copay + deductible + coinsurance, 2), left


# ---------------------------------------------------------------- the per-person process


@lru_cache(maxsize=64)
def _state_abbreviation(state: str) -> str:
    if len(state) == 2:
        return state.upper()
    import us  # only needed when the population gives full state names

    found = us.states.lookup(state)
    return found.abbr if found is not None else ""


def person_state(person: Any) -> str:
    """The person's state as a postal abbreviation ("" when unknown)."""
    abbr = person.get("state_abbreviation")
    if isinstance(abbr, str) and abbr:
        return abbr
    state = person.get("state")
    return _state_abbreviation(state) if isinstance(state, str) and state else ""


COVERAGE_STREAM = stream_id("builtin:coverage")


def coverage_draw(person: Any) -> float:
    """The person's coverage draw, fixed for life: the first uniform of their own keyed stream
    `builtin:coverage` (engine-behaviour.md §8, §9.1; the compiled engine reads the same)."""
    return Stream(person.seed, COVERAGE_STREAM).random()


def insurance_process(sim: PersonSim) -> Generator[Any, Any, None]:
    """At birth and every birthday choose the plan for the coming year (§4.1).

    Keeps the person's plan periods and current plan (`sim.billing`) up to date and sets the
    `insurance_status` attribute.
    """
    catalog = load_payers()
    billing = sim.billing
    person = sim.person
    coverage = coverage_draw(person)
    birth = person.birth
    age = 0
    while True:
        # the anniversaries fall at midnight; the first plan starts at the birth instant
        at = birth if age == 0 else tu.age_reached_ms(birth, 12 * age)
        if at < sim.now:
            age += 1
            continue  # the process was started after this anniversary
        if at > sim.now:
            yield sim.env.timeout(at - sim.now)
        if not person.alive(sim.now):
            return
        plan = choose_plan(
            catalog,
            age=age,
            year=tu.year_of(at),
            state_abbreviation=person_state(person),
            attributes=person.attributes,
            previous=billing.current_plan,
            u=person.rng.random(),
            coverage=coverage,
        )
        billing.enrol(plan, at, tu.age_reached_ms(birth, 12 * (age + 1)), age, person.rng.uuid)
        person.set("insurance_status", insurance_status(plan))
        age += 1
