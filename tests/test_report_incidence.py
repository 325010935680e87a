"""`incidence:` rows of the target table: rates by age band from the first lives, weighted by
the ages of every life of the run, checked on a few rows of CSV written by hand (no
simulation) against the same arithmetic done here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from simulator.export.csv import CSV_FILES
from simulator.report.tables import Tables
from simulator.report.targets import MeasuredRun

CODE = "22298006"
REFERENCE = dt.date(2024, 1, 1)
YEAR = 365.25  # days, as simulator.report.targets counts a year of age


def _table(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    columns = CSV_FILES[name]
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _person(n: int, birth: str, death: str = "") -> dict[str, str]:
    return {"Id": f"00000000-0000-4000-8000-{n:012d}", "BIRTHDATE": birth, "DEATHDATE": death,
            "GENDER": "M", "RACE": "white", "ETHNICITY": "nonhispanic"}


@pytest.fixture()
def measured(tmp_path: Path) -> MeasuredRun:
    """Three people, four lives. Index 1: a man born 1993, alive, an MI at 29 in the window.
    Index 2: a man born 1953 whose first life has an MI in 2020 and dies in 2021, then his
    living life (no MI). Index 3: a man born 1953, alive, an MI at 70."""
    lives = [_person(1, "1993-01-01"), _person(2, "1953-01-01", "2021-01-01"),
             _person(3, "1953-01-01"), _person(4, "1953-01-01")]
    _table(tmp_path, "patients", lives)
    _table(tmp_path, "conditions", [
        {"START": "2022-01-01", "PATIENT": lives[0]["Id"], "CODE": CODE, "SYSTEM": "x"},
        {"START": "2020-01-01", "PATIENT": lives[1]["Id"], "CODE": CODE, "SYSTEM": "x"},
        {"START": "2023-06-01", "PATIENT": lives[3]["Id"], "CODE": CODE, "SYSTEM": "x"},
    ])
    return MeasuredRun(Tables.of_csv_folder(tmp_path), REFERENCE)


def _years(birth: str, end: str, low: float, high: float) -> float:
    """Years a life born on ``birth`` and followed to ``end`` spent aged low to high within the
    5-year window before the reference date."""
    born = dt.date.fromisoformat(birth)
    a0 = (dt.date(2019, 1, 1) - born).days / YEAR
    a1 = (dt.date.fromisoformat(end) - born).days / YEAR
    return max(min(a1, high) - max(a0, low), 0.0)


def test_rates_by_age_from_first_lives_weighted_by_every_life(measured: MeasuredRun) -> None:
    # patients.csv holds an index's deceased lives before its living one
    assert list(measured.lives.first) == [True, True, False, True]
    young, old, dead = ("1993-01-01", "2024-01-01"), ("1953-01-01", "2024-01-01"), \
        ("1953-01-01", "2021-01-01")
    bands = [(25, 30), (30, 35), (65, 70), (70, 75)]
    # first lives: index 1, index 2's first life, index 3; every life adds index 2's living one
    first = {b: _years(*young, *b) + _years(*dead, *b) + _years(*old, *b) for b in bands}
    every = {b: first[b] + _years(*old, *b) for b in bands}
    events = {(25, 30): 1, (30, 35): 0, (65, 70): 1, (70, 75): 1}
    total = sum(every.values())
    expected = 1000 * sum(every[b] / total * events[b] / first[b] for b in bands)

    result = measured.incidence("all", "18+", CODE)
    assert result.n == 3
    assert result.value == pytest.approx(expected, rel=1e-9)
    assert result.low < result.value < result.high
    # the first lives' crude rate reads lower: index 2's death leaves them younger than the
    # population, and MIs are commoner in old age
    assert 1000 * 3 / sum(first.values()) < result.value


def test_an_age_band_counts_only_its_own_lives_and_diagnoses(measured: MeasuredRun) -> None:
    young = measured.incidence("all", "18-44", CODE)
    assert young.n == 1
    # one man in the band, followed all 5 years, one MI
    assert young.value == pytest.approx(1000 / _years("1993-01-01", "2024-01-01", 18, 45),
                                        rel=1e-9)
    assert measured.incidence("F", "18+", CODE).n == 0
