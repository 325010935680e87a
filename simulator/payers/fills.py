"""How many times a prescription is dispensed, and when: what the CSV's DISPENSES counts and
what billing charges for (engine-behaviour.md §8, csv-export.md §3.5).

Both read this one rule, so a medication's TOTALCOST (BASE_COST × DISPENSES) is what its
claim charges. The count is Synthea's; the times are ours (Synthea bills one dispense).
"""

from __future__ import annotations

from typing import Any

from simulator.engine import timeutil as tu
from simulator.record import Medication

MS_PER_DAY = tu.DAY
# Integer time routine (module-format §5.4): years = 365 days, months = 30 days.
_UNIT_MS: dict[str, int] = {
    "seconds": 1000,
    "minutes": 60_000,
    "hours": 3_600_000,
    "days": MS_PER_DAY,
    "weeks": 7 * MS_PER_DAY,
    "months": 30 * MS_PER_DAY,
    "years": 365 * MS_PER_DAY,
}
MONTH_MS = _UNIT_MS["months"]


def _convert_time_int(unit: str, quantity: Any) -> int:
    try:
        return _UNIT_MS[unit] * int(quantity)
    except KeyError:
        raise ValueError(f"unknown time unit {unit!r}") from None


def _period(details: dict[str, Any] | None) -> int:
    """The supply one dispense lasts: the prescription's ``duration``, else 30 days."""
    if details and details.get("duration") is not None:
        duration = details["duration"]
        return _convert_time_int(duration.get("unit", ""), duration.get("quantity", 0))
    return MONTH_MS


def dispenses(medication: Medication, end_time: int) -> int:
    """Number of dispenses: ``refills``; else active time / ``duration`` (integer time
    routine); else active time / 30 days; at least 1. Active time = (stop, or ``end_time``
    when still active) − start; an administration without a stop counts as stop = start."""
    stop = medication.stop
    if stop is None:
        stop = medication.start if medication.administration else end_time
    active = stop - medication.start
    details = medication.prescription
    count: int
    if details and details.get("refills") is not None:
        count = int(details["refills"])
    else:
        period = _period(details)
        count = active // period if period > 0 else 1
    return count if count > 1 else 1


def fill_times(medication: Medication, end_time: int) -> list[int]:
    """When each of the :func:`dispenses` is dispensed: the first at the prescription's
    start, each further one a supply period (``duration``, else 30 days) after the one
    before, whether or not that falls after the medication stopped (``refills`` are counted
    whatever the stop)."""
    n = dispenses(medication, end_time)
    period = max(_period(medication.prescription), 0)
    start = medication.start
    return [start + k * period for k in range(n)]
