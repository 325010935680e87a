"""Small builders for GMF module JSON and helpers to read the resulting health records.

Time probes: `mark(label, to)` is an Observation state without a value whose code is the
label; `mark_times(record, label)` returns the instants at which it ran. Observations never
touch the record's "present" set, so probes do not disturb the states under test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from simulator.engine import timeutil as tu
from simulator.engine.person import Person
from simulator.record import Code, Encounter, Entry, HealthRecord, Observation
from simulator.testing import RunResult, run_modules

SECOND = tu.SECOND
MINUTE = tu.MINUTE
HOUR = tu.HOUR
DAY = tu.DAY
WEEK = tu.WEEK
YEAR_365 = tu.YEAR_365

MODULE_NAME = "Conformance"
OWNER = MODULE_NAME + " Module"  # runtime name = name + " Module" (§2)
ENGINE = "Encounter"  # owner of the engine's wellness / symptom-driven visits
MARK_SYSTEM = "LOINC"

STOPPED_MEDICAL_ADVICE = Code("SNOMED-CT", "182840001")
CAREPLAN_DONE = Code("SNOMED-CT", "385658003")
WELL_CHILD = Code("SNOMED-CT", "410620009")
GENERAL_EXAM = Code("SNOMED-CT", "162673000")


# ---------------------------------------------------------------- module JSON builders


def code(value: str, display: str | None = None, system: str = "SNOMED-CT") -> dict[str, Any]:
    return {"system": system, "code": value, "display": display or f"Test code {value}"}


def rcode(value: str, system: str = "SNOMED-CT") -> Code:
    """The record-side Code (equality is system + code)."""
    return Code(system, value)


def module(states: Mapping[str, Any], name: str = MODULE_NAME, **top: Any) -> dict[str, Any]:
    """A GMF 2 module; a plain `Terminal` state is added when missing."""
    all_states = dict(states)
    all_states.setdefault("Terminal", {"type": "Terminal"})
    return {"name": name, "gmf_version": 2, "states": all_states, **top}


def initial(to: str) -> dict[str, Any]:
    return {"type": "Initial", "direct_transition": to}


def simple(to: str) -> dict[str, Any]:
    return {"type": "Simple", "direct_transition": to}


def terminal() -> dict[str, Any]:
    return {"type": "Terminal"}


def delay(quantity: float, unit: str, to: str) -> dict[str, Any]:
    return {"type": "Delay", "exact": {"quantity": quantity, "unit": unit}, "direct_transition": to}


def delay_days(days: float, to: str) -> dict[str, Any]:
    return delay(days, "days", to)


def guard(allow: dict[str, Any], to: str) -> dict[str, Any]:
    return {"type": "Guard", "allow": allow, "direct_transition": to}


def set_attr(attribute: str, value: Any, to: str, **extra: Any) -> dict[str, Any]:
    return {"type": "SetAttribute", "attribute": attribute, "value": value,
            "direct_transition": to, **extra}


def encounter(to: str, cls: str | None = "ambulatory", code_value: str = "185345009",
              **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"type": "Encounter", "codes": [code(code_value, "Encounter for symptom")],
                             "direct_transition": to, **extra}
    if cls is not None:
        state["encounter_class"] = cls
    return state


def wellness(to: str) -> dict[str, Any]:
    return {"type": "Encounter", "wellness": True, "direct_transition": to}


def encounter_end(to: str, **extra: Any) -> dict[str, Any]:
    return {"type": "EncounterEnd", "direct_transition": to, **extra}


def onset(code_value: str, to: str, **extra: Any) -> dict[str, Any]:
    return {"type": "ConditionOnset", "codes": [code(code_value)], "direct_transition": to, **extra}


def mark(label: str, to: str) -> dict[str, Any]:
    """An Observation without a value: a probe recording the instant it runs."""
    return {"type": "Observation", "category": "exam", "unit": "",
            "codes": [code(label, f"probe {label}", MARK_SYSTEM)], "direct_transition": to}


def cond_attr(attribute: str, operator: str, value: Any = None) -> dict[str, Any]:
    cond: dict[str, Any] = {"condition_type": "Attribute", "attribute": attribute, "operator": operator}
    if operator not in ("is nil", "is not nil"):
        cond["value"] = value
    return cond


def age_cond(operator: str, quantity: float, unit: str = "years") -> dict[str, Any]:
    return {"condition_type": "Age", "operator": operator, "quantity": quantity, "unit": unit}


def branch(condition: dict[str, Any], yes: str, no: str) -> dict[str, Any]:
    return {"type": "Simple", "conditional_transition": [
        {"condition": condition, "transition": yes}, {"transition": no}]}


# ---------------------------------------------------------------- running


def run(modules: Mapping[str, Any], population: int = 10, age: tuple[int, int] | None = (1, 2),
        lifecycle: bool = False, **kwargs: Any) -> RunResult:
    """`run_modules` with small, fast defaults (ages 1–2, no lifecycle events)."""
    return run_modules(modules, population=population, age=age, lifecycle=lifecycle, **kwargs)


def check_condition(condition: dict[str, Any], setup: Mapping[str, Any] | None = None,
                    population: int = 10, **kwargs: Any) -> tuple[list[bool], RunResult]:
    """Evaluate `condition` once per person in a conditional transition and return the results.

    `setup` states (if any) start at a state named `Setup` and must lead to `Check`.
    """
    states: dict[str, Any] = {
        "Initial": initial("Setup" if setup else "Check"),
        **(setup or {}),
        "Check": branch(condition, "Yes", "No"),
        "Yes": set_attr("result", True, "Terminal"),
        "No": set_attr("result", False, "Terminal"),
    }
    result = run(module(states), population=population, **kwargs)
    values = [p.attributes.get("result") for p in result.people]
    assert all(isinstance(v, bool) for v in values), values
    return values, result  # type: ignore[return-value]


# ---------------------------------------------------------------- reading records


def entries(record: HealthRecord, kind: str) -> list[Any]:
    """All entries of one kind ("conditions", "medications", ...) over all encounters."""
    return [e for enc in record.encounters for e in getattr(enc, kind)]


def entries_with(record: HealthRecord, kind: str, code_value: str) -> list[Any]:
    return [e for e in entries(record, kind) if e.codes[0].code == code_value]


def encounter_of(record: HealthRecord, entry: Entry) -> Encounter:
    for enc in record.encounters:
        for kind in ("observations", "reports", "conditions", "allergies", "procedures",
                     "immunizations", "medications", "careplans", "imaging_studies", "devices",
                     "supplies"):
            if any(e is entry for e in getattr(enc, kind)):
                return enc
    raise AssertionError(f"entry {entry.name} not found in any encounter")


def encounters_named(record: HealthRecord, name: str) -> list[Encounter]:
    return [e for e in record.encounters if e.name == name]


def the_encounter(record: HealthRecord, name: str) -> Encounter:
    found = encounters_named(record, name)
    assert len(found) == 1, f"expected one encounter {name!r}, got {len(found)}"
    return found[0]


def engine_wellness_visits(record: HealthRecord) -> list[Encounter]:
    return [e for e in record.encounters if e.owner == ENGINE and e.encounter_class == "wellness"]


def _walk_observations(observations: Iterable[Observation]) -> Iterator[Observation]:
    for obs in observations:
        yield obs
        yield from _walk_observations(obs.children)


def mark_times(record: HealthRecord, label: str) -> list[int]:
    return sorted(
        obs.start
        for enc in record.encounters
        for obs in _walk_observations(enc.observations)
        if obs.codes[0].system == MARK_SYSTEM and obs.codes[0].code == label
    )


def mark_time(record: HealthRecord, label: str) -> int:
    times = mark_times(record, label)
    assert len(times) == 1, f"probe {label!r} ran {len(times)} times"
    return times[0]


def pairs(result: RunResult) -> Iterator[tuple[Person, HealthRecord]]:
    return zip(result.people, result.records, strict=True)


# ---------------------------------------------------------------- statistics


def assert_proportion(hits: int, n: int, p: float, sigmas: float = 4.5) -> None:
    """`hits / n` is within `sigmas` standard errors of `p` (binomial)."""
    se = math.sqrt(p * (1 - p) / n) if 0 < p < 1 else 0.0
    observed = hits / n
    assert abs(observed - p) <= sigmas * se + 1e-12, (
        f"observed {observed:.4f} ({hits}/{n}), expected {p:.4f} ± {sigmas * se:.4f}"
    )


def assert_mean(values: list[float], mean: float, sd: float, sigmas: float = 4.5) -> None:
    n = len(values)
    observed = sum(values) / n
    tol = sigmas * sd / math.sqrt(n)
    assert abs(observed - mean) <= tol, f"mean {observed:.4f}, expected {mean:.4f} ± {tol:.4f}"
