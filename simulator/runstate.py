"""The run record, ``OUTPUT/run.json``: what a run was asked to do and how far it got.

It holds the options, seed, software versions and a hash of every module file, the shards
merged so far with the size of every appended output file after the last merge, and the
counts. It is rewritten (atomically) after every merged shard, so after Ctrl-C, a killed worker
or a killed run, ``simulate --resume -o OUTPUT`` cuts the appended files back to those sizes,
adds up the merged shards' results (kept in ``OUTPUT/.parts/merged/``) and goes on with the
next shard: no person is lost or written twice, and the files end up byte-identical to those of
an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import time
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from simulator.config import KeepSpec, RunConfig
from simulator.errors import UserError

RUN_FILE = "run.json"
RECORD_VERSION = 1
# Options that change nothing in the files written: a resumed run may use other values (the
# output folder may be named by another path).
PLACEMENT_OPTIONS = ("workers", "cluster", "output", "engine")  # do not change the output
_VERSIONED = ("simulator", "simpy", "numpy", "numba", "orjson", "pydantic", "fhir.resources")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every module and lookup table under ``folder``, by relative path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".csv"):
            out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def options_json(config: RunConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(RunConfig):
        value = getattr(config, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, KeepSpec):
            value = {"module": None if value.module is None else str(value.module),
                     "condition": value.condition}
        out[f.name] = value
    return out


def config_from_json(options: dict[str, Any]) -> RunConfig:
    # a run recorded before --years-of-history existed wrote whole lives
    kwargs: dict[str, Any] = {"years_of_history": 0}
    for f in fields(RunConfig):
        if f.name not in options:
            continue
        value = options[f.name]
        if f.name in ("modules_dir", "output"):
            value = Path(value)
        elif f.name == "reference_date":
            value = date.fromisoformat(value)
        elif f.name in ("modules", "formats") or (f.name == "csv_files" and value is not None):
            value = tuple(value)
        elif f.name == "keep":
            value = KeepSpec(None if value["module"] is None else Path(value["module"]),
                             value["condition"])
        kwargs[f.name] = value
    return RunConfig(**kwargs)


def module_hashes(config: RunConfig) -> dict[str, str]:
    """The content a run must still find to be resumed: its modules and keep module."""
    modules = file_hashes(config.modules_dir)
    if config.keep.module is not None and config.keep.module.is_file():
        modules["<keep module>"] = hashlib.sha256(config.keep.module.read_bytes()).hexdigest()
    return modules


class RunRecord:
    """Reads and (atomically) writes ``run.json``."""

    def __init__(self, output: Path, data: dict[str, Any]) -> None:
        self.path = output / RUN_FILE
        self.data = data

    @classmethod
    def start(cls, config: RunConfig) -> RunRecord:
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        return cls(config.output, {
            "record_version": RECORD_VERSION,
            "status": "running",
            "started": now,
            "updated": now,
            "versions": versions(),
            "options": options_json(config),
            "modules": module_hashes(config),
            "shards_done": 0,
            "next_index": 0,
            "counts": {},
            "files": {},
        })

    @classmethod
    def load(cls, output: Path) -> RunRecord:
        path = output / RUN_FILE
        if not path.is_file():
            raise UserError(f"option --resume: {output} has no {RUN_FILE}: nothing to resume "
                            "(give the -o folder of the run that was interrupted)")
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise UserError(f"option --resume: cannot read {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("record_version") != RECORD_VERSION:
            raise UserError(f"option --resume: {path} is not a run record this version can resume")
        return cls(output, data)

    def config(self, overrides: dict[str, Any]) -> RunConfig:
        """The run's own options, plus ``--workers``/``--cluster`` from this invocation; any
        other option given must agree with the record."""
        stored = config_from_json(self.data["options"])
        given = options_json(RunConfig(**{**stored.__dict__, **overrides}))
        recorded = self.data["options"]
        for name, value in given.items():
            if name in PLACEMENT_OPTIONS or name not in overrides:
                continue
            if value != recorded.get(name):
                raise UserError(
                    f"option --{name.replace('_', '-')}: the run in {self.path.parent} was "
                    f"started with {recorded.get(name)!r}; --resume finishes it with its own "
                    "options (leave the option out, or start a new run)"
                )
        return RunConfig(**{**stored.__dict__, **{k: v for k, v in overrides.items()
                                                  if k in PLACEMENT_OPTIONS}})

    def check_modules(self, config: RunConfig) -> None:
        now = module_hashes(config)
        before = self.data["modules"]
        changed = sorted(k for k in set(now) | set(before) if now.get(k) != before.get(k))
        if changed:
            shown = ", ".join(changed[:5]) + (" …" if len(changed) > 5 else "")
            raise UserError(
                f"option --resume: the modules changed since the run started ({shown} in "
                f"{config.modules_dir}); resuming would mix two versions in one output, so "
                "start a new run instead"
            )

    def save(self, **changes: Any) -> None:
        self.data.update(changes)
        self.data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        tmp = self.path.with_name(RUN_FILE + ".tmp")
        try:
            tmp.write_bytes(orjson.dumps(self.data, option=orjson.OPT_INDENT_2))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def save_stop(self, **changes: Any) -> None:
        """Records how a run stopped, even on a full disk: when the new file cannot be
        written beside the old one, the old one is overwritten in place with the record
        without indentation, which is shorter, so no new block is needed."""
        try:
            self.save(**changes)
            return
        except OSError:
            pass
        try:
            with open(self.path, "r+b") as fh:
                fh.write(orjson.dumps(self.data))
                fh.truncate()
        except OSError:
            pass  # the record still says "running": --resume finishes such a run too
