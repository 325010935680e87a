"""The deaths the project's own modules cause, so that natural death can leave them out.

Natural death draws an age from the US period life table, which counts every cause of death.
The project's modules kill people as well (a myocardial infarction, a cancer, an overdose), so
with the whole table those causes would be counted twice and people would die years too young.

``simulator/data/module_mortality.csv`` holds, for each of the project's modules that has a
Death state, the yearly probability of dying of it by sex and age band, measured on a run of the
modules (how, in the file's header). A run of the project's modules draws natural death from the
cause-deleted table

    q_natural(x) = 1 - (1 - q_all(x)) / prod over the run's mortal modules m of (1 - q_m(x)),

clamped to [0, q_all(x)]: natural and module deaths together then follow the life table, as
competing risks (the natural-death age is drawn apart from everything a module reads).

:func:`measure` makes the table from a finished run: every death certificate's cause is matched
to the module whose Death state names it, and the deaths and person-years of the last years
before the run's reference date give each module's death rate per sex and age band.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.config import PROJECT_MODULES

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "module_mortality.csv"
SEXES = ("M", "F")
N_AGES = 101  # whole ages 0..100, as the life table
DEATH_CERTIFICATION = "308646001"  # the encounter a death certificate is written in
HEADER = ["module", "sex", "from_age", "to_age", "q"]
_YEAR_DAYS = 365.2425


@dataclass(frozen=True)
class ModuleMortality:
    """``q[module]``: float64[2 (M, F), 101], the yearly probability of dying of the module at
    each whole age; ``source``: how the figures were made."""

    q: Mapping[str, np.ndarray]
    source: str

    def natural_qx(self, all_causes: np.ndarray, modules: Iterable[str]) -> np.ndarray:
        """The all-cause ``qx`` (2, 101) with the deaths of ``modules`` left out; the last age
        keeps q = 1 (everybody dies before 101)."""
        kept = np.ones_like(all_causes)
        for module in sorted(set(modules)):
            if module in self.q:
                kept *= 1.0 - self.q[module]
        natural = 1.0 - (1.0 - all_causes) / kept
        natural = np.clip(natural, 0.0, all_causes)
        natural[:, -1] = 1.0
        return natural


@functools.cache
def load_module_mortality(path: Path | None = None) -> ModuleMortality:
    path = DATA_FILE if path is None else Path(path)
    source, rows = _read(path)
    q: dict[str, np.ndarray] = {}
    for number, row in enumerate(rows, start=2):
        where = f"{path}: row {number}"
        if len(row) != len(HEADER):
            raise ValueError(f"{where}: expected {len(HEADER)} fields, got {len(row)}")
        module, sex, low, high, value = row
        if sex not in SEXES:
            raise ValueError(f"{where}: sex must be M or F, got {sex!r}")
        lo, hi, p = int(low), int(high), float(value)
        if not 0 <= lo <= hi < N_AGES or not 0.0 <= p < 1.0:
            raise ValueError(f"{where}: ages must be within 0..{N_AGES - 1} and q in [0, 1)")
        table = q.setdefault(module, np.zeros((2, N_AGES)))
        table[SEXES.index(sex), lo:hi + 1] = p
    for table in q.values():
        table.setflags(write=False)  # shared through the cache
    return ModuleMortality(q=q, source=source)


def _read(path: Path) -> tuple[str, list[list[str]]]:
    comments, rows = [], []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                comments.append(line[1:].strip())
            elif line.strip():
                rows.append(line.strip().split(","))
    if not rows or rows[0] != HEADER:
        raise ValueError(f"{path}: the header must be {','.join(HEADER)}")
    return " ".join(comments), rows[1:]


def deleted_modules(modules_dir: Path, top_level: Iterable[str]) -> tuple[str, ...]:
    """The run's modules whose deaths natural death leaves out: those of the table, when the
    run's modules are the project's own (another folder's modules are not the ones measured,
    so natural death keeps every cause)."""
    if Path(modules_dir).resolve() != PROJECT_MODULES.resolve():
        return ()
    measured = load_module_mortality().q
    return tuple(sorted(m for m in set(top_level) if m in measured))


# ------------------------------------------------------------------ measuring a run


def cause_modules(modules_dir: Path) -> dict[str, str]:
    """Each cause-of-death code of a module folder's Death states, with the module that names
    it: the state's own codes, the codes of the ConditionOnset it names, or of the
    ConditionOnset states that assign the attribute it names."""
    found: dict[str, str] = {}
    for file in sorted(Path(modules_dir).glob("*.json")):
        states = json.loads(file.read_text(encoding="utf-8")).get("states", {})
        assigns: dict[str, list[dict[str, Any]]] = {}
        for state in states.values():
            if state.get("type") == "ConditionOnset" and state.get("assign_to_attribute"):
                assigns.setdefault(state["assign_to_attribute"], []).append(state)
        for state in states.values():
            if state.get("type") != "Death":
                continue
            sources = [state]
            if "condition_onset" in state:
                sources.append(states.get(state["condition_onset"], {}))
            sources += assigns.get(state.get("referenced_by_attribute", ""), [])
            for source in sources:
                for code in source.get("codes", []):
                    found.setdefault(str(code["code"]), file.stem)
    return found


def measure(run: Path, modules_dir: Path = PROJECT_MODULES, window_years: int = 10,
            band_years: int = 5) -> dict[str, np.ndarray]:
    """Each module's yearly probability of death (2, 101) by sex and age band, from a finished
    run's patients and death certificates (CSV or Parquet) over the ``window_years`` before its
    reference date. Every simulated life counts, the deceased ones too, so the exposure is
    that of all lives lived."""
    options = json.loads((run / "run.json").read_text())["options"]
    reference = dt.date.fromisoformat(options["reference_date"])
    patients = _table(run, "patients", ["Id", "BIRTHDATE", "DEATHDATE", "GENDER"])
    certificates = _table(run, "encounters", ["PATIENT", "CODE", "REASONCODE"],
                          code=DEATH_CERTIFICATION)
    end = _days(reference)
    start = _days(reference.replace(year=reference.year - window_years))
    birth = _day_numbers(patients["BIRTHDATE"], end)
    death = np.minimum(_day_numbers(patients["DEATHDATE"], end), end)
    sex = np.array([SEXES.index(g) for g in patients["GENDER"].to_pylist()])
    bands = [(lo, min(lo + band_years - 1, N_AGES - 1)) for lo in range(0, N_AGES, band_years)]
    exposure = np.zeros((2, len(bands)))
    for b, (lo, hi) in enumerate(bands):
        # person-days lived at ages lo..hi inside the window
        begin = np.maximum(birth + lo * _YEAR_DAYS, start)
        finish = np.minimum(np.minimum(birth + (hi + 1) * _YEAR_DAYS, death), end)
        days = np.clip(finish - begin, 0.0, None)
        for s in (0, 1):
            exposure[s, b] = days[sex == s].sum() / _YEAR_DAYS
    codes = cause_modules(modules_dir)
    row_of = {pid: i for i, pid in enumerate(patients["Id"].to_pylist())}
    deaths: dict[str, np.ndarray] = {m: np.zeros((2, len(bands))) for m in set(codes.values())}
    for pid, reason in zip(certificates["PATIENT"].to_pylist(),
                           certificates["REASONCODE"].to_pylist(), strict=True):
        module = codes.get(reason or "")
        if module is None:
            continue
        i = row_of[pid]
        if not start <= death[i] < end:
            continue
        age = int((death[i] - birth[i]) / _YEAR_DAYS)
        deaths[module][sex[i], min(age, N_AGES - 1) // band_years] += 1
    rates: dict[str, np.ndarray] = {}
    for module, counts in sorted(deaths.items()):
        if not counts.any():
            continue
        rate = np.divide(counts, exposure, out=np.zeros_like(counts), where=exposure > 0)
        q = np.zeros((2, N_AGES))
        for b, (lo, hi) in enumerate(bands):
            q[:, lo:hi + 1] = (1.0 - np.exp(-rate[:, b]))[:, None]
        rates[module] = q
    return rates


def _days(day: dt.date) -> float:
    return float((day - dt.date(1970, 1, 1)).days)


def _day_numbers(column: Any, missing: float) -> np.ndarray:
    """Days since 1970 of a date column (``missing`` where empty)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    days = pc.cast(pc.cast(column, pa.date32()), pa.int32())
    return np.asarray(pc.fill_null(days, int(missing)).to_numpy(zero_copy_only=False),
                      dtype=np.float64)


