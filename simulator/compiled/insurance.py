"""The yearly plan choice of payers.insurance (and payers.eligibility) for the kernel: the catalog lowered to arrays
once, and choose_plan with its eligibility and affordability rules in numba, rule for rule
(tests/test_compiled_insurance.py checks the two against each other)."""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np

from simulator.payers.insurance import insurance_status
from simulator.payers.plans import (
    ELIGIBLE_ALL,
    ELIGIBLE_DUAL,
    ELIGIBLE_MEDICAID,
    ELIGIBLE_MEDICARE,
    GOVERNMENT,
    NO_INSURANCE,
    PayerCatalog,
    Plan,
)

# columns of P.PLAN (one row per catalog plan, the no-insurance plan last)
(PL_ELIG, PL_GOV, PL_INSURED, PL_PRIVATE, PL_START, PL_END, PL_PRIORITY, PL_PREM0, PL_PREMN,
 PL_STATUS) = range(10)
EL_ALL, EL_MEDICARE, EL_MEDICAID, EL_DUAL, EL_NONE = range(5)
_ELIGIBILITY = {ELIGIBLE_ALL: EL_ALL, ELIGIBLE_MEDICARE: EL_MEDICARE,
                ELIGIBLE_MEDICAID: EL_MEDICAID, ELIGIBLE_DUAL: EL_DUAL}
# P.plan_rules
(R_SHARE, R_MANDATE, R_POVERTY, R_MEDICARE_AGE, R_MEDICARE_START,
 R_DISABILITY_START, R_MD_START, R_CHILD_MAX_AGE, R_CHILD_BEFORE_CHIP, R_CHIP_START, R_CHILD,
 R_PREGNANT, R_ADULT_BEFORE, R_ADULT_NON_EXP, R_NON_EXP_FROM, R_EXPANSION) = range(16)
# the person's state (W.person_f): the year the Medicaid expansion counts from, the state's
# own adult limit with the year it applies from (inf: none), and the share of uninsured people
# among those without public coverage (Rules.uninsured_share)
PF_EXPANSION, PF_OWN_FROM, PF_OWN_LIMIT, PF_UNINSURED = 1, 2, 3, 4
PF_COVERAGE = 5  # the person's coverage draw (payers.insurance.coverage_draw)
# the facts about the person the choice reads (the `facts` argument)
(F_INCOME_OK, F_INCOME, F_RATIO_OK, F_RATIO, F_ESRD, F_DISABLED, F_BLIND,
 F_PREGNANT) = range(8)
N_FACTS = 8
N_NUMBER_FACTS = 2  # income and poverty ratio: (is a number, its value) pairs
# attributes the choice reads, in the order of the F_*_OK / flag facts they fill
FACT_ATTRIBUTES = ("income", "poverty_ratio", "end_stage_renal_disease", "disabled",
                   "blindness", "pregnant")

_NEVER = 1 << 40  # a year no plan starts or ends in


def plans_in_order(catalog: PayerCatalog) -> list[Plan]:
    """The plans by kernel index: the catalog's, then the no-insurance plan."""
    return [*catalog.plans, catalog.no_insurance_plan]


def catalog_arrays(catalog: PayerCatalog, intern: Any) -> dict[str, np.ndarray]:
    """The catalog as the kernel reads it; `intern` gives a string's id (insurance_status)."""
    rows, prem_year, prem_amount, default = [], [], [], []
    for plan in plans_in_order(catalog):
        ownership = plan.payer.ownership
        rows.append([
            _ELIGIBILITY.get(plan.eligibility, EL_NONE), int(plan.is_government),
            int(plan.is_insured), int(ownership not in (GOVERNMENT, NO_INSURANCE)),
            -_NEVER if plan.start_year is None else plan.start_year,
            _NEVER if plan.end_year is None else plan.end_year,
            plan.priority, len(prem_year), len(plan.premium_by_year),
            intern(insurance_status(plan)),
        ])
        for year, amount in plan.premium_by_year:
            prem_year.append(year)
            prem_amount.append(amount)
        default.append((plan.monthly_premium, plan.weight))
    r, md = catalog.rules, catalog.rules.medicaid
    rules = [0.0] * 16
    rules[R_SHARE] = r.premium_share_of_income
    rules[R_MANDATE] = r.mandate_year
    rules[R_POVERTY] = r.poverty_level
    rules[R_MEDICARE_AGE] = r.medicare_age
    rules[R_MEDICARE_START] = r.medicare_start_year
    rules[R_DISABILITY_START] = r.medicare_disability_start_year
    rules[R_MD_START] = md.start_year
    rules[R_CHILD_MAX_AGE] = md.child_max_age
    rules[R_CHILD_BEFORE_CHIP] = md.child_limit_before_chip
    rules[R_CHIP_START] = md.chip_start_year
    rules[R_CHILD] = md.child_limit
    rules[R_PREGNANT] = md.pregnant_limit
    rules[R_ADULT_BEFORE] = md.adult_limit_before_expansion
    rules[R_ADULT_NON_EXP] = md.adult_limit_non_expansion
    rules[R_NON_EXP_FROM] = md.non_expansion_from_year
    rules[R_EXPANSION] = md.expansion_limit
    return dict(
        PLAN=np.array(rows, dtype=np.int64), plan_f=np.array(default, dtype=np.float64),
        prem_year=np.array(prem_year + [0], dtype=np.int64),
        prem_amount=np.array(prem_amount + [0.0], dtype=np.float64),
        plan_rules=np.array(rules, dtype=np.float64),
    )


