"""The compiled vital signs (simulator/compiled/vitals.py) against the reference
(simulator/engine/vitals.py): the same values bit for bit, the same draws on every group's
stream, the same attributes written and the same errors, for population people and synthetic
ones whose attributes, medications, weight management and overrides change between reads."""

from __future__ import annotations

import math
import random
import struct
from statistics import NormalDist
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.builtin import weight_management as wm
from simulator.builtin.body import Body
from simulator.compiled import rng
from simulator.compiled import vitals as cv
from simulator.engine import randomness as r
from simulator.engine import timeutil as tu
from simulator.engine import vitals as ref
from simulator.engine.person import Person
from simulator.population.people import Population, PopulationOptions
from simulator.record import Code

REF = 1_735_689_600_000  # 2025-01-01
T = cv.tables()
ERRORS = {KeyError: cv.ERR_KEY, TypeError: cv.ERR_TYPE, OverflowError: cv.ERR_OVERFLOW}
GROUP_STREAM_IDS = [r.stream_id(f"vitals:{g}") for g in cv.GROUPS]


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def same(a: float, b: float) -> bool:
    return bits(float(a)) == bits(float(b)) or (math.isnan(a) and math.isnan(b))


def error_code(exc: BaseException) -> int:
    if isinstance(exc, ref.VitalNotSet):
        return 1  # the mirror's own VitalNotSet, not a compute_group code
    for kind, code in ERRORS.items():
        if isinstance(exc, kind):
            return code
    if isinstance(exc, ValueError):
        return cv.ERR_VALUE
    raise exc


class CompiledError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Mirror:
    """Vitals rebuilt on the compiled functions, as the kernel is to wire them: the per-instant
    group cache, the VitalSign overrides (constants here) and the dependency of glucose and
    kidney on BMI and Weight stay with the caller; attributes live in tagged slots."""

    def __init__(self, person: Person, body: np.ndarray, bulk: np.ndarray) -> None:
        self.person = person  # birth, seed and person.present are read; attributes are not
        self.body = body
        self.bulk = bulk
        self.attrs: dict[str, Any] = {}
        self.strings: list[str] = []
        self.drug_impact = cv.new_drug_impact()
        self.keys = [np.uint64(rng.stream_key(np.uint64(person.seed), m)) for m in cv.GROUP_STREAMS]
        self.counters = [np.zeros(1, np.int64) for _ in cv.GROUPS]
        self.cached_at = [None] * len(cv.GROUPS)
        self.values = cv.new_out()
        self.overrides: dict[str, tuple[float, int, bool]] = {}
        self.has_bmi_percentile = False
        self.formatted: set[str] = set()  # texts to load as K_FORMAT (the kernel's lifecycle)

    # the kernel's attribute store, reduced to what this module reads
    def slots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = len(cv.ATTRIBUTES)
        kind, num, ref_ = np.zeros(n, np.int64), np.zeros(n), np.zeros(n, np.int64)
        for i, name in enumerate(cv.ATTRIBUTES):
            kind[i], num[i], ref_[i] = self.encode(self.attrs.get(name))
        return kind, num, ref_, cv.string_info(self.strings)

    def encode(self, value: Any) -> tuple[int, float, int]:
        # as simulator.compiled.engine loads attributes
        if value is None:
            return cv.K_NONE, 0.0, 0
        if isinstance(value, bool):
            return cv.K_BOOL, float(value), 0
        if isinstance(value, int) and abs(value) <= 2**53:
            return cv.K_INT, float(value), 0
        if isinstance(value, float):
            return cv.K_FLOAT, value, 0
        if isinstance(value, str) and value in self.formatted:
            return cv.K_FORMAT, 12345.0, 0
        if isinstance(value, str):
            if value not in self.strings:
                self.strings.append(value)
            return cv.K_STR, 0.0, self.strings.index(value)
        if isinstance(value, Code):
            return cv.K_CODE, 0.0, 0
        return cv.K_OTHER, 0.0, 0

    def med_active(self) -> np.ndarray:
        present = self.person.present
        return np.array([present.get(c) is not None and present[c].stop is None
                         for c in cv.MEDICATIONS], dtype=np.bool_)

    def override(self, name: str, value: float, now: int) -> None:
        self.overrides[name] = (value, now, name in cv.PERSISTENT_OVERRIDE)

    def read(self, name: str, now: int) -> float:
        value = self.raw(name, now)
        if not math.isfinite(value):  # math.floor raises in round_half_up
            raise CompiledError(cv.ERR_VALUE if math.isnan(value) else cv.ERR_OVERFLOW)
        return cv.round_read(value, np.int64(cv.read_decimals(name)))

    def raw(self, name: str, now: int) -> float:
        ov = self.overrides.get(name)
        if ov is not None:
            value, since, persistent = ov
            if persistent or now < since + tu.STEP:
                return value
            del self.overrides[name]
        if name not in cv.VITALS:
            raise ref.VitalNotSet(name)
        i = cv.VITALS.index(name)
        self.group(cv.GROUP_OF[i], now)
        return float(self.values[i])

    def group(self, g: int, now: int) -> dict[str, float]:
        if self.cached_at[g] != now:
            kind, num, ref_, info = self.slots()
            out = cv.new_out()
            dep, has_dep = math.nan, np.bool_(False)
            while True:
                status = cv.compute_group(
                    np.int64(g), np.int64(now), np.int64(self.person.birth), self.body,
                    self.bulk, kind, num, ref_, info, self.med_active(), self.drug_impact, dep,
                    has_dep, self.keys[g], self.counters[g], T.charts, T.charts_n, T.params, out)
                if status != cv.NEEDS_DEPENDENCY:
                    break
                # read like any vital sign: an override, else the growth group (cached at this
                # instant or computed now, which writes no attribute)
                try:
                    dep = self.raw(cv.VITALS[cv.DEPENDENCY_OF[g]], now)
                except (CompiledError, ref.VitalNotSet):
                    self.counters[g][0] += cv.DRAWS_BEFORE_DEPENDENCY[g]
                    raise
                has_dep = np.bool_(True)
            if status >= 0:
                if g == cv.G_GROWTH:
                    self.has_bmi_percentile = bool(status & cv.BMI_PERCENTILE_MEASURED)
                for i, name in enumerate(cv.ATTRIBUTES):
                    if status >> i & 1:
                        self.attrs[name] = bool(num[i]) if kind[i] == cv.K_BOOL else float(num[i])
            else:
                # the reference keeps what it wrote before raising; the kernel faults instead,
                # but the comparison goes on after errors, so pick up the slots filled in
                for i, name in enumerate(cv.ATTRIBUTES):
                    k0 = self.encode(self.attrs.get(name))[0]
                    if k0 == cv.K_NONE and kind[i] != cv.K_NONE:
                        self.attrs[name] = bool(num[i]) if kind[i] == cv.K_BOOL else float(num[i])
                raise CompiledError(status)
            for i, gi in enumerate(cv.GROUP_OF):
                if gi == g:
                    self.values[i] = out[i]
            self.cached_at[g] = now
        return {m: float(self.values[i]) for i, m in enumerate(cv.MEASURES)
                if cv.GROUP_OF[i] == g
                and (i != cv.V_BMI_PERCENTILE or self.has_bmi_percentile)}


