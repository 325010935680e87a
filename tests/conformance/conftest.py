"""The conformance suite runs against both engines. With the compiled engine every module a
test runs is also lived by the reference engine, and the two records must be equal person by
person (the differential check); the test's own assertions then check the compiled records.

A module using something the compiled engine cannot run yet is skipped in the compiled run,
with the feature named (simulator.compiled.lower.Unsupported)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from simulator.testing import RunResult, run_modules

from . import gmf


def differential_run(*args: Any, **kwargs: Any) -> RunResult:
    from simulator.compiled.lower import Unsupported

    kwargs.pop("engine", None)
    try:
        compiled = run_modules(*args, engine="compiled", **kwargs)
    except Unsupported as exc:
        pytest.skip(f"compiled engine: {exc}")
    reference = run_modules(*args, engine="reference", **kwargs)
    assert_same_lives(reference, compiled)
    return compiled


def assert_same_lives(reference: RunResult, compiled: RunResult) -> None:
    assert len(reference.records) == len(compiled.records)
    for i, (r, c) in enumerate(zip(reference.records, compiled.records, strict=True)):
        if r != c:
            raise AssertionError(f"person {i}: the engines' records differ\n{first_difference(r, c)}")
    assert reference.state_counts == compiled.state_counts
    for r, c in zip(reference.people, compiled.people, strict=True):
        assert dict(r.attributes) == dict(c.attributes)
        assert r.symptoms == c.symptoms


def first_difference(a: Any, b: Any, path: str = "record") -> str:
    """Where two records first differ, for a readable failure."""
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    if hasattr(a, "__dataclass_fields__"):
        for name in a.__dataclass_fields__:
            x, y = getattr(a, name), getattr(b, name)
            if x != y:
                return first_difference(x, y, f"{path}.{name}")
    return f"{path}: {a!r} != {b!r}"


@pytest.fixture(autouse=True, params=["reference", "compiled"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "compiled":
        monkeypatch.setattr(gmf, "run_modules", differential_run)
    yield request.param
