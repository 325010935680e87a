"""Finding the module a command names, and the modules folder it belongs to (so its
submodule calls resolve): shared by `simulate modules check`, `graph` and `run`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import UserError


@dataclass(frozen=True)
class ModuleSource:
    root: Path  # the modules folder submodule keys are relative to
    key: str  # path key of the module in that folder

    @property
    def file(self) -> Path:
        return self.root / f"{self.key}.json"


def find_module(spec: str, modules_dir: Path) -> ModuleSource:
    """MODULE as given: a .json file, or the key (or `name`) of a module in `modules_dir`."""
    path = Path(spec)
    if path.suffix.lower() == ".json" or path.is_file():
        if not path.is_file():
            raise UserError(f"module file {spec!r} does not exist")
        if path.suffix != ".json":
            raise UserError(f"module file {spec!r}: a module file's name ends in .json")
        root = modules_root(path, modules_dir)
        return ModuleSource(root, path.resolve().relative_to(root.resolve()).with_suffix("").as_posix())
    if not modules_dir.is_dir():
        raise UserError(f"option --modules-dir: {str(modules_dir)!r} is not a folder")
    if (modules_dir / f"{spec}.json").is_file():
        return ModuleSource(modules_dir, spec)
    named = keys_by_name(modules_dir)
    key = named.get(spec.lower().removesuffix(" module"))
    if key is not None:
        return ModuleSource(modules_dir, key)
    known = sorted(p.stem for p in modules_dir.glob("*.json"))
    listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    raise UserError(
        f"module {spec!r}: no module with that key or name in {str(modules_dir)!r} "
        f"(option --modules-dir; or give a .json file); there are: {listed or 'none'}"
    )


def modules_root(file: Path, modules_dir: Path | None = None) -> Path:
    """The folder the file's submodule keys resolve in: --modules-dir if the file is in it,
    the modules folder of a submodule file (modules/diabetes/x.json beside
    modules/diabetes.json), else the nearest folder in which every submodule it calls exists
    (its own folder when it calls none)."""
    resolved = file.resolve()
    if modules_dir is not None and modules_dir.is_dir() and resolved.is_relative_to(
            modules_dir.resolve()):
        return modules_dir
    calls = submodule_calls(file)
    parent = file.parent
    if not calls and (parent.parent / f"{parent.name}.json").is_file():
        return parent.parent
    # As the user spelled it first, so the report names the file the same way.
    for folder in [file.parent, *file.parent.parents, *resolved.parent.parents]:
        if all((folder / f"{key}.json").is_file() for key in calls):
            return folder
    return file.parent  # the loader reports the submodules that are missing


def submodule_calls(file: Path) -> set[str]:
    try:
        raw = json.loads(file.read_text(encoding="utf-8-sig"))
        states = raw.get("states") if isinstance(raw, dict) else None
    except (OSError, ValueError, RecursionError):
        return set()  # the loader reports why
    if not isinstance(states, dict):
        return set()
    return {
        st["submodule"]
        for st in states.values()
        if isinstance(st, dict) and st.get("type") == "CallSubmodule"
        and isinstance(st.get("submodule"), str)
    }


def keys_by_name(folder: Path) -> dict[str, str]:
    """Top-level modules by their lowercased `name` member, so "Gout" finds gout.json."""
    keys: dict[str, str] = {}
    for file in sorted(folder.glob("*.json")):
        try:
            raw = json.loads(file.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError, RecursionError):
            continue  # the loader reports why
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            keys.setdefault(raw["name"].lower(), file.stem)
    return keys
