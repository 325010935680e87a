"""The conformance suite runs against both engines. With the compiled engine every module a
test runs is also lived by the reference engine, and the two must agree person by person
(simulator.testing.run_both); the test's own assertions then check the compiled run.

A module using something the compiled engine cannot run yet is skipped in the compiled run,
with the feature named (simulator.compiled.lower.Unsupported)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from simulator.testing import RunResult, run_both

from . import gmf


def differential_run(*args: Any, **kwargs: Any) -> RunResult:
    from simulator.compiled.lower import Unsupported

    try:
        return run_both(*args, **kwargs)
    except Unsupported as exc:
        pytest.skip(f"compiled engine: {exc}")


@pytest.fixture(autouse=True, params=["reference", "compiled"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "compiled":
        monkeypatch.setattr(gmf, "run_modules", differential_run)
    yield request.param
