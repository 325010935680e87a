"""RunConfig: every option of a run, from command-line flags or a TOML file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from simulator.errors import UserError

PROJECT_MODULES = Path(__file__).resolve().parent.parent / "modules"
# The range of each number a run takes (beyond them the population tables, the calendar or
# the random streams cannot follow).
MAX_POPULATION = 1_000_000_000
SEED_RANGE = (-(2**63), 2**63 - 1)  # Java's long, as Synthea's -s
MAX_WORKERS = 1024
MAX_AGE = 110  # the oldest single year of age in the Census tables (population.sampler)
EARLIEST_REFERENCE = date(1900, 1, 1)
LATEST_REFERENCE = date(2100, 12, 31)
# fhir: one Bundle per patient; ndjson: bulk-data NDJSON; ccda: one CCD document per patient;
# parquet: the CSV tables as typed Parquet datasets.
FORMATS = ("csv", "fhir", "ndjson", "ccda", "parquet")
BUNDLE_MODES = ("transaction", "batch", "collection")
DEFAULT_YEARS_OF_HISTORY = 10  # Synthea's exporter.years_of_history
MAX_YEARS_OF_HISTORY = MAX_AGE + 1
ENGINES = ("reference", "compiled")  # simulator.engine (SimPy), simulator.compiled (numba)


SHARD_SIZE = 25  # people per shard, the unit of work, merging and resuming
MAX_SHARDS = 400  # a larger run gets larger shards: Parquet writes a file per shard and table


def shard_size_for(population: int) -> int:
    """People per shard by default: 25, or more above 10,000 people, so that a run has at
    most about MAX_SHARDS shards (a million people would otherwise make 40,000 Parquet files
    per table). It depends on the population only, so the files do not depend on -w."""
    return max(SHARD_SIZE, -(-population // MAX_SHARDS))


@dataclass(frozen=True)
class KeepSpec:
    """What a run keeps (simulator.cohort): a keep module, a condition, both, or everyone."""

    module: Path | None = None
    condition: str | None = None

    def __bool__(self) -> bool:
        return self.module is not None or self.condition is not None

    def describe(self) -> str:
        parts = []
        if self.module is not None:
            parts.append(f"keep module {self.module}")
        if self.condition is not None:
            parts.append(f"condition {self.condition!r}")
        return " and ".join(parts)


@dataclass(frozen=True)
class RunConfig:
    population: int = 1
    seed: int = 0
    gender: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    state: str = "Massachusetts"
    city: str | None = None
    modules: tuple[str, ...] = ()
    modules_dir: Path = PROJECT_MODULES
    output: Path = Path("output")
    formats: tuple[str, ...] = ("fhir", "csv")
    fhir_bundle: str = "transaction"
    validate: bool = False  # check every FHIR resource written against the R4 schema and US Core
    reference_date: date = field(default_factory=lambda: datetime.now(UTC).date())
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    shard_size: int = SHARD_SIZE  # a run's is shard_size_for(population) unless it says
    natural_death: bool = True
    keep: KeepSpec = KeepSpec()  # -k/--keep, --keep-condition: write only these people
    cluster: str | None = None  # Dask scheduler address (--cluster); None: local processes
    csv_files: tuple[str, ...] | None = None  # CSV tables written (--csv-files); None: all
    engine: str = "compiled"  # --engine: both give the same output (docs/architecture.md)
    # --years-of-history: the export window (simulator.export.history); 0 writes whole lives
    years_of_history: int = DEFAULT_YEARS_OF_HISTORY

    @property
    def reference_time(self) -> int:
        return (self.reference_date - date(1970, 1, 1)).days * 86_400_000


def parse_age_range(text: str, option: str = "--age") -> tuple[int, int]:
    parts = text.split("-")
    try:
        if len(parts) != 2:
            raise ValueError
        low, high = int(parts[0]), int(parts[1])
    except ValueError:
        raise UserError(f"option {option}: expected MIN-MAX in years, e.g. 30-40, got {text!r}") from None
    if low < 0 or high < low or low > MAX_AGE:
        raise UserError(f"option {option}: {text!r} is not a range of ages between 0 and "
                        f"{MAX_AGE} (the oldest age in the Census tables)")
    return low, min(high, MAX_AGE)


def parse_date(text: str, option: str = "--reference-date") -> date:
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            day = datetime.strptime(text, fmt).date()
            break
        except ValueError:
            continue
    else:
        raise UserError(f"option {option}: expected a date YYYY-MM-DD, got {text!r}")
    if not EARLIEST_REFERENCE <= day <= LATEST_REFERENCE:
        raise UserError(f"option {option}: {text} is outside {EARLIEST_REFERENCE} to "
                        f"{LATEST_REFERENCE}, the years the population, payer and vaccine "
                        "tables cover")
    return day


def whole_number(value: Any, option: str, low: int, high: int) -> int:
    """A whole number from the command line (text) or a TOML file (an integer)."""
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise UserError(f"option {option}: expected a whole number, got {value!r}")
    try:
        number = int(value) if not isinstance(value, str) else int(value.strip(), 10)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"option {option}: expected a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise UserError(f"option {option}: {number} is not between {low} and {high}")
    return number


def text(value: Any, option: str) -> str:
    """A text option: TOML gives it typed, so anything but a string (or a date, for the
    reference date) is a mistake there."""
    if isinstance(value, str):
        if "\x00" in value:
            raise UserError(f"option {option}: the text contains a NUL character")
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    raise UserError(f"option {option}: expected text, got {type(value).__name__} {value!r}")


def path_text(value: Any, option: str) -> Path:
    """A file or folder option: an empty one would silently mean the current folder."""
    given = text(value, option)
    if not given.strip():
        raise UserError(f"option {option}: an empty path (give a file or folder; '.' for the "
                        "current one)")
    return Path(given)


def texts(value: Any, option: str) -> list[str]:
    """A list option: one string (comma- or colon-separated) or a list of strings."""
    if isinstance(value, list | tuple):
        return [text(v, option) for v in value]
    return [text(value, option)]


def flag(value: Any, option: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"option {option}: expected true or false, got {value!r}")
    return value


def parse_formats(values: list[str] | tuple[str, ...] | str, option: str = "--format") -> tuple[str, ...]:
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        for part in str(item).split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in FORMATS:
                raise UserError(
                    f"option {option}: unknown format {name!r} (available: {', '.join(FORMATS)})"
                )
            if name not in out:
                out.append(name)
    if not out:
        raise UserError(f"option {option}: give at least one format")
    return tuple(out)


def split_patterns(values: list[str] | tuple[str, ...], option: str = "--module"
                   ) -> tuple[str, ...]:
    """`-m` accepts repeated flags and Synthea's ':'-separated lists; an empty one (an unset
    shell variable) is refused rather than taken as "every module"."""
    out: list[str] = []
    for value in values:
        out.extend(p.strip() for p in value.split(":") if p.strip())
    if not out:
        raise UserError(f"option {option}: no module pattern given (leave the option out to "
                        "run every module)")
    return tuple(out)


def parse_engine(value: str, option: str = "--engine") -> str:
    engine = value.strip().lower()
    if engine not in ENGINES:
        raise UserError(f"option {option}: unknown engine {value!r} (available: "
                        f"{', '.join(ENGINES)})")
    return engine


def parse_bundle_mode(value: str, option: str = "--fhir-bundle") -> str:
    mode = value.strip().lower()
    if mode not in BUNDLE_MODES:
        raise UserError(
            f"option {option}: unknown bundle type {value!r} (available: {', '.join(BUNDLE_MODES)})"
        )
    return mode


def parse_csv_files(include: Any = None, exclude: Any = None) -> tuple[str, ...] | None:
    """The CSV tables to write, like Synthea's exporter.csv.included_files/excluded_files:
    comma-separated names, case-insensitive, `.csv` optional; None when neither is given."""
    if include is None and exclude is None:
        return None
    from simulator.export.csv import CSV_FILES

    def names(value: Any, option: str) -> list[str]:
        items = [value] if isinstance(value, str) else list(value)
        out = []
        for item in items:
            for part in str(item).split(","):
                stem = part.strip().lower().removesuffix(".csv")
                if not stem:
                    continue
                if stem not in CSV_FILES:
                    raise UserError(f"option {option}: unknown CSV file {part.strip()!r} "
                                    f"(available: {', '.join(CSV_FILES)})")
                out.append(stem)
        return out

    chosen = set(names(include, "--csv-files")) if include is not None else set(CSV_FILES)
    if exclude is not None:
        chosen -= set(names(exclude, "--csv-exclude"))
    if not chosen:
        raise UserError("options --csv-files/--csv-exclude: no CSV file is left to write")
    return tuple(stem for stem in CSV_FILES if stem in chosen)


_TOML_KEYS = {f.name for f in fields(RunConfig)} | {"age", "format", "module", "keep_condition",
                                                  "csv_exclude"}


def load_toml(path: Path) -> dict[str, Any]:
    """Options from a TOML file, by the long option names (`population = 100`, `age = "30-40"`)."""
    try:
        if not path.is_file():
            raise UserError(f"--config {path}: not a file")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"--config {path}: cannot read file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"--config {path}: not UTF-8 text (byte {exc.start}); TOML files are "
                        "UTF-8") from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise UserError(f"--config {path}: not valid TOML: {exc}") from None
    values = data.get("run", data)
    if not isinstance(values, dict):
        raise UserError(f"--config {path}: [run] must be a table of options")
    unknown = sorted(k.replace("-", "_") for k in values if k.replace("-", "_") not in _TOML_KEYS)
    if unknown:
        raise UserError(
            f"--config {path}: unknown option(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_TOML_KEYS))})"
        )
    return {k.replace("-", "_"): v for k, v in values.items()}