class Pair:
    """The reference Vitals and the Mirror side by side, fed the same operations."""

    def __init__(self, person: Person) -> None:
        body, bulk = cv.body_arrays(person)  # before Vitals() fills person.body and bulk
        self.person = person
        self.vitals = ref.Vitals(person)
        self.mirror = Mirror(person, body, bulk)
        for name in cv.ATTRIBUTES:
            if name in person.attributes:
                self.mirror.attrs[name] = person.attributes[name]
        self.now = person.birth
        b = person.body
        expected = [cv._sex_code(b.sex), b.z_height, b.z_weight_infant, b.z_head, b.bmi_start,
                    b.bmi_child, b.bmi_adult, b.weight_multiplier, b.extra_kg]
        assert all(same(x, y) for x, y in zip(body, expected, strict=True))
        assert all(same(x, y) for x, y in zip(bulk, person.bulk, strict=True))

    def both(self, ref_call: Any, mirror_call: Any) -> None:
        try:
            expected: Any = ref_call()
            ref_error = None
        except (LookupError, TypeError, ValueError, OverflowError) as exc:
            ref_error = error_code(exc)
        try:
            got: Any = mirror_call()
            error = None
        except CompiledError as exc:
            error = exc.code
        except ref.VitalNotSet:
            error = 1
        assert error == ref_error
        if error is None:
            if isinstance(expected, dict):
                assert expected.keys() == got.keys()
                for name in expected:
                    assert same(expected[name], got[name]), (name, expected[name], got[name])
            else:
                assert same(expected, got), (expected, got)
        self.check_state()

    def check_state(self) -> None:
        p, m = self.person, self.mirror
        for g, sid in enumerate(GROUP_STREAM_IDS):
            assert p.stream(sid).n == m.counters[g][0], cv.GROUPS[g]
        for name in cv.ATTRIBUTES:
            a, b = p.attributes.get(name), m.attrs.get(name)
            assert type(a) is type(b), (name, a, b)
            if isinstance(a, float):
                assert same(a, b), name
            else:
                assert a == b, name
        assert same(p.body.weight_multiplier, m.body[cv.B_WEIGHT_MULTIPLIER])
        for i, code in enumerate(cv.ANTIHYPERTENSIVES):
            impact = self.vitals._drug_impact.get(code)
            if impact is None:
                assert math.isnan(m.drug_impact[i, 0])
            else:
                assert (same(impact[0], m.drug_impact[i, 0])
                        and same(impact[1], m.drug_impact[i, 1]))

    # ------------------------------------------------------------ operations

    def read(self, name: str) -> None:
        self.both(lambda: self.vitals.read(name, self.now), lambda: self.mirror.read(name, self.now))

    def group(self, g: int) -> None:
        group = cv.GROUPS[g]
        self.both(lambda: self.vitals.group(group, self.now), lambda: self.mirror.group(g, self.now))

    def set(self, name: str, value: Any) -> None:
        self.person.set(name, value)
        if value is None:
            self.mirror.attrs.pop(name, None)
        else:
            self.mirror.attrs[name] = value

    def medication(self, code: str, action: str) -> None:
        present = self.person.present
        if action == "start":
            present[code] = SimpleNamespace(stop=None)
        elif action == "stop" and code in present:
            present[code].stop = self.now  # stopped, still listed
        else:
            present.pop(code, None)

    def start_weight_management(self, adherent: bool, loss: float, long_term: bool) -> None:
        for name, value in (("weight_management_start", self.now),
                            ("weight_loss_adherence", adherent),
                            ("weight_loss_percentage", loss),
                            ("long_term_weight_loss", long_term), (wm.ACTIVE, True)):
            self.set(name, value)

    def override(self, name: str, value: float) -> None:
        self.vitals.override(name, lambda t: value, self.now)
        self.mirror.override(name, value, self.now)


