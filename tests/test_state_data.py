"""State demographics data file and its loader."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.errors import UserError
from simulator.population import state_data
from simulator.population.state_data import (
    DATA_PATH,
    SDOH,
    TOLERANCE,
    _profile,
    load_state_profiles,
    national_sdoh,
    state_profile,
)

RAW: dict[str, Any] = json.loads(DATA_PATH.read_text(encoding="utf-8"))


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "state_demographics.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_data_file_validates_and_covers_the_states_and_dc() -> None:
    profiles = load_state_profiles()
    assert len(profiles) == 51
    assert "District of Columbia" in profiles
    assert len({p.abbreviation for p in profiles.values()}) == 51


def test_massachusetts_and_texas_match_their_published_acs_2018_figures() -> None:
    ma, tx = state_profile("Massachusetts"), state_profile("Texas")
    assert (ma.population, tx.population) == (6_902_149, 28_701_845)  # DP05 total population
    assert ma.hispanic == pytest.approx(0.1227, abs=1e-4)  # 846,780 / 6,902,149
    assert tx.hispanic == pytest.approx(0.3961, abs=1e-4)  # 11,368,844 / 28,701,845
    assert tx.sdoh["uninsured"] == pytest.approx(0.1771, abs=1e-4)
    assert ma.education["bs_degree"] == pytest.approx(0.4453, abs=1e-4)


def test_every_state_names_a_source_for_every_figure_it_gives() -> None:
    for name, raw in RAW["states"].items():
        groups = {"age", "female_by_age", "race", "hispanic", "income", "education"} | set(raw["sdoh"])
        missing = groups - set(raw["sources"])
        assert not missing, f"{name} lacks sources for {missing}"
        assert all("ACS" in raw["sources"][g] or "USDA" in raw["sources"][g] for g in groups)


def test_national_sdoh_covers_every_indicator_a_state_may_omit() -> None:
    national = national_sdoh()
    assert set(national) <= set(SDOH)
    assert all(0.0 < v < 1.0 for v in national.values())
    for profile in load_state_profiles().values():
        absent = set(SDOH) - set(profile.sdoh)
        assert absent <= set(national), profile.name
    assert set(RAW["national_sdoh"]["sources"]) == set(national)


def test_lookup_accepts_names_and_abbreviations_in_any_case() -> None:
    texas = state_profile("Texas")
    assert state_profile("tx") is texas
    assert state_profile("TEXAS") is texas
    assert state_profile("  new   york ") is state_profile("NY")
    assert state_profile("dc").name == "District of Columbia"


@pytest.mark.parametrize("bad", ["Atlantis", "Puerto Rico", "T", ""])
def test_unknown_state_is_a_user_error_naming_the_option(bad: str) -> None:
    with pytest.raises(UserError) as info:
        state_profile(bad)
    message = str(info.value)
    assert "--state" in message
    assert "Texas (TX)" in message and "Massachusetts (MA)" in message


def test_age_by_sex_shares_sum_to_one_and_bands_cover_all_ages() -> None:
    for profile in load_state_profiles().values():
        assert math.fsum(profile.age_male) + math.fsum(profile.age_female) == pytest.approx(1.0, abs=TOLERANCE)
        bands = profile.age_bands
        assert bands[0][0] == 0 and bands[-1] == (85, 110)
        assert all(b[0] == a[1] + 1 for a, b in zip(bands, bands[1:], strict=False))


def test_female_share_is_split_pro_rata_across_the_18_boundary() -> None:
    raw = RAW["states"]["Ohio"]
    ohio = state_profile("Ohio")
    f = raw["female_by_age"]
    i = ohio.age_bands.index((15, 19))  # ages 15-17 are children, 18-19 adults
    share = ohio.age_female[i] / (ohio.age_female[i] + ohio.age_male[i])
    assert share == pytest.approx(0.6 * f["0-17"] + 0.4 * f["18-64"])
    j = ohio.age_bands.index((75, 84))
    assert ohio.age_female[j] / (ohio.age_female[j] + ohio.age_male[j]) == pytest.approx(f["65+"])


def test_income_brackets_are_contiguous_dollar_ranges() -> None:
    brackets = list(state_profile("MA").income)
    assert brackets[0] == (0, 9_999) and brackets[1] == (10_000, 14_999)
    assert brackets[-1] == (200_000, 999_999)
    assert all(b[0] == a[1] + 1 for a, b in zip(brackets, brackets[1:], strict=False))


def test_loader_is_cached_per_path(tmp_path: Path) -> None:
    assert load_state_profiles() is load_state_profiles(DATA_PATH)
    path = _write(tmp_path, RAW)
    assert load_state_profiles(path) is load_state_profiles(path)
    assert load_state_profiles(path) is not load_state_profiles()


def _corrupt(tmp_path: Path, change: Any) -> str:
    doc = copy.deepcopy(RAW)
    change(doc["states"]["Massachusetts"])
    with pytest.raises(ValueError) as info:
        load_state_profiles(_write(tmp_path, doc))
    return str(info.value)


def test_corrupted_group_sum_names_state_and_key(tmp_path: Path) -> None:
    message = _corrupt(tmp_path, lambda s: s["race"].update(white=s["race"]["white"] + 0.01))
    assert "'Massachusetts'" in message and "'race'" in message


def test_corrupted_files_name_the_key(tmp_path: Path) -> None:
    assert "'education'" in _corrupt(tmp_path, lambda s: s.pop("education"))
    assert "'age'" in _corrupt(tmp_path, lambda s: s.update(age={("6-9" if k == "5-9" else k): v
                                                                  for k, v in s["age"].items()}))
    assert "'sources.income'" in _corrupt(tmp_path, lambda s: s["sources"].pop("income"))
    assert "'hispanic'" in _corrupt(tmp_path, lambda s: s.update(hispanic=-0.1))
    assert "'sdoh'" in _corrupt(tmp_path, lambda s: s["sdoh"].update(smoking=0.1))
    assert "'income'" in _corrupt(tmp_path, lambda s: s["income"].pop("10-15"))


@settings(max_examples=60, deadline=None)
@given(delta=st.floats(min_value=-0.1, max_value=0.1), group=st.sampled_from(["race", "income", "age",
                                                                            "education"]))
def test_any_group_off_by_more_than_the_tolerance_is_rejected(delta: float, group: str) -> None:
    raw = copy.deepcopy(RAW["states"]["Texas"])
    key = max(raw[group], key=raw[group].get)  # the largest share can move either way and stay in [0, 1]
    raw[group][key] += delta
    if abs(delta) > TOLERANCE + 1e-9:
        with pytest.raises(ValueError, match=f"'{group}['.]"):
            _profile("Texas", raw)
    elif abs(delta) < TOLERANCE - 5e-4:
        assert _profile("Texas", raw).name == "Texas"


def test_module_default_path_points_at_the_shipped_file() -> None:
    assert state_data.DATA_PATH.name == "state_demographics.json" and state_data.DATA_PATH.is_file()