def _table(run: Path, name: str, columns: list[str], code: str | None = None) -> Any:
    """A table's columns (dates and texts as text) from the run's CSV file or else its Parquet
    dataset; with ``code``, only its rows of that CODE."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    import pyarrow.dataset as ds

    csv = run / "csv" / f"{name}.csv"
    if csv.exists():
        data = pcsv.read_csv(csv, convert_options=pcsv.ConvertOptions(
            include_columns=columns, column_types=dict.fromkeys(columns, pa.string()),
            null_values=[""], strings_can_be_null=True))
        if code is not None:
            data = data.filter(pc.equal(data.column("CODE"), code))
    elif (run / "parquet" / name).is_dir():
        dataset = ds.dataset(run / "parquet" / name, format="parquet")
        where = None if code is None else ds.field("CODE") == code
        data = dataset.to_table(columns=columns, filter=where)
    else:
        raise FileNotFoundError(f"{run}: no {name} table (csv/{name}.csv or parquet/{name}/)")
    return {c: pc.cast(data.column(c), pa.string()) if c not in ("BIRTHDATE", "DEATHDATE")
            else data.column(c) for c in columns}


def write(path: Path, rates: Mapping[str, np.ndarray], source: str, band_years: int) -> None:
    """The table in the data file's form (one row per module, sex and age band)."""
    lines = [f"# {line}" for line in source.splitlines()]
    lines.append(",".join(HEADER))
    for module in sorted(rates):
        for s, sex in enumerate(SEXES):
            for lo in range(0, N_AGES, band_years):
                hi = min(lo + band_years - 1, N_AGES - 1)
                lines.append(f"{module},{sex},{lo},{hi},{rates[module][s, lo]:.6g}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
