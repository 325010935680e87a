"""Keyed random streams (simulator.engine.randomness): a draw is a pure function of (person,
stream, n), so it does not depend on other streams' draws; the outputs are uniform."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine.person import Person
from simulator.engine.randomness import (
    MASK64,
    Stream,
    mix64,
    person_seed,
    stream_id,
    uuid_text,
    uuid_texts,
)


def test_mix64_is_splitmix64() -> None:
    # splitmix64 seeded with 0: the first outputs of the reference implementation
    state = 0
    outputs = []
    for _ in range(3):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        outputs.append(mix64(state))
    assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@given(person=st.integers(0, MASK64), a=st.integers(0, MASK64), b=st.integers(0, MASK64),
       between=st.integers(0, 20))
def test_a_stream_does_not_depend_on_other_streams(person: int, a: int, b: int,
                                                   between: int) -> None:
    alone = Stream(person, a)
    first = [alone.random() for _ in range(5)]
    mixed, other = Stream(person, a), Stream(person, b)
    seen = []
    for _ in range(5):
        seen.append(mixed.random())
        for _ in range(between):
            other.random()
    assert seen == first


def test_draws_are_uniform_and_streams_differ() -> None:
    stream = Stream(person_seed(1, 2), stream_id("state:m:S"))
    values = [stream.random() for _ in range(40_000)]
    assert all(0.0 <= v < 1.0 for v in values)
    counts = [0] * 20
    for v in values:
        counts[int(v * 20)] += 1
    chi2 = sum((c - 2000) ** 2 / 2000 for c in counts)
    assert chi2 < 45  # 19 degrees of freedom: p ≈ 0.001
    other = Stream(person_seed(1, 2), stream_id("state:m:T"))
    assert [other.random() for _ in range(3)] != values[:3]
    assert Stream(person_seed(1, 3), stream_id("state:m:S")).random() != values[0]


def test_gauss_has_mean_0_and_sd_1() -> None:
    stream = Stream(7, 8)
    values = [stream.gauss() for _ in range(40_000)]
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    assert abs(mean) < 0.02 and abs(sd - 1) < 0.02


def test_uuid_is_version_4_and_ints_are_in_range() -> None:
    stream = Stream(3, 4)
    u = stream.uuid()
    assert len(u) == 36 and u[14] == "4" and u[19] in "89ab"
    assert {stream.int_between(2, 4) for _ in range(200)} == {2, 3, 4}
    assert all(0 <= stream.getrandbits(63) < 2**63 for _ in range(50))


def test_a_person_keeps_one_stream_per_id() -> None:
    person = Person(index=0, seed=person_seed(5, 0), birth=0, attributes={})
    s1 = person.stream(stream_id("vitals:lipids"))
    s1.random()
    assert person.stream(stream_id("vitals:lipids")) is s1 and s1.n == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1)),
                max_size=20))
def test_uuids_in_bulk_are_the_same_texts(pairs: list[tuple[int, int]]) -> None:
    hi = np.array([h for h, _ in pairs], dtype=np.int64)
    lo = np.array([low for _, low in pairs], dtype=np.int64)
    assert uuid_texts(hi, lo) == [uuid_text(h, low) for h, low in pairs]
