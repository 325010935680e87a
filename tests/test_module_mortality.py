"""Natural death leaves out the deaths the project's modules cause (module_mortality)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import RunConfig
from simulator.population.life_table import load_life_table, natural_death_table
from simulator.population.module_mortality import (
    PROJECT_MODULES,
    ModuleMortality,
    cause_modules,
    deleted_modules,
    load_module_mortality,
    measure,
    write,
)
from simulator.worker import population_options, program_for

MORTAL = {  # the project's modules with a Death state
    "breast_cancer", "chronic_kidney_disease", "colorectal_cancer", "coronary_heart_disease",
    "covid19", "dementia", "diabetes", "heart_failure", "influenza", "lung_cancer", "osteoporosis",
    "prostate_cancer", "stroke", "substance_use",
}


def test_every_mortal_module_names_its_causes() -> None:
    found = cause_modules(PROJECT_MODULES)
    assert set(found.values()) == MORTAL
    assert found["22298006"] == "coronary_heart_disease"  # a Death state's own code
    assert found["75544000"] == "substance_use"  # the ConditionOnset a Death state names
    assert found["93880001"] == "lung_cancer"  # the onset that assigns the attribute it names


def test_the_data_file_covers_the_mortal_modules_at_every_age() -> None:
    table = load_module_mortality()
    assert set(table.q) <= MORTAL
    assert {"coronary_heart_disease", "dementia", "stroke", "lung_cancer"} <= set(table.q)
    for q in table.q.values():
        assert q.shape == (2, 101) and np.all((q >= 0) & (q < 1))
    assert "module_mortality/build.py" in table.source  # how it was made, in its header


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=2, max_size=2),
       st.floats(min_value=0.0, max_value=0.9))
def test_natural_and_module_deaths_together_follow_the_life_table(
        modules: list[float], all_causes: float) -> None:
    q = {f"m{i}": np.full((2, 101), p) for i, p in enumerate(modules)}
    table = ModuleMortality(q=q, source="test")
    everything = np.full((2, 101), all_causes)
    natural = table.natural_qx(everything, ["m0", "m1", "not measured"])
    assert np.all(natural[:, -1] == 1.0)  # nobody outlives the table
    survive_modules = (1 - modules[0]) * (1 - modules[1])
    if survive_modules >= 1 - all_causes:  # the modules leave room for natural deaths
        together = 1 - (1 - natural[0, 0]) * survive_modules
        assert together == pytest.approx(all_causes, abs=1e-12)
    else:  # the modules alone kill more than the table: no natural deaths at that age
        assert natural[0, 0] == 0.0
    assert np.all((natural[:, :-1] >= 0) & (natural[:, :-1] <= all_causes))


def test_only_the_project_modules_are_deleted(tmp_path: Path) -> None:
    assert deleted_modules(PROJECT_MODULES, ["dementia", "asthma", "stroke"]) == (
        "dementia", "stroke")
    assert deleted_modules(tmp_path, ["dementia"]) == ()  # another folder's modules


def test_a_run_of_the_project_modules_draws_natural_death_from_the_deleted_table() -> None:
    config = RunConfig(population=1, seed=1)
    options = population_options(config, program_for(config))
    assert set(options.deleted_causes) == set(load_module_mortality().q)
    table, natural = load_life_table(), natural_death_table(options.deleted_causes)
    for sex in ("M", "F"):  # natural death alone now leaves people longer lives
        assert natural.life_expectancy(sex) > table.life_expectancy(sex) + 1.0
    only = RunConfig(population=1, seed=1, modules=("asthma",))
    assert population_options(only, program_for(only)).deleted_causes == ()
    off = RunConfig(population=1, seed=1, natural_death=False)
    assert population_options(off, program_for(off)).deleted_causes == ()


def _write_run(folder: Path) -> None:
    """Five lives and their death certificates, made by hand, in a run's CSV form; everybody
    is 60 to 79 all through the window (2014 to 2023), so one band holds them."""
    (folder / "csv").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"options": {"reference_date": "2024-01-01"}}))
    patients = [  # Id, BIRTHDATE, DEATHDATE, GENDER
        ("a", "1946-07-01", "2019-01-01", "M"),  # dies of an MI inside the window
        ("b", "1946-07-01", "", "M"),  # alive: the whole window
        ("c", "1946-07-01", "2009-01-01", "M"),  # dies of an MI before the window
        ("d", "1950-07-01", "2020-01-01", "F"),  # dies of natural causes
        ("e", "1950-07-01", "2021-01-01", "F"),  # dies of a stroke
    ]
    lines = ["Id,BIRTHDATE,DEATHDATE,GENDER"] + [",".join(p) for p in patients]
    (folder / "csv" / "patients.csv").write_text("\n".join(lines) + "\n")
    certificates = [("a", "22298006"), ("c", "22298006"), ("d", "9855000"), ("e", "422504002")]
    lines = ["PATIENT,CODE,REASONCODE"] + [f"{p},308646001,{r}" for p, r in certificates]
    lines.append("b,185349003,")  # an ordinary visit
    (folder / "csv" / "encounters.csv").write_text("\n".join(lines) + "\n")


def _years(start: str, end: str) -> float:
    return (np.datetime64(end) - np.datetime64(start)).astype(int) / 365.2425


def test_measure_counts_deaths_and_person_years_of_the_window(tmp_path: Path) -> None:
    _write_run(tmp_path)
    rates = measure(tmp_path, window_years=10, band_years=20)
    assert set(rates) == {"coronary_heart_disease", "stroke"}
    men = _years("2014-01-01", "2019-01-01") + _years("2014-01-01", "2024-01-01")  # a and b
    mi = rates["coronary_heart_disease"]
    assert np.all(mi[0, 60:80] == pytest.approx(1 - math.exp(-1 / men)))
    assert mi[0, 59] == mi[0, 80] == 0.0 and not mi[1].any()
    women = _years("2014-01-01", "2020-01-01") + _years("2014-01-01", "2021-01-01")  # d and e
    assert rates["stroke"][1, 70] == pytest.approx(1 - math.exp(-1 / women))
    assert not rates["stroke"][0].any()
    out = tmp_path / "table.csv"
    write(out, rates, "made by tests\nmodule_mortality/build.py", 20)
    loaded = load_module_mortality(out)
    assert np.allclose(loaded.q["stroke"], rates["stroke"], rtol=1e-5)
