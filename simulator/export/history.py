"""The export window, ``--years-of-history`` (``docs/engine-behaviour.md`` §11.2): what of a
record older than the last N years is written, by Synthea's rules, so a run gives a Synthea
user the dataset Synthea gives by default (10 years).

The cut-off is ``stop_time - years * 365 days``, where ``stop_time`` is the end of the run (the
reference time, for the dead as well as the living). An entry is kept if it started in
``(cutoff, stop_time]``, or stopped after the cut-off (a stop after ``stop_time`` is then
cleared: the entry is ongoing), or its kind's rule keeps it:

* conditions, allergies, medications, care plans: still active, meaning the latest entry
  with the same first code (of any of those kinds) has not stopped by ``stop_time``;
* observations: the cause of death; reports: the death certificate (neither future-dated);
* procedures, immunizations: nothing more;
* imaging studies, devices and supplies are not filtered: they stay with their encounter.

A removed entry's claim line goes with it (a medication's own claim too). An encounter is
kept if it is in the window by the same time rule, or still holds a condition, allergy,
observation, report, procedure, medication, immunization or care plan, or is the death
certification. The record given is not changed: the result shares the entries it keeps
unchanged and copies the ones it changes.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

from simulator.engine.simulation import CAUSE_OF_DEATH, DEATH_CERTIFICATE, DEATH_CERTIFICATION
from simulator.record import Claim, Encounter, Entry, HealthRecord

__all__ = ["YEAR_MS", "cutoff_time", "recent_history"]

YEAR_MS = 365 * 86_400_000  # Synthea's "years" for the window: 365 days, not calendar years

# The groups of an encounter the window filters, and the rule of each besides time:
# "active" (the code is still active), a code the entry must have, or None (time only).
_FILTERED: tuple[tuple[str, str | None], ...] = (
    ("conditions", "active"),
    ("allergies", "active"),
    ("observations", CAUSE_OF_DEATH.code),
    ("reports", DEATH_CERTIFICATE.code),
    ("procedures", None),
    ("medications", "active"),
    ("immunizations", None),
    ("careplans", "active"),
)
# What keeps an old encounter: any of these left after filtering (not imaging, devices,
# supplies).
_KEEPS_ENCOUNTER = tuple(group for group, _ in _FILTERED)
_ACTIVE_GROUPS = tuple(group for group, rule in _FILTERED if rule == "active")


def cutoff_time(years: int, stop_time: int) -> int:
    return stop_time - years * YEAR_MS


def recent_history(record: HealthRecord, years: int, stop_time: int) -> HealthRecord:
    """The record as exported with a window of ``years`` (0: the whole record, returned as
    is)."""
    if years <= 0:
        return record
    cutoff = cutoff_time(years, stop_time)
    active: set[str] | None = None  # found when an old entry first needs it
    kept: list[Encounter] = []
    changed = False
    for enc in record.encounters:
        if cutoff < enc.start <= stop_time and _all_recent(enc, cutoff, stop_time):
            kept.append(enc)  # most of a window: a recent visit with only recent entries
            continue
        if active is None:
            active = _active_codes(record, stop_time)
        view = _filtered(enc, cutoff, stop_time, active)
        if view is not None:
            kept.append(view)
        changed = changed or view is not enc
    return dataclasses.replace(record, encounters=kept) if changed else record


def _all_recent(enc: Encounter, cutoff: int, stop_time: int) -> bool:
    for group in _KEEPS_ENCOUNTER:
        for entry in getattr(enc, group):
            if not cutoff < entry.start <= stop_time:
                return False
    return True


def _filtered(enc: Encounter, cutoff: int, stop_time: int, active: set[str]) -> Encounter | None:
    """The encounter with what the window keeps of it, or None if nothing keeps it."""
    changes: dict[str, Any] = {}
    removed: set[str] = set()
    for group, rule in _FILTERED:
        entries: list[Any] = getattr(enc, group)
        if not entries:
            continue
        out = []
        for entry in entries:  # _in_window's time rule, then the kind's rule, inline: hot
            start = entry.start
            stop = entry.stop
            if cutoff < start <= stop_time or stop is not None and cutoff < stop <= stop_time:
                out.append(entry)
            elif stop is not None and stop > stop_time:
                out.append(dataclasses.replace(entry, stop=None))
            elif rule is not None and entry.codes and (
                    entry.codes[0].code in active if rule == "active"
                    else start <= stop_time and entry.codes[0].code == rule):
                out.append(entry)
            else:
                removed.add(entry.id)
        if len(out) != len(entries) or any(map(operator.is_not, out, entries)):
            changes[group] = out
    view = _in_window(enc, cutoff, stop_time)
    if view is None and not _is_death_certification(enc, stop_time) and not any(
            changes.get(group, getattr(enc, group)) for group in _KEEPS_ENCOUNTER) and not (
            enc.observation_lines):  # made only for observations the window keeps
        return None
    if removed and enc.claim is not None:
        changes["claim"] = _without_lines(enc.claim, removed)
    base = enc if view is None else view
    return dataclasses.replace(base, **changes) if changes else base


def _in_window(entry: Any, cutoff: int, stop_time: int) -> Any:
    """The entry (a copy without its stop, if it stops after ``stop_time``) if its time puts
    it in the window, else None."""
    if cutoff < entry.start <= stop_time:
        return entry
    stop = entry.stop
    if stop is not None and stop > cutoff:
        return entry if stop <= stop_time else dataclasses.replace(entry, stop=None)
    return None


def _active_codes(record: HealthRecord, stop_time: int) -> set[str]:
    """First codes whose latest condition, allergy, medication or care plan has not stopped by
    ``stop_time`` (Synthea's one map of present entries by code)."""
    latest: dict[str, Entry] = {}
    for enc in record.encounters:
        for group in _ACTIVE_GROUPS:
            for entry in getattr(enc, group):
                if entry.codes:
                    code = entry.codes[0].code
                    known = latest.get(code)
                    if known is None or entry.start >= known.start:
                        latest[code] = entry
    return {code for code, e in latest.items() if e.stop is None or e.stop > stop_time}


def _is_death_certification(enc: Encounter, stop_time: int) -> bool:
    return (bool(enc.codes) and enc.codes[0].code == DEATH_CERTIFICATION.code
            and enc.start <= stop_time)


def _without_lines(claim: Claim, removed: set[str]) -> Claim:
    return dataclasses.replace(claim, lines=[line for line in claim.lines
                                             if line.kind == "encounter"
                                             or line.entry_id not in removed])