# ---------------------------------------------------------------- scenarios

NAMES = (*cv.VITALS, "Left ventricular Ejection fraction")
REALISTIC: dict[str, list[Any]] = {
    "diabetes_severity": [None, 0, 1, 2, 3, 4],
    "diabetes": [None, True, False],
    "prediabetes": [None, True, False],
    "chf": [None, True],
    "ckd": [None, 1, 2, 3, 4],
    "hypertension": [None, True, False],
    "hypertension_severe": [None, True, False],
    "low_hdl": [None],
    "high_total_chol": [None, None, False, True],
}
ODD: list[Any] = [None, True, False, 0, 1, 2, 3, 4, 5, -1, 7, 0.0, -0.0, 2.7, -3.5, 1e300, math.nan,
                  math.inf, -math.inf, "", "M", "F", "2", " 3 ", "x", "4.0",
                  Code("http://snomed.info/sct", "1", "x")]


def play(pair: Pair, rnd: random.Random, steps: int, odd: bool) -> None:
    """A random life: time moves on (sometimes not at all, to hit the per-instant cache) while
    attributes, medications, weight management and overrides change between reads."""
    for _ in range(steps):
        op = rnd.random()
        if op < 0.30:
            pair.now += rnd.choice((0, 0, tu.HOUR * rnd.randint(1, 30), tu.DAY * rnd.randint(1, 60),
                                    int(tu.YEAR_365 * rnd.uniform(0.1, 8))))
        elif op < 0.50:
            pair.read(rnd.choice(NAMES))
        elif op < 0.65:
            pair.group(rnd.randrange(len(cv.GROUPS)))
        elif op < 0.80:
            name = rnd.choice(cv.ATTRIBUTES if odd else tuple(REALISTIC))
            pool = ODD if odd else REALISTIC.get(name, ODD)
            pair.set(name, rnd.choice(pool))
        elif op < 0.88:
            pair.medication(rnd.choice(cv.MEDICATIONS), rnd.choice(("start", "start", "stop", "end")))
        elif op < 0.94:
            if rnd.random() < 0.7:
                pair.start_weight_management(rnd.random() < 0.6, rnd.uniform(0.07, 0.10),
                                             rnd.random() < 0.2)
            else:
                pair.set(wm.ACTIVE, False)
        else:
            name = rnd.choice(("BMI", "Weight", "Heart Rate", "Systolic Blood Pressure"))
            pair.override(name, rnd.choice((rnd.uniform(10, 60), rnd.uniform(2, 150), math.nan)))


