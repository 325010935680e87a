"""Who a government plan accepts (engine-behaviour.md §8 "Eligibility policies").

Income is compared with the federal poverty level through the `poverty_ratio` attribute
(income / poverty line, population basics); every limit below is such a ratio.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.payers.plans import Rules


def poverty_ratio(attributes: Mapping[str, Any], rules: Rules) -> float | None:
    ratio = attributes.get("poverty_ratio")
    if isinstance(ratio, int | float):
        return float(ratio)
    income = attributes.get("income")
    if isinstance(income, int | float):
        return float(income) / rules.poverty_level
    return None  # unknown income never qualifies by income


def medicare_eligible(age: int, year: int, attributes: Mapping[str, Any], rules: Rules) -> bool:
    if year < rules.medicare_start_year:
        return False
    if age >= rules.medicare_age:
        return True
    if year < rules.medicare_disability_start_year:
        return False
    return bool(attributes.get("end_stage_renal_disease")) or bool(attributes.get("disabled"))


def _adult_limit(year: int, state: str, rules: Rules) -> float:
    md = rules.medicaid
    expanded_from = md.expansion_year.get(state)
    if expanded_from is not None and year >= expanded_from:
        return md.expansion_limit
    if year < md.non_expansion_from_year:
        return md.adult_limit_before_expansion
    own = md.state_adult_limits.get(state)
    if own is not None and year >= own[0]:
        return max(own[1], md.adult_limit_non_expansion)
    return md.adult_limit_non_expansion


def medicaid_income_limit(
    age: int, year: int, state: str, attributes: Mapping[str, Any], rules: Rules
) -> float:
    """The highest poverty ratio at which this person qualifies by income (0 before Medicaid)."""
    md = rules.medicaid
    if year < md.start_year:
        return 0.0
    limit = _adult_limit(year, state, rules)
    if age <= md.child_max_age:
        child = md.child_limit if year >= md.chip_start_year else md.child_limit_before_chip
        limit = max(limit, child)
    if attributes.get("pregnant"):
        limit = max(limit, md.pregnant_limit)
    return limit


def medicaid_eligible(
    age: int, year: int, state: str, attributes: Mapping[str, Any], rules: Rules
) -> bool:
    if year < rules.medicaid.start_year:
        return False
    if attributes.get("blindness"):
        return True
    ratio = poverty_ratio(attributes, rules)
    if ratio is None:
        return False
    return ratio <= medicaid_income_limit(age, year, state, attributes, rules)
