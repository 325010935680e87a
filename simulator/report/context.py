"""What every section reads: the run folder, its tables, its record and the lives it wrote."""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.report.tables import RunFolder, Tables
from simulator.report.targets import MeasuredRun


def top_level_modules(record: dict[str, Any]) -> list[str]:
    """The run's top-level modules, from run.json: its module files outside subfolders (the
    loader's rule: a module in a subfolder is a submodule) chosen by its ``-m`` globs."""
    patterns = [p.lower() for p in record.get("options", {}).get("modules") or [] if p]
    keys = sorted(path[: -len(".json")] for path in record.get("modules", {})
                  if path.endswith(".json") and "/" not in path)
    return [k for k in keys
            if not patterns or any(fnmatch.fnmatchcase(k.lower(), p) for p in patterns)]


@dataclass
class Context:
    run: RunFolder
    measured: MeasuredRun | None  # None when the run wrote no patients table
    top_level: list[str]
    modules_dir: Path
    modules_note: str  # what to bear in mind about the modules folder, or ""

    @property
    def tables(self) -> Tables:
        return self.run.tables

    @property
    def reference(self) -> dt.date:
        return self.run.reference_date

    @property
    def options(self) -> dict[str, Any]:
        return self.run.options

    @classmethod
    def of(cls, run: RunFolder) -> Context:
        from simulator.population.module_mortality import cause_modules, deleted_modules
        from simulator.runstate import file_hashes

        options = run.options
        top = top_level_modules(run.record)
        modules_dir = Path(str(options.get("modules_dir", "")))
        natural = bool(options.get("natural_death", True))
        note = ""
        causes: dict[str, str] | None = None
        if modules_dir.is_dir():
            causes = cause_modules(modules_dir)
            if file_hashes(modules_dir) != run.record.get("modules", {}):
                note = (f"the modules in {modules_dir} changed since the run: causes of death "
                        "are read from them as they are now")
        else:
            note = f"the run's modules folder {modules_dir} is not at hand"
        measured = None
        if run.tables.has("patients"):
            deleted = deleted_modules(modules_dir, top) if natural else ()
            measured = MeasuredRun(run.tables, run.reference_date, deleted, causes, natural)
        return cls(run, measured, top, modules_dir, note)
