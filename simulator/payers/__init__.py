"""Payers, insurance plans, yearly plan choice and cost sharing (engine-behaviour.md §4.1, §8)."""

from simulator.payers.export import (
    PAYER_COLUMNS,
    PAYER_TRANSITION_COLUMNS,
    PayerStats,
    payer_rows,
    payer_transition_rows,
)
from simulator.payers.insurance import (
    choose_plan,
    cost_sharing,
    eligible_plans,
    insurance_process,
    insurance_status,
)
from simulator.payers.plans import Payer, PayerCatalog, Plan, load_payers

__all__ = [
    "PAYER_COLUMNS",
    "PAYER_TRANSITION_COLUMNS",
    "Payer",
    "PayerCatalog",
    "PayerStats",
    "Plan",
    "choose_plan",
    "cost_sharing",
    "eligible_plans",
    "insurance_process",
    "insurance_status",
    "load_payers",
    "payer_rows",
    "payer_transition_rows",
]