def synthetic_person(seed: int, birth: int, gender: Any) -> Person:
    attributes = {} if gender is None else {"gender": gender}
    return Person(index=0, seed=seed, birth=birth, attributes=attributes)


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(PopulationOptions(seed=11, reference_time=REF))


def test_population_people_every_group_across_a_life(population: Population) -> None:
    for index in range(40):
        person = population.make(index)
        pair = Pair(person)
        rnd = random.Random(index)
        # every group at many instants from birth to 100, with nothing changing ...
        for years in np.linspace(0.0, 100.0, 61):
            pair.now = person.birth + int(years * tu.YEAR_365) + rnd.randrange(tu.DAY)
            for g in range(len(cv.GROUPS)):
                pair.group(g)
            pair.read(rnd.choice(cv.VITALS))
        # ... then a life with changes
        pair.now = person.birth
        play(pair, rnd, 150, odd=False)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**64 - 1),
       birth=st.integers(-60 * tu.YEAR_365, 40 * tu.YEAR_365),
       gender=st.sampled_from(["M", "F", None, "", "X"]),
       body=st.none() | st.lists(st.floats(-7.0, 7.0) | st.just(math.nan), min_size=6,
                                 max_size=6),
       play_seed=st.integers(0, 2**32),
       odd=st.booleans())
def test_synthetic_people(seed: int, birth: int, gender: Any, body: list[float] | None,
                          play_seed: int, odd: bool) -> None:
    person = synthetic_person(seed, birth, gender)
    if body is not None:  # a given body (tails, NaN) with Vitals drawing only the bulk ...
        person.body = Body(person.gender or "M", *body)
    elif play_seed % 2:  # ... or the reverse
        person.bulk = (0.01, 0.99, 0.05, 0.1)
    pair = Pair(person)
    play(pair, random.Random(play_seed), 80, odd)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), years=st.floats(19.0, 90.0),
       managed_for=st.floats(0.0, 7.0), adherent=st.booleans(), long_term=st.booleans(),
       loss=st.floats(0.0, 0.2), gender=st.sampled_from(["M", "F"]))
def test_weight_management_multiplier(seed: int, years: float, managed_for: float, adherent: bool,
                                      long_term: bool, loss: float, gender: str) -> None:
    person = synthetic_person(seed, 0, gender)
    pair = Pair(person)
    pair.now = int(years * tu.YEAR_365)
    pair.start_weight_management(adherent, loss, long_term)
    pair.now += int(managed_for * tu.YEAR_365)
    for g in range(len(cv.GROUPS)):
        pair.group(g)
    pair.set("diabetes", True)
    pair.now += 1
    pair.group(cv.G_GLUCOSE)  # BMI through raw: computes growth first
    pair.read("Creatinine")


def test_dependencies_see_overrides_and_the_cache() -> None:
    person = synthetic_person(99, 0, "F")
    pair = Pair(person)
    pair.now = 45 * tu.YEAR_365
    pair.set("diabetes", True)
    pair.override("BMI", 50.0)
    pair.override("Weight", 3.0)
    pair.group(cv.G_GLUCOSE)
    pair.group(cv.G_KIDNEY)
    pair.now += tu.STEP  # the Weight override has lapsed, the BMI one persists
    pair.group(cv.G_KIDNEY)
    pair.group(cv.G_GLUCOSE)
    # attributes changed at the same instant do not reach a group computed there already
    pair.set("ckd", 4)
    pair.group(cv.G_KIDNEY)
    pair.now += 1
    pair.group(cv.G_KIDNEY)


def test_antihypertensive_impacts_and_lipid_flags() -> None:
    person = synthetic_person(5, 0, "M")
    pair = Pair(person)
    pair.now = 50 * tu.YEAR_365
    for code in cv.ANTIHYPERTENSIVES[:3]:
        pair.medication(code, "start")
    pair.set("hypertension", True)
    pair.group(cv.G_BP)
    pair.medication(cv.ANTIHYPERTENSIVES[3], "start")
    pair.medication(cv.ANTIHYPERTENSIVES[0], "stop")
    pair.set("hypertension_severe", True)
    for hours in range(0, 60, 7):
        pair.now += hours * tu.HOUR  # the noise's sign alternates every 12 hours
        pair.group(cv.G_BP)
    pair.group(cv.G_LIPIDS)  # decides low_hdl and high_total_chol


