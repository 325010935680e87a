"""Helpers for the tests of the project's own modules (modules/)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from simulator.record import HealthRecord
from simulator.testing import RunResult, module_tree, run_modules

MODULES = Path(__file__).resolve().parents[2] / "modules"
REFERENCE_DATE = date(2024, 1, 1)


def load(*names: str) -> dict[str, Any]:
    """`{path_key: module}` for the named top-level modules and their submodules."""
    return module_tree(*names, root=MODULES)


def run(names: Iterable[str], population: int = 1000, **kwargs: Any) -> RunResult:
    kwargs.setdefault("reference_date", REFERENCE_DATE)
    return run_modules(load(*names), population=population, **kwargs)


def ever_had(record: HealthRecord, code: str) -> bool:
    return any(c.code.code == code for e in record.encounters for c in e.conditions)


def active_at_end(record: HealthRecord, code: str) -> bool:
    return any(c.code.code == code and c.stop is None
               for e in record.encounters for c in e.conditions)


def share(records: list[HealthRecord], test: Any) -> float:
    return sum(1 for r in records if test(r)) / max(len(records), 1)
