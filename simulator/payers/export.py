"""Rows of payers.csv and payer_transitions.csv (csv-export.md §3.15, §3.16).

Pure functions returning lists of column values; the CSV writer joins them. Formatting is
local (not borrowed from the CSV exporter) so the exporter can import this module freely.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from simulator.engine.timeutil import iso_datetime
from simulator.payers.plans import PayerCatalog
from simulator.record import CoveragePeriod

PAYER_COLUMNS = (
    "Id", "NAME", "OWNERSHIP", "ADDRESS", "CITY", "STATE_HEADQUARTERED", "ZIP", "PHONE",
    "AMOUNT_COVERED", "AMOUNT_UNCOVERED", "REVENUE", "COVERED_ENCOUNTERS",
    "UNCOVERED_ENCOUNTERS", "COVERED_MEDICATIONS", "UNCOVERED_MEDICATIONS",
    "COVERED_PROCEDURES", "UNCOVERED_PROCEDURES", "COVERED_IMMUNIZATIONS",
    "UNCOVERED_IMMUNIZATIONS", "UNIQUE_CUSTOMERS", "QOLS_AVG", "MEMBER_MONTHS",
)
PAYER_TRANSITION_COLUMNS = (
    "PATIENT", "MEMBERID", "START_DATE", "END_DATE", "PAYER", "SECONDARY_PAYER",
    "PLAN_OWNERSHIP", "OWNER_NAME",
)

_CENT = Decimal("0.01")


def _money(x: float) -> str:
    """``%.2f`` with half-up rounding of the exact binary value (csv-export.md §1)."""
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return f"{Decimal(x).quantize(_CENT, ROUND_HALF_UP):f}"


def _clean(text: str) -> str:
    """Free text without line breaks or commas (values are never quoted)."""
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace(",", " ").strip()


def payer_transition_rows(
    patient_id: str, coverage: Iterable[CoveragePeriod], end_time: int, name: str = ""
) -> list[list[str]]:
    """One row per plan period (a plan year) that starts at or before `end_time`, in start
    order; a period running past the end of the simulation is cut there. `name` is the
    patient's, the owner's name of a plan the patient owns ("Self")."""
    rows: list[list[str]] = []
    for period in sorted(coverage, key=lambda p: p.start):
        if period.start > end_time:
            continue
        rows.append([
            patient_id,
            period.member_id,
            iso_datetime(period.start),
            iso_datetime(min(period.end, end_time)),
            period.payer_id,
            period.secondary_payer_id,
            period.ownership,
            _clean(period.owner_name or (name if period.ownership == "Self" else "")),
        ])
    return rows


@dataclass
class PayerStats:
    """What one payer did over a run; per-worker stats are merged at the end."""

    amount_covered: float = 0.0
    amount_uncovered: float = 0.0
    revenue: float = 0.0
    covered_encounters: int = 0
    uncovered_encounters: int = 0
    covered_medications: int = 0
    uncovered_medications: int = 0
    covered_procedures: int = 0
    uncovered_procedures: int = 0
    covered_immunizations: int = 0
    uncovered_immunizations: int = 0
    customers: int = 0  # people with coverage from this payer (each person is in one shard)
    member_months: int = 0
    qols_total: float = 0.0  # sum of members' yearly quality-of-life scores
    qols_years: int = 0  # member-years those scores cover

    def merge(self, other: PayerStats) -> None:
        self.amount_covered += other.amount_covered
        self.amount_uncovered += other.amount_uncovered
        self.revenue += other.revenue
        self.covered_encounters += other.covered_encounters
        self.uncovered_encounters += other.uncovered_encounters
        self.covered_medications += other.covered_medications
        self.uncovered_medications += other.uncovered_medications
        self.covered_procedures += other.covered_procedures
        self.uncovered_procedures += other.uncovered_procedures
        self.covered_immunizations += other.covered_immunizations
        self.uncovered_immunizations += other.uncovered_immunizations
        self.customers += other.customers
        self.member_months += other.member_months
        self.qols_total += other.qols_total
        self.qols_years += other.qols_years

    @property
    def qols_avg(self) -> float:
        return self.qols_total / self.qols_years if self.qols_years else math.nan


def payer_rows(catalog: PayerCatalog, stats: Mapping[str, PayerStats]) -> list[list[str]]:
    """Every payer in export order (government, private, NO_INSURANCE last); `stats` is keyed
    by payer id and a payer without stats gets zeros."""
    rows: list[list[str]] = []
    for payer in catalog.payers:
        s = stats.get(payer.id) or PayerStats()
        avg = s.qols_avg
        rows.append([
            payer.id,
            payer.name,
            payer.ownership,
            _clean(payer.address),
            _clean(payer.city),
            _clean(payer.state),
            _clean(payer.zip),
            _clean(payer.phone),
            _money(s.amount_covered),
            _money(s.amount_uncovered),
            _money(s.revenue),
            str(s.covered_encounters),
            str(s.uncovered_encounters),
            str(s.covered_medications),
            str(s.uncovered_medications),
            str(s.covered_procedures),
            str(s.uncovered_procedures),
            str(s.covered_immunizations),
            str(s.uncovered_immunizations),
            str(s.customers),
            "NaN" if math.isnan(avg) else repr(avg),
            str(s.member_months),
        ])
    return rows
