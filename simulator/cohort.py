"""Targeted cohorts: which simulated people a run keeps (`-k/--keep`, `--keep-condition`).

A keep module follows Synthea's semantics (engine-behaviour.md §3.6): after a person is fully
simulated it is walked once at the end of the simulation, death ignored, and the person is kept
iff the walk stops on a state named exactly ``Keep``. ``--keep-condition`` is the everyday case
without writing a module: the record has a condition (active or resolved) whose code is the
text, or whose display contains every word of it ("diabetes" matches "Diabetes mellitus type 2
(disorder)" but not "Prediabetes").

Where this differs from Synthea: a rejected person is not simulated again with the same
demographics until kept; the run moves on to the next person of the population. Synthea's
retry never ends (or errors after 1000 attempts) when a person's demographics cannot meet the
criteria, e.g. a child for a type 2 diabetes cohort, and the kept people's ages, sexes and
places then follow the condition's own distribution rather than the population's.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from simulator.config import KeepSpec
from simulator.engine.program import CompiledModule, Program, compile_module
from simulator.engine.simulation import PersonSim
from simulator.errors import UserError
from simulator.gmf import schema as s
from simulator.gmf.loader import ModuleLoadError, load_module_file
from simulator.gmf.rules import ends_module, open_edges, reachable
from simulator.record import Code, HealthRecord

_WORD = re.compile(r"[0-9a-z]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class KeepRule:
    """Decides, for a finished person, whether their records are written."""

    def __init__(self, spec: KeepSpec) -> None:
        self.spec = spec
        self.module: CompiledModule | None = None
        if spec.module is not None:
            self.module = load_keep_module(spec.module)
        self.words: list[str] = []
        if spec.condition is not None:
            self.words = words(spec.condition)
            if not self.words:
                raise UserError(
                    f"option --keep-condition: {spec.condition!r} has no letters or digits to match"
                )

    def keeps(self, sim: PersonSim, record: HealthRecord) -> bool:
        if self.module is not None and not sim.keep(self.module):
            return False
        return self.spec.condition is None or has_condition(record, self.spec.condition, self.words)


def has_condition(record: HealthRecord, text: str, wanted: list[str]) -> bool:
    code = text.strip()
    for enc in record.encounters:
        for cond in enc.conditions:
            for c in cond.codes:
                if c.code == code:
                    return True
                if wanted and set(wanted) <= set(words(c.display)):
                    return True
    return False


def producible_conditions(program: Program) -> list[Code]:
    """Every condition code the modules of a run can record: the ConditionOnset states of its
    top-level modules and of the submodules they call."""
    seen: set[str] = set()
    todo = [m.key for m in program.top_level]
    codes: dict[tuple[str, str], Code] = {}
    while todo:
        key = todo.pop()
        if key in seen or key not in program.modules:
            continue
        seen.add(key)
        for state in program.modules[key].states.values():
            model = state.model
            if isinstance(model, s.CallSubmodule):
                todo.append(model.submodule)
            elif isinstance(model, s.ConditionOnset) and not isinstance(model, s.AllergyOnset):
                for code in model.codes:
                    codes.setdefault((code.system, code.code), code)
    return list(codes.values())


def check_producible(rule: KeepRule, program: Program) -> None:
    """Refuses, before anything is simulated, a --keep-condition that no module of the run
    can ever record (the run would simulate people for ever, keeping none)."""
    text = rule.spec.condition
    if text is None:
        return
    codes = producible_conditions(program)
    wanted = set(rule.words)
    if any(c.code == text.strip() or wanted <= set(words(c.display)) for c in codes):
        return
    names = sorted({c.display for c in codes if c.display})
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.4)
    hint = f"; the closest are {', '.join(repr(n) for n in close)}" if close else ""
    raise UserError(
        f"option --keep-condition: no condition the {_count(len(program.top_level), 'module')} "
        f"of this run can record matches {text!r} (a code, or every word in the name of one of "
        f"their {_count(len(codes), 'condition code')}){hint}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def load_keep_module(path: Path) -> CompiledModule:
    if not path.is_file():
        raise UserError(f"option --keep: {str(path)!r} is not a file")
    try:
        module = load_module_file(path, stand_alone=True)
    except ModuleLoadError as exc:
        raise UserError(f"option --keep: {exc}") from None
    if "Keep" not in module.states:
        raise UserError(
            f"option --keep: {path}: no state is named 'Keep', so nobody would be kept "
            "(the person is kept when the module stops on the state named Keep)"
        )
    if "Keep" not in reachable(module.states,
                               lambda st: () if ends_module(st) else open_edges(st)):
        raise UserError(
            f"option --keep: {path}: no way from Initial leads to the state named 'Keep' (the "
            "ways there never open: a condition that is always false or a probability of 0), "
            "so nobody would be kept"
        )
    return compile_module(module, {})
