"""The default run uses only the project's own modules, and none of them is a corpus copy."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from simulator.config import PROJECT_MODULES, RunConfig
from simulator.gmf.loader import load_modules
from simulator.run import load_program

MIN_TOP_LEVEL = 30  # issue 5: at least 30 top-level modules


def _state_names(module: dict) -> set[str]:
    return {name.lower() for name in module.get("states", {})}


def test_default_run_loads_exactly_the_project_modules() -> None:
    config = RunConfig()
    assert config.modules_dir == PROJECT_MODULES
    program = load_program(config)
    files = {p.relative_to(PROJECT_MODULES).with_suffix("").as_posix()
             for p in PROJECT_MODULES.rglob("*.json")}
    assert {m.key for m in program.modules.values()} == files
    assert len(program.top_level) >= MIN_TOP_LEVEL
    for m in program.modules.values():
        assert (PROJECT_MODULES / m.file).resolve().is_relative_to(PROJECT_MODULES.resolve())


def test_every_project_module_loads_cleanly() -> None:
    module_set = load_modules(PROJECT_MODULES)
    assert module_set.top_level([])


def test_no_project_module_is_a_corpus_copy(corpus_dir: Path) -> None:
    theirs = {}
    for path in corpus_dir.rglob("*.json"):
        try:
            module = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(module, dict) and isinstance(module.get("states"), dict):
            theirs[path] = (hashlib.sha256(path.read_bytes()).hexdigest(), _state_names(module))
    hashes = {h for h, _ in theirs.values()}
    for path in PROJECT_MODULES.rglob("*.json"):
        module = json.loads(path.read_text())
        assert hashlib.sha256(path.read_bytes()).hexdigest() not in hashes, path.name
        ours = _state_names(module)
        for other_path, (_, other) in theirs.items():
            if len(ours) > 6 and len(other) > 6:
                overlap = len(ours & other) / len(ours | other)
                assert overlap < 0.5, f"{path.name} shares {overlap:.0%} of state names with " \
                                      f"corpus {other_path.name}"
