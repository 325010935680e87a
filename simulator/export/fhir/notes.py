"""Plain-text clinical notes, one per encounter (fhir-export.md §3.11, "Clinical note").

A note lists what was known at the encounter: the patient's history of conditions, allergies and
medications active then, what was diagnosed, and what was done. :class:`NoteWriter` is fed the
encounters in order and keeps the running history, so a long record costs one pass.
"""

from __future__ import annotations

from simulator.engine import timeutil as tu
from simulator.export.fhir.codes import date
from simulator.record import Encounter, Entry, HealthRecord

_RACE_TEXT = {"white": "white", "black": "black", "asian": "asian", "native": "native",
              "hawaiian": "hawaiian", "other": "other"}
_MARITAL_TEXT = {"M": "married", "S": "single", "D": "divorced", "W": "widowed"}


def _active(entries: dict[str, Entry], at: int) -> list[str]:
    return [e.code.display for e in entries.values()
            if e.start <= at and (e.stop is None or e.stop > at)]


def _bullets(items: list[str], empty: str) -> str:
    if not items:
        return empty + "\n"
    return "".join(f"- {x}\n" for x in items)


class NoteWriter:
    def __init__(self, record: HealthRecord) -> None:
        self.record = record
        self.conditions: dict[str, Entry] = {}
        self.allergies: dict[str, Entry] = {}
        self.medications: dict[str, Entry] = {}

    def note(self, enc: Encounter) -> str:
        p = self.record.patient
        at = enc.start
        age = tu.age_years(p.birthdate, at)
        history = _active(self.conditions, at)
        allergies = _active(self.allergies, at)
        medications = _active(self.medications, at)
        name = " ".join(x for x in (p.prefix, p.first, p.last) if x)
        sex = "female" if p.gender == "F" else "male"
        ethnicity = "hispanic" if p.ethnicity == "hispanic" else "non-hispanic"
        race = _RACE_TEXT.get(p.race, p.race)
        parts = [date(at), "\n\n# Chief Complaint\nNo complaints.\n\n"]
        parts.append("# History of Present Illness\n")
        parts.append(f"{name} is a {age} year-old {ethnicity} {race} {sex}.")
        if history:
            parts.append(f" Patient has a history of {', '.join(history)}.")
        parts.append("\n\n# Social History\n")
        marital = _MARITAL_TEXT.get(p.marital, "")
        if marital:
            parts.append(f"Patient is {marital}. ")
        if p.sexual_orientation:
            parts.append(f"Patient identifies as {p.sexual_orientation}. ")
        if p.income is not None:
            parts.append(f"Household income is about ${p.income:,} a year. ")
        parts.append(f"Patient's first language is {p.language or 'english'}.\n\n")
        parts.append("# Allergies\n")
        parts.append(_bullets(allergies, "No Known Allergies."))
        parts.append("\n# Medications\n")
        parts.append(_bullets(medications, "No Active Medications."))
        parts.append("\n# Assessment and Plan\n")
        diagnosed = [c.code.display for c in enc.conditions]
        diagnosed += [a.code.display for a in enc.allergies]
        parts.append(_bullets(diagnosed, "Patient is presenting with no new diagnoses."))
        parts.append("\n## Plan\n")
        plan = [f"immunization: {x.code.display}" for x in enc.immunizations]
        plan += [f"procedure: {x.code.display}" for x in enc.procedures]
        plan += [f"report: {x.code.display}" for x in enc.reports]
        plan += [f"medication: {x.code.display}" for x in enc.medications]
        plan += [f"care plan: {x.code.display}" for x in enc.careplans]
        parts.append(_bullets(plan, "No new orders."))
        for group, seen in ((enc.conditions, self.conditions), (enc.allergies, self.allergies),
                            (enc.medications, self.medications)):
            for entry in group:
                seen[entry.code.code] = entry
        return "".join(parts)
