"""Run small modules on small populations: for tests and for module authors.

    result = run_modules({"name": "Demo", "states": {...}}, population=200)
    result.records[0].encounters, result.people[0].attributes, result.state_counts
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from simulator.engine.person import Person
from simulator.population.people import Population, PopulationOptions
from simulator.record import HealthRecord
from simulator.worker import Worker, compile_modules


@dataclass
class RunResult:
    records: list[HealthRecord] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    state_counts: Counter[str] = field(default_factory=Counter)


def write_module_tree(
    root: Path,
    modules: Mapping[str, Mapping[str, Any]],
    lookup_tables: Mapping[str, str] | None = None,
) -> Path:
    """Write `{path_key: module_json}` (e.g. `"demo"`, `"sub/helper"`) and lookup tables."""
    for key, module in modules.items():
        path = root / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(module), encoding="utf-8")
    for name, text in (lookup_tables or {}).items():
        table = root / "lookup_tables" / name
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text(text, encoding="utf-8")
    return root


def run_modules(
    modules: Mapping[str, Any] | Mapping[str, Mapping[str, Any]],
    population: int = 100,
    seed: int = 1,
    reference_date: date = date(2020, 1, 1),
    age: tuple[int, int] | None = None,
    gender: str | None = None,
    lookup_tables: Mapping[str, str] | None = None,
    lifecycle: bool = True,
    state: str = "Massachusetts",
    engine: str = "reference",
) -> RunResult:
    """Simulate `population` people with the given module(s).

    Without `lifecycle` people get no built-in life events, natural death or vaccinations, so
    a module's own behaviour can be checked in isolation. Encounters carry no organization or
    payer here (see `worker.world` for a run's shared provider network and payers).

    `modules` is one module JSON object, or a mapping of path keys to module JSON objects
    (submodules use keys with a folder, e.g. `"meds/statin"`).
    """
    tree = {"module": modules} if "states" in modules else modules
    reference_time = (reference_date - date(1970, 1, 1)).days * 86_400_000
    options = PopulationOptions(
        seed=seed,
        reference_time=reference_time,
        gender=gender,
        min_age=age[0] if age else None,
        max_age=age[1] if age else None,
        state=state,
        natural_death=lifecycle,
    )
    people = Population(options)  # before the modules: a bad option is the error reported
    result = RunResult()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_module_tree(Path(tmp), tree, lookup_tables)  # type: ignore[arg-type]
        program = compile_modules(root)
    worker = Worker.for_modules(program, people, lifecycle, engine=engine)
    for index in range(population):
        person = people.make(index)
        record, _ = worker.live(person, result.state_counts)
        result.records.append(record)
        result.people.append(person)
    return result


def module_tree(*names: str, root: Path | None = None) -> dict[str, Any]:
    """`{path_key: module}` for the named top-level modules of a module folder (default: the
    project's `modules/`) and every submodule under `<folder>/<name>/`, keyed as submodule
    states refer to them (e.g. "diabetes/retinopathy"). Feed it to :func:`run_modules`."""
    from simulator.config import PROJECT_MODULES

    folder = root or PROJECT_MODULES
    tree: dict[str, Any] = {}
    for name in names:
        tree[name] = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        sub = folder / name
        if sub.is_dir():
            for path in sorted(sub.rglob("*.json")):
                key = path.relative_to(folder).with_suffix("").as_posix()
                tree[key] = json.loads(path.read_text(encoding="utf-8"))
    return tree


def run_both(modules: Mapping[str, Any] | Mapping[str, Mapping[str, Any]], **kwargs: Any
             ) -> RunResult:
    """`run_modules` with the compiled engine, checked person by person against the reference
    engine (records, attributes, symptoms and state counts); returns the compiled run. Raises
    simulator.compiled.lower.Unsupported when the compiled engine cannot run the modules."""
    kwargs.pop("engine", None)
    compiled = run_modules(modules, engine="compiled", **kwargs)
    reference = run_modules(modules, engine="reference", **kwargs)
    for i, (r, c) in enumerate(zip(reference.records, compiled.records, strict=True)):
        if r != c:
            raise AssertionError(f"person {i}: the engines' records differ at "
                                 f"{first_difference(r, c)}")
    for i, (r, c) in enumerate(zip(reference.people, compiled.people, strict=True)):
        if dict(r.attributes) != dict(c.attributes) or r.symptoms != c.symptoms:
            raise AssertionError(f"person {i}: the engines leave different attributes or "
                                 f"symptoms: {first_difference(dict(r.attributes), dict(c.attributes))}")
    if reference.state_counts != compiled.state_counts:
        raise AssertionError(f"state counts differ: {reference.state_counts} != "
                             f"{compiled.state_counts}")
    return compiled


def first_difference(a: Any, b: Any, path: str = "record") -> str:
    """Where two records (or values) first differ, for a readable failure."""
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    if isinstance(a, dict):
        for key in a.keys() | b.keys():
            if a.get(key) != b.get(key):
                return first_difference(a.get(key), b.get(key), f"{path}[{key!r}]")
    if hasattr(a, "__dataclass_fields__"):
        for name in a.__dataclass_fields__:
            x, y = getattr(a, name), getattr(b, name)
            if x != y:
                return first_difference(x, y, f"{path}.{name}")
    return f"{path}: {a!r} != {b!r}"
