"""Loading modules is validating them.

`load_modules(root)` reads every `*.json` under a modules root (top-level modules in the root,
submodules in sub-folders) and the `lookup_tables/` folder, and checks the result against
the module rules (:mod:`simulator.gmf.rules`): the same rules `simulate modules check`
reports. Every problem in every file is collected and reported together as
`file: JSON.path: message`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simulator.errors import UserError
from simulator.gmf import rules
from simulator.gmf import schema as s
from simulator.gmf.lookup import LookupTable, LookupTableError, load_lookup_table
from simulator.gmf.rules import Problem


class ModuleLoadError(UserError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:50])
        more = f"\n  ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        count = len(self.problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} found while loading modules:\n{shown}{more}"
        )


@dataclass(slots=True)
class Module:
    """A loaded, validated module. `key` is its path key, e.g. `medications/insulin`."""

    key: str
    file: str
    schema: s.ModuleSchema
    submodule: bool

    @property
    def name(self) -> str:
        """Runtime name: progress, encounter ownership and symptoms are keyed by it."""
        return self.schema.name + " Module"

    @property
    def states(self) -> dict[str, s.State]:
        return self.schema.states


@dataclass(slots=True)
class ModuleSet:
    root: Path
    modules: dict[str, Module] = field(default_factory=dict)
    lookup_tables: dict[str, LookupTable] = field(default_factory=dict)

    def top_level(self, patterns: Iterable[str] | None = None) -> list[Module]:
        """Top-level modules in code-point order of their keys, filtered by `-m` globs."""
        pats = [p.lower() for p in patterns or [] if p]
        chosen = [
            m
            for m in self.modules.values()
            if not m.submodule
            and (not pats or any(fnmatch.fnmatchcase(m.key.lower(), p) for p in pats))
        ]
        return sorted(chosen, key=lambda m: m.key)


def format_loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.startswith(s.TAG):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "unknown_condition_type":
        if isinstance(value, dict) and "condition_type" in value:
            return f"unknown condition_type {value['condition_type']!r}"
        return "missing 'condition_type'"
    if kind == "unknown_state_type":
        if isinstance(value, dict) and "type" in value:
            return f"unknown state type {value['type']!r}"
        return "state has no 'type'"
    msg = err["msg"]
    if kind == "missing":
        return "required member is missing"
    if kind in ("literal_error", "enum"):
        return f"{msg}, got {value!r}"
    if kind.startswith("value_error"):
        return msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unexpected member"
    return f"{msg} (got {value!r})" if not isinstance(value, dict | list) else msg


def _schema_problems(file: str, exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors():
        path = format_loc(err["loc"])
        msg = _describe(err)
        if (path, msg) not in seen:
            seen.add((path, msg))
            problems.append(Problem(file, path, msg))
    return problems


def _check_links(
    module: Module, modules: dict[str, Module], tables: dict[str, LookupTable | LookupTableError]
) -> list[Problem]:
    problems: list[Problem] = []
    for name, st in module.states.items():
        if isinstance(st, s.CallSubmodule) and st.submodule not in modules:
            problems.append(
                Problem(
                    module.file,
                    f"states.{name}.submodule",
                    f"submodule {st.submodule!r} not found (expected {st.submodule}.json in a sub-folder of the modules root)",
                )
            )
        elif isinstance(st, s.CallSubmodule) and not modules[st.submodule].submodule:
            problems.append(
                Problem(
                    module.file,
                    f"states.{name}.submodule",
                    f"{st.submodule!r} is a top-level module, not a submodule",
                )
            )
        if st.transition_key() == "lookup_table_transition":
            options = st.lookup_table_transition or []
            table_name = options[0].lookup_table_name
            path = f"states.{name}.lookup_table_transition[0].lookup_table_name"
            table = tables.get(table_name)
            if table is None:
                problems.append(
                    Problem(module.file, path, f"lookup table {table_name!r} not found in lookup_tables/")
                )
            elif isinstance(table, LookupTableError):
                problems.append(Problem(module.file, path, f"lookup table {table_name!r}: {table}"))
            else:
                wanted = [o.transition for o in options]
                if len(table.probability_columns) != len(wanted):
                    problems.append(
                        Problem(
                            module.file,
                            path,
                            f"lookup table {table_name!r} has {len(table.probability_columns)} probability "
                            f"columns {table.probability_columns} but the state has {len(wanted)} options",
                        )
                    )
                else:
                    for col in table.probability_columns:
                        if col not in wanted:
                            problems.append(
                                Problem(
                                    module.file,
                                    path,
                                    f"lookup table {table_name!r} column {col!r} is not one of the "
                                    f"state's transitions {wanted}",
                                )
                            )
    return problems


def module_key(root: Path, file: Path) -> str:
    return file.relative_to(root).with_suffix("").as_posix()


def load_modules(root: Path | str, lookup_dir: Path | str | None = None) -> ModuleSet:
    """Load and validate every module under `root`. Raises ModuleLoadError with all problems."""
    module_set, problems = collect_modules(root, lookup_dir)
    if problems:
        raise ModuleLoadError(problems)
    return module_set


def read_module(path: Path, rel: str) -> tuple[s.ModuleSchema | None, list[Problem]]:
    """One module file through every rule that needs only the file: the module (None when
    its schema is broken) and its problems."""
    try:
        if not path.is_file():
            return None, [Problem(rel, "", "not a regular file")]
        if path.stat().st_size > rules.MAX_MODULE_BYTES:
            return None, [Problem(rel, "", f"file larger than {rules.MAX_MODULE_BYTES >> 20} MB: "
                                           "not a module")]
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [Problem(rel, "", f"not UTF-8 text (byte {exc.start}): not a module")]
    except OSError as exc:
        return None, [Problem(rel, "", f"cannot read file: {exc.strerror or exc}")]
    raw, problems = rules.parse_json(rel, text)
    if raw is None and problems:
        return None, problems
    if not isinstance(raw, dict):
        return None, [*problems, Problem(rel, "", "a module must be a JSON object")]
    if any(p.message.startswith("nested more than") for p in problems):
        return None, problems
    reported = [p.path for p in problems]
    try:
        parsed = s.ModuleSchema.model_validate(raw)
    except ValidationError as exc:
        # an object holding a number already reported fails its own checks for it too
        problems.extend(p for p in _schema_problems(rel, exc)
                        if not any(_under(p.path, path) or _under(path, p.path)
                                   for path in reported))
        return None, problems
    if problems:  # the rules below would meet the very numbers reported (a NaN, say)
        return None, problems
    problems.extend(rules.module_problems(rel, parsed))
    return parsed, problems


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def collect_modules(root: Path | str, lookup_dir: Path | str | None = None
                    ) -> tuple[ModuleSet, list[Problem]]:
    """Every module under `root` that loads, and every problem found on the way (a module
    with schema errors is left out of the set; one with broken links is kept)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"modules folder {str(root)!r} (--modules-dir) does not exist or is not "
                        "a folder")
    lookup_root = Path(lookup_dir) if lookup_dir else root / "lookup_tables"
    problems: list[Problem] = []
    modules: dict[str, Module] = {}
    try:
        files = sorted(
            p for p in root.rglob("*.json")
            if "lookup_tables" not in p.relative_to(root).parts and not p.is_dir()
        )
    except OSError as exc:
        raise UserError(f"modules folder {str(root)!r} cannot be read: {exc.strerror or exc}"
                        ) from None
    if not files:
        raise UserError(f"modules folder {str(root)!r} (--modules-dir) contains no .json modules")
    for path in files:
        rel = path.relative_to(root).as_posix()
        parsed, found = read_module(path, rel)
        problems.extend(found)
        if parsed is not None:
            key = module_key(root, path)
            modules[key] = Module(key=key, file=rel, schema=parsed, submodule="/" in key)

    tables: dict[str, LookupTable | LookupTableError] = {}
    wanted_tables: dict[str, int] = {}
    for m in modules.values():
        for st in m.states.values():
            if st.transition_key() == "lookup_table_transition" and st.lookup_table_transition:
                options = st.lookup_table_transition
                wanted_tables.setdefault(options[0].lookup_table_name, len(options))
    for table_name, option_count in sorted(wanted_tables.items()):
        table_path = lookup_root / table_name
        if table_path.is_file():
            try:
                tables[table_name] = load_lookup_table(table_path, option_count)
            except LookupTableError as exc:
                tables[table_name] = exc
    for module in modules.values():
        problems.extend(_check_links(module, modules, tables))
    problems.extend(rules.cross_module_problems(
        (m.key, m.file, m.schema) for m in modules.values()))
    return ModuleSet(
        root=root,
        modules=modules,
        lookup_tables={k: v for k, v in tables.items() if isinstance(v, LookupTable)},
    ), problems


def load_module_file(path: Path | str, name_hint: str | None = None,
                     stand_alone: bool = False) -> Module:
    """Load one module file under the same rules, without the folder around it (submodules
    and lookup tables are not checked). A `stand_alone` module (a keep module) runs without
    that folder, so it may not call submodules or use lookup tables."""
    path = Path(path)
    rel = path.name
    parsed, problems = read_module(path, rel)
    if parsed is not None and stand_alone:
        problems.extend(rules.cross_module_problems([(path.stem, rel, parsed)]))
        for name, st in parsed.states.items():
            if isinstance(st, s.CallSubmodule):
                problems.append(Problem(rel, f"states.{name}", "a module run on its own "
                                        "cannot call submodules"))
            if st.transition_key() == "lookup_table_transition":
                problems.append(Problem(rel, f"states.{name}.lookup_table_transition",
                                        "a module run on its own cannot use lookup tables"))
    if problems or parsed is None:
        raise ModuleLoadError(problems)
    return Module(key=name_hint or path.stem, file=rel, schema=parsed, submodule=False)