def state_params(catalog: PayerCatalog, state: str) -> tuple[float, float, float, float]:
    """(expansion year, own limit's first year, own limit, uninsured share without public
    coverage) for a state (inf: none); W.person_f[1:5]."""
    md = catalog.rules.medicaid
    expansion = md.expansion_year.get(state)
    own = md.state_adult_limits.get(state)
    return (math.inf if expansion is None else float(expansion),
            math.inf if own is None else float(own[0]),
            0.0 if own is None else float(own[1]),
            catalog.rules.uninsured_share(state))


@nb.njit(cache=True)
def premium_in(PLAN, plan_f, prem_year, prem_amount, plan, year):
    """Plan.premium_in: the row of the latest year <= `year`, the first row before the table."""
    n = PLAN[plan, PL_PREMN]
    if n == 0:
        return plan_f[plan, 0]
    r0 = PLAN[plan, PL_PREM0]
    i = 0
    for r in range(n):
        if prem_year[r0 + r] <= year:
            i = r
        else:
            break
    return prem_amount[r0 + i]


@nb.njit(cache=True)
def adult_limit(R, year, person):
    """eligibility._adult_limit."""
    if year >= person[PF_EXPANSION]:
        return R[R_EXPANSION]
    if year < R[R_NON_EXP_FROM]:
        return R[R_ADULT_BEFORE]
    if year >= person[PF_OWN_FROM]:
        return max(person[PF_OWN_LIMIT], R[R_ADULT_NON_EXP])
    return R[R_ADULT_NON_EXP]


@nb.njit(cache=True)
def medicaid_eligible(R, age, year, person, facts):
    """eligibility.medicaid_eligible (and medicaid_income_limit)."""
    if year < R[R_MD_START]:
        return False
    if facts[F_BLIND] != 0.0:
        return True
    if facts[F_RATIO_OK] != 0.0:
        ratio = facts[F_RATIO]
    elif facts[F_INCOME_OK] != 0.0:
        ratio = facts[F_INCOME] / R[R_POVERTY]
    else:
        return False
    limit = adult_limit(R, year, person)
    if age <= R[R_CHILD_MAX_AGE]:
        child = R[R_CHILD] if year >= R[R_CHIP_START] else R[R_CHILD_BEFORE_CHIP]
        limit = max(limit, child)
    if facts[F_PREGNANT] != 0.0:
        limit = max(limit, R[R_PREGNANT])
    return ratio <= limit


@nb.njit(cache=True)
def medicare_eligible(R, age, year, facts):
    """eligibility.medicare_eligible."""
    if year < R[R_MEDICARE_START]:
        return False
    if age >= R[R_MEDICARE_AGE]:
        return True
    if year < R[R_DISABILITY_START]:
        return False
    return facts[F_ESRD] != 0.0 or facts[F_DISABLED] != 0.0


@nb.njit(cache=True)
def choose_plan(PLAN, plan_f, prem_year, prem_amount, R, age, year, u, coverage, previous, person,
                facts):
    """insurance.choose_plan: the plan index for the coming year (`previous`: -1 for none;
    `coverage`: the person's coverage draw)."""
    n = PLAN.shape[0] - 1  # the last row is the no-insurance plan
    medicare = medicare_eligible(R, age, year, facts)
    medicaid = medicaid_eligible(R, age, year, person, facts)
    mandate = year >= R[R_MANDATE]
    employer = mandate and coverage >= person[PF_UNINSURED]
    best = np.empty(n, dtype=np.int64)
    count = 0
    priority = 0
    for p in range(n):
        if year < PLAN[p, PL_START] or year > PLAN[p, PL_END]:
            continue
        elig = PLAN[p, PL_ELIG]
        if elig == EL_ALL:
            accepted = True
        elif elig == EL_MEDICARE:
            accepted = medicare
        elif elig == EL_MEDICAID:
            accepted = medicaid
        elif elig == EL_DUAL:
            accepted = medicare and medicaid
        else:
            accepted = False
        if not accepted:
            continue
        if PLAN[p, PL_GOV] == 0 and not employer:
            if mandate or facts[F_INCOME_OK] == 0.0:
                continue
            premium = premium_in(PLAN, plan_f, prem_year, prem_amount, p, year)
            if not 12.0 * premium <= R[R_SHARE] * facts[F_INCOME]:
                continue
        if count == 0 or PLAN[p, PL_PRIORITY] < priority:
            priority = PLAN[p, PL_PRIORITY]
            count = 0
        if PLAN[p, PL_PRIORITY] == priority:
            best[count] = p
            count += 1
    if count == 0:
        return n
    if previous >= 0 and PLAN[previous, PL_PRIVATE] != 0:
        government = False
        found = False
        for i in range(count):
            if PLAN[best[i], PL_GOV] != 0:
                government = True
            if best[i] == previous:
                found = True
        if found and not government:
            return previous
    # insurance.pick_weighted, the same float operations in the same order
    total = 0.0
    for i in range(count):
        total += plan_f[best[i], 1]
    x = u * total
    acc = 0.0
    for i in range(count - 1):
        acc += plan_f[best[i], 1]
        if x < acc:
            return best[i]
    return best[count - 1]

