"""Hazard-loop fast-forward gives the same distribution as iterating the Delay one by one."""

from __future__ import annotations

import statistics
from datetime import date

import pytest

from simulator.engine import simulation
from simulator.engine import timeutil as tu
from simulator.testing import run_modules

CODE = {"system": "SNOMED-CT", "code": "195662009", "display": "Acute viral pharyngitis"}


def hazard_module() -> dict:
    """Monthly 2% risk before age 10, 6% from 10 (an Age flip inside the loop), and a flag set
    by a second module at age 5 that doubles the odds (a signal interrupting a skip)."""
    return {
        "main": {"name": "Hazard", "states": {
            "Initial": {"type": "Initial", "direct_transition": "Wait"},
            "Wait": {"type": "Delay", "exact": {"quantity": 1, "unit": "months"}, "complex_transition": [
                {"condition": {"condition_type": "Attribute", "attribute": "boost", "operator": "==", "value": True},
                 "distributions": [{"distribution": 0.04, "transition": "Onset"}, {"distribution": 0.96, "transition": "Wait"}]},
                {"condition": {"condition_type": "Age", "operator": "<", "quantity": 10, "unit": "years"},
                 "distributions": [{"distribution": 0.02, "transition": "Onset"}, {"distribution": 0.98, "transition": "Wait"}]},
                {"distributions": [{"distribution": 0.06, "transition": "Onset"}, {"distribution": 0.94, "transition": "Wait"}]}]},
            "Onset": {"type": "ConditionOnset", "codes": [CODE], "direct_transition": "Terminal"},
            "Terminal": {"type": "Terminal"}}},
        "booster": {"name": "Booster", "states": {
            "Initial": {"type": "Guard", "allow": {"condition_type": "And", "conditions": [
                {"condition_type": "Age", "operator": ">=", "quantity": 5, "unit": "years"},
                {"condition_type": "Gender", "gender": "F"}]}, "direct_transition": "Set"},
            "Set": {"type": "SetAttribute", "attribute": "boost", "value": True, "direct_transition": "Terminal"},
            "Terminal": {"type": "Terminal"}}},
    }


def onset_ages(fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[float], list[float]]:
    monkeypatch.setattr(simulation, "FAST_FORWARD", fast)
    result = run_modules(hazard_module(), population=1500, seed=11, age=(20, 21),
                         reference_date=date(2020, 1, 1), lifecycle=False)
    by_sex: dict[str, list[float]] = {"M": [], "F": []}
    for rec in result.records:
        starts = [c.start for e in rec.encounters for c in e.conditions]
        assert len(starts) <= 1
        if starts:
            by_sex[rec.patient.gender].append((starts[0] - rec.patient.birthdate) / tu.YEAR_365)
    return by_sex["M"], by_sex["F"]


def test_fast_forward_matches_step_by_step(monkeypatch: pytest.MonkeyPatch) -> None:
    slow_m, slow_f = onset_ages(False, monkeypatch)
    fast_m, fast_f = onset_ages(True, monkeypatch)
    for slow, fast in ((slow_m, fast_m), (slow_f, fast_f)):
        # nearly everybody gets it by age 20 with these odds
        assert len(slow) > 650 and len(fast) > 650
        se = (statistics.pstdev(slow) ** 2 / len(slow) + statistics.pstdev(fast) ** 2 / len(fast)) ** 0.5
        assert abs(statistics.mean(slow) - statistics.mean(fast)) < 4 * se
        # share with onset before age 5, and between 5 and 10
        for lo, hi in ((0, 5), (5, 10)):
            a = sum(lo <= x < hi for x in slow) / len(slow)
            b = sum(lo <= x < hi for x in fast) / len(fast)
            assert abs(a - b) < 4 * (a * (1 - a) / len(slow) + b * (1 - b) / len(fast)) ** 0.5 + 1e-9
    # the expected mean onset age for boys: geometric with 2%/month until 10, then 6%/month
    expected_m = sum((1 - 0.02) ** k for k in range(1, 120)) / 12 + (0.98**120) * (1 / 0.06) / 12
    assert abs(statistics.mean(fast_m) - expected_m) < 0.35