def test_errors_match_the_reference() -> None:
    cases = [("weight_loss_percentage", None, cv.ERR_KEY), ("weight_loss_percentage", "x", cv.ERR_TYPE),
             ("weight_management_start", Code("s", "c", "d"), cv.ERR_TYPE)]
    for name, value, code in cases:
        person = synthetic_person(3, 0, "F")
        pair = Pair(person)
        pair.now = 30 * tu.YEAR_365
        pair.start_weight_management(True, 0.08, False)
        pair.set(name, value)
        with pytest.raises(CompiledError) as info:
            pair.mirror.group(cv.G_GROWTH, pair.now)
        assert info.value.code == code
        pair.group(cv.G_GROWTH)  # and the reference agrees
    pair = Pair(synthetic_person(4, 0, "M"))
    pair.now = 3 * tu.YEAR_365
    pair.set("diabetes_severity", math.inf)
    pair.group(cv.G_LIPIDS)
    pair.set("bp_baseline_false_SYSTOLIC", "120")
    pair.group(cv.G_BP)
    pair.group(cv.G_GROWTH)
    pair = Pair(synthetic_person(4, 0, "X"))  # a body sex the charts refuse
    pair.now = 3 * tu.YEAR_365
    pair.group(cv.G_GROWTH)


def test_lifecycle_formatted_texts_read_as_texts() -> None:
    # K_FORMAT slots (kernel: identifiers and names the lifecycle made) hold such texts
    for value in ("S99912345", "X123X", "Smith123"):
        pair = Pair(synthetic_person(6, 0, "F"))
        pair.now = 30 * tu.YEAR_365
        mirror = pair.mirror
        for name in ("diabetes_severity", "ckd", "chf", "low_hdl", wm.ACTIVE):
            pair.set(name, value)
        mirror.formatted.add(value)
        for g in range(len(cv.GROUPS)):
            pair.group(g)
        pair.set("bp_baseline_false_DIASTOLIC", value)
        pair.now += 1
        pair.group(cv.G_BP)


def test_values_the_reference_cannot_be_asked_about_are_refused() -> None:
    mirror = Pair(synthetic_person(8, 0, "F")).mirror
    mirror.attrs["diabetes_severity"] = [1]  # K_OTHER: truth and int() unknown here
    with pytest.raises(CompiledError) as info:
        mirror.group(cv.G_LIPIDS, 20 * tu.YEAR_365)
    assert info.value.code == cv.ERR_UNSUPPORTED


# ---------------------------------------------------------------- building blocks


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=5e-324, max_value=1.0, exclude_max=True))
def test_inv_cdf_matches_statistics(p: float) -> None:
    assert same(cv._inv_cdf(p), NormalDist().inv_cdf(p))


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=-40.0, max_value=40.0))
def test_cdf_matches_statistics(x: float) -> None:
    assert same(cv._cdf(x), NormalDist().cdf(x))


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=-1e12, max_value=1e12), st.sampled_from([0, 1, 2]))
def test_round_read_matches_round_half_up(value: float, decimals: int) -> None:
    assert same(cv.round_read(value, np.int64(decimals)), r.round_half_up(value, decimals))


def test_names_groups_and_decimals_match_the_reference() -> None:
    assert set(cv.VITALS) == set(ref._GROUP_OF)
    for i, name in enumerate(cv.VITALS):
        assert cv.GROUPS[cv.GROUP_OF[i]] == ref._GROUP_OF[name]
        assert cv.DECIMALS[i] == cv.read_decimals(name)
    assert tuple(ref._COMPUTE) == cv.GROUPS
    assert cv.MEDICATIONS[:4] == tuple(ref.ANTIHYPERTENSIVES)
    for g, name in enumerate(cv.GROUPS):
        assert int(cv.GROUP_STREAMS[g]) == r.mix64(ref._STREAMS[name])


def test_body_arrays_leave_the_person_alone() -> None:
    person = synthetic_person(77, 0, "")
    cv.body_arrays(person)
    assert person.body is None and person.bulk is None
    assert person.stream(ref.BODY_STREAM).n == 0


def test_each_function_is_compiled_once() -> None:
    # after everything above: one specialisation each, whatever constants the callers passed
    for name in dir(cv):
        f = getattr(cv, name)
        if hasattr(f, "signatures") and f.signatures:
            assert len(f.signatures) == 1, (name, f.signatures)
