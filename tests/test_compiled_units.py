"""The compiled engine's numba building blocks give what the reference engine's Python gives:
calendar arithmetic, time units and the keyed random streams."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.compiled import civil, rng
from simulator.compiled import kernel as k
from simulator.compiled.lower import UNITS
from simulator.compiled.strings import StringTable
from simulator.engine import randomness as r
from simulator.engine import timeutil as tu

# 1700 to 2200, in ms
instants = st.integers(min_value=-8_520_000_000_000, max_value=7_260_000_000_000)


@settings(max_examples=400, deadline=None)
@given(instants, st.integers(min_value=0, max_value=120 * 365 * tu.DAY))
def test_calendar_matches_timeutil(birth: int, span: int) -> None:
    now = birth + span
    assert tuple(civil.ymd(now)) == tu.ymd(now)
    assert civil.age_years(birth, now) == tu.age_years(birth, now)
    assert civil.age_months(birth, now) == tu.age_months(birth, now)
    assert civil.year_of(now) == tu.year_of(now)
    assert civil.month_of(now) == tu.month_of(now)
    assert civil.age_decimal_years(birth, now) == tu.age_decimal_years(birth, now)


@settings(max_examples=300, deadline=None)
@given(instants, st.integers(min_value=0, max_value=1500))
def test_age_reached_matches_timeutil(birth: int, months: int) -> None:
    assert civil.age_reached_ms(birth, months) == tu.age_reached_ms(birth, months)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=1000, allow_nan=False), st.sampled_from(UNITS))
def test_time_units_match_timeutil(quantity: float, unit: str) -> None:
    code = UNITS.index(unit)
    assert k.fractional_ms(quantity, code) == tu.fractional_ms(quantity, unit)
    assert k.integer_ms(quantity, code) == tu.integer_ms(quantity, unit)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1), st.text(max_size=30))
def test_streams_match_randomness(person_key: int, name: str) -> None:
    stream = r.Stream(person_key, r.stream_id(name))
    mixed = np.uint64(rng.mix64(np.uint64(r.stream_id(name))))
    key = np.uint64(rng.stream_key(np.uint64(person_key), mixed))
    for n in range(1, 6):
        assert rng.uniform(key, np.int64(n)) == stream.random()


_TEXT_TABLES = namedtuple("_TEXT_TABLES", "str_off str_cp")
# kernel.text_order's Python source: compiling it for this test's own table type would put
# an overload into the kernel's on-disk cache that names this module, and every process that
# cannot import it (a run started anywhere else) would then fail loading that cache
text_order = k.text_order.py_func


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=2, max_size=6, unique=True),
       st.lists(st.text(max_size=12)))
def test_texts_order_as_python_orders_them(program: list[str], person: list[str]) -> None:
    """kernel.text_order on the StringTable's code points is Python's order of texts; a
    person's strings are forgotten after the person, the program's stay."""
    table = StringTable(program)
    table.settle()
    kept = dict(table.ids)
    for _ in range(2):  # a second person reuses the first one's ids
        ids = [table.intern(text) for text in person]
        table.extend()
        tables = _TEXT_TABLES(table.off, table.cp)
        everyone = [*program, *person]
        for a in everyone:
            for b in everyone:
                order = text_order(tables, table.ids[a], table.ids[b])
                assert order == (a > b) - (a < b), (a, b)
        for text, i in zip(person, ids, strict=True):
            assert table.values[i] == text and table.values[table.lower[i]] == text.lower()
        table.forget_person()
        assert table.ids == kept and len(table.values) == len(kept)
