"""Published state demographics (Census ACS) that seed synthetic populations, with validation.

The figures live in `simulator/data/state_demographics.json` (each group with its source). This
module checks them once, turns them into `StateProfile`s, and looks states up by name or postal
abbreviation. Broken data is a programming error (ValueError naming state and key); an unknown
`--state` is the user's (UserError listing what is available).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.errors import UserError

DATA_PATH = Path(__file__).resolve().parent.parent / "data" / "state_demographics.json"

TOLERANCE = 0.002  # shares are rounded to 4 decimals, so groups may miss 1 by a little
OPEN_AGE_HI = 110  # upper age of the final open band ("85+")
INCOME_TOP = 999_999  # upper dollars of the final open income bracket ("200+")
CHILD_MAX_AGE = 17  # female_by_age groups: 0-17, 18-64, 65+
ADULT_MAX_AGE = 64

RACES = ("white", "black", "asian", "native", "hawaiian", "other")
EDUCATION = ("less_than_hs", "hs_degree", "some_college", "bs_degree")
SDOH = ("unemployed", "uninsured", "no_vehicle_access", "food_insecurity", "severe_housing_cost_burden")
COVERAGE = ("population", "public", "medicare", "medicaid")
FEMALE_GROUPS = {"0-17": (0, CHILD_MAX_AGE), "18-64": (CHILD_MAX_AGE + 1, ADULT_MAX_AGE),
                 "65+": (ADULT_MAX_AGE + 1, OPEN_AGE_HI)}


@dataclass(frozen=True)
class StateProfile:
    name: str
    abbreviation: str
    population: int
    age_bands: tuple[tuple[int, int], ...]  # inclusive (lo, hi); the last band's hi is OPEN_AGE_HI
    age_male: tuple[float, ...]  # share of the total population in each band and sex
    age_female: tuple[float, ...]
    race: dict[str, float]
    hispanic: float
    income: dict[tuple[int, int], float]  # (lo $, hi $) inclusive, top bracket (200000, INCOME_TOP)
    education: dict[str, float]
    sdoh: dict[str, float]  # only the figures sourced for this state; see national_sdoh()
    sources: dict[str, str]
    # civilian noninstitutionalized people: all, with public coverage, with Medicare and with
    # Medicaid (each alone or in combination), ACS S2704 counts; empty where unsourced
    coverage: dict[str, int] = field(default_factory=dict)


def _fail(where: str, key: str, message: str) -> ValueError:
    return ValueError(f"state_demographics.json: {where}: key {key!r}: {message}")


def _share(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise _fail(where, key, f"expected a share between 0 and 1, got {value!r}")
    return float(value)


def _group(where: str, key: str, raw: Any, expected: tuple[str, ...] | None = None) -> dict[str, float]:
    """A mapping of shares that must sum to 1 (and, if given, have exactly the expected keys)."""
    if not isinstance(raw, Mapping) or not raw:
        raise _fail(where, key, "expected a non-empty object of shares")
    if expected is not None and set(raw) != set(expected):
        raise _fail(where, key, f"expected keys {sorted(expected)}, got {sorted(raw)}")
    shares = {k: _share(where, f"{key}.{k}", v) for k, v in raw.items()}
    total = math.fsum(shares.values())
    if abs(total - 1.0) > TOLERANCE:
        raise _fail(where, key, f"shares sum to {total:.4f}, not 1 (tolerance {TOLERANCE})")
    return shares


def _bands(where: str, key: str, labels: list[str], open_hi: int) -> tuple[tuple[int, int], ...]:
    """Parse "lo-hi" labels plus a final "NN+" into contiguous inclusive ranges starting at 0."""
    bands: list[tuple[int, int]] = []
    for i, label in enumerate(labels):
        last = i == len(labels) - 1
        try:
            if label.endswith("+"):
                if not last:
                    raise ValueError
                lo, hi = int(label[:-1]), open_hi
            else:
                lo_text, hi_text = label.split("-")
                lo, hi = int(lo_text), int(hi_text)
        except ValueError:
            raise _fail(where, key, f"band {label!r}: expected 'lo-hi' or a final 'NN+'") from None
        expected_lo = bands[-1][1] + 1 if bands else 0
        if lo != expected_lo or hi < lo:
            raise _fail(where, key, f"band {label!r} should start at {expected_lo} (no gaps/overlaps)")
        bands.append((lo, hi))
    if not labels or not labels[-1].endswith("+"):
        raise _fail(where, key, "the last band must be open-ended ('NN+')")
    return tuple(bands)


def _overlap(band: tuple[int, int], group: tuple[int, int]) -> float:
    """Fraction of a band's single years that fall in an age group (pro rata by years)."""
    lo, hi = max(band[0], group[0]), min(band[1], group[1])
    return max(0, hi - lo + 1) / (band[1] - band[0] + 1)


def _age_by_sex(where: str, raw: Mapping[str, Any]) -> tuple[tuple[tuple[int, int], ...], tuple[float, ...],
                                                          tuple[float, ...]]:
    if "age_male" in raw or "age_female" in raw:
        male_raw, female_raw = raw.get("age_male"), raw.get("age_female")
        if not isinstance(male_raw, Mapping) or not isinstance(female_raw, Mapping) \
                or list(male_raw) != list(female_raw):
            raise _fail(where, "age_male/age_female", "both needed, with the same bands in the same order")
        bands = _bands(where, "age_male", list(male_raw), OPEN_AGE_HI)
        male = [_share(where, f"age_male.{k}", v) for k, v in male_raw.items()]
        female = [_share(where, f"age_female.{k}", v) for k, v in female_raw.items()]
        total = math.fsum(male) + math.fsum(female)
        if abs(total - 1.0) > TOLERANCE:
            raise _fail(where, "age_male/age_female", f"shares sum to {total:.4f}, not 1")
        return bands, tuple(male), tuple(female)
    for key in ("age", "female_by_age"):
        if key not in raw:
            raise _fail(where, key, "missing (give age + female_by_age, or age_male + age_female)")
    ages = _group(where, "age", raw["age"])
    bands = _bands(where, "age", list(ages), OPEN_AGE_HI)
    female_raw = raw["female_by_age"]
    if not isinstance(female_raw, Mapping):
        raise _fail(where, "female_by_age", "expected an object")
    female_by = {k: _share(where, f"female_by_age.{k}", v) for k, v in female_raw.items()}
    if not set(FEMALE_GROUPS) <= set(female_by) and "all" not in female_by:
        raise _fail(where, "female_by_age", f"give {sorted(FEMALE_GROUPS)} or at least 'all'")
    male: list[float] = []
    female: list[float] = []
    for band, share in zip(bands, ages.values(), strict=True):
        if set(FEMALE_GROUPS) <= set(female_by):
            f = sum(_overlap(band, g) * female_by[name] for name, g in FEMALE_GROUPS.items())
        else:
            f = female_by["all"]
        male.append(share * (1.0 - f))
        female.append(share * f)
    return bands, tuple(male), tuple(female)


def _income(where: str, raw: Any) -> dict[tuple[int, int], float]:
    shares = _group(where, "income", raw)
    # Keys are in thousands of dollars with shared edges ("10-15" is $10,000-14,999).
    dollars = tuple((lo * 1000, INCOME_TOP if hi == INCOME_TOP else hi * 1000 - 1)
                    for lo, hi in _thousands(where, list(shares)))
    return dict(zip(dollars, shares.values(), strict=True))


def _thousands(where: str, labels: list[str]) -> list[tuple[int, int]]:
    """Income labels share their edges ("0-10", "10-15", ..., "200+"); check they chain from 0."""
    out: list[tuple[int, int]] = []
    for i, label in enumerate(labels):
        if label.endswith("+") and i == len(labels) - 1:
            lo, hi = int(label[:-1]), INCOME_TOP
        else:
            try:
                lo, hi = (int(x) for x in label.split("-"))
            except ValueError:
                raise _fail(where, "income", f"bracket {label!r}: expected 'lo-hi' thousands") from None
        if lo != (out[-1][1] if out else 0) or hi <= lo:
            raise _fail(where, "income", f"bracket {label!r} does not continue the previous one")
        out.append((lo, hi))
    if not labels[-1].endswith("+"):
        raise _fail(where, "income", "the last bracket must be open-ended ('NNN+')")
    return out


def _profile(name: str, raw: Any) -> StateProfile:
    where = f"state {name!r}"
    if not isinstance(raw, Mapping):
        raise _fail(where, name, "expected an object")
    for key in ("abbreviation", "population", "race", "hispanic", "income", "education", "sources"):
        if key not in raw:
            raise _fail(where, key, "missing")
    abbreviation = raw["abbreviation"]
    if not isinstance(abbreviation, str) or len(abbreviation) != 2 or not abbreviation.isupper():
        raise _fail(where, "abbreviation", f"expected a 2-letter postal code, got {abbreviation!r}")
    population = raw["population"]
    if isinstance(population, bool) or not isinstance(population, int) or population <= 0:
        raise _fail(where, "population", f"expected a positive integer, got {population!r}")
    bands, male, female = _age_by_sex(where, raw)
    sdoh_raw = raw.get("sdoh", {})
    if not isinstance(sdoh_raw, Mapping) or not set(sdoh_raw) <= set(SDOH):
        raise _fail(where, "sdoh", f"expected an object with keys among {list(SDOH)}")
    sdoh = {k: _share(where, f"sdoh.{k}", v) for k, v in sdoh_raw.items()}
    coverage = _coverage(where, raw.get("coverage"))
    sources = raw["sources"]
    groups = [g for g in ("age", "female_by_age", "age_male", "age_female", "race", "hispanic", "income",
                          "education", "coverage") if g in raw] + list(sdoh)
    if not isinstance(sources, Mapping):
        raise _fail(where, "sources", "expected an object")
    for group in groups:
        text = sources.get(group)
        if not isinstance(text, str) or not text.strip():
            raise _fail(where, f"sources.{group}", "every figure needs its source (table, vintage, URL)")
    return StateProfile(
        name=name, abbreviation=abbreviation, population=population, age_bands=bands,
        age_male=male, age_female=female,
        race=_group(where, "race", raw["race"], RACES),
        hispanic=_share(where, "hispanic", raw["hispanic"]),
        income=_income(where, raw["income"]),
        education=_group(where, "education", raw["education"], EDUCATION),
        sdoh=sdoh, sources=dict(sources), coverage=coverage,
    )


def _coverage(where: str, raw: Any) -> dict[str, int]:
    """The S2704 counts (population, public, medicare, medicaid), checked for consistency."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or set(raw) != set(COVERAGE) or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in raw.values()):
        raise _fail(where, "coverage", f"expected non-negative counts {list(COVERAGE)}")
    counts = {k: int(raw[k]) for k in COVERAGE}
    population, public = counts["population"], counts["public"]
    if not (population > 0 and public <= population and counts["medicare"] <= public
            and counts["medicaid"] <= public <= counts["medicare"] + counts["medicaid"]):
        raise _fail(where, "coverage", f"counts do not nest (Medicare, Medicaid <= public <= "
                                       f"Medicare + Medicaid, public <= population): {counts}")
    return counts


def national_coverage(path: Path | None = None) -> tuple[dict[str, int], str | None]:
    """The national S2704 counts and their source ({} when the file holds none)."""
    raw = _read((path or DATA_PATH).resolve()).get("national_coverage")
    if not isinstance(raw, Mapping):
        return {}, None
    return (_coverage("national_coverage", {k: v for k, v in raw.items() if k != "source"}),
            raw.get("source"))


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"state_demographics.json: cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("states"), dict) or not doc["states"]:
        raise ValueError(f"state_demographics.json: {path}: key 'states': expected a non-empty object")
    return doc


@functools.lru_cache(maxsize=8)
def _load(path: Path) -> tuple[dict[str, StateProfile], dict[str, float]]:
    doc = _read(path)
    profiles = {name: _profile(name, raw) for name, raw in doc["states"].items()}
    national_raw = doc.get("national_sdoh", {})
    if not isinstance(national_raw, Mapping):
        raise _fail("national_sdoh", "national_sdoh", "expected an object")
    national = {k: _share("national_sdoh", k, v) for k, v in national_raw.items() if k != "sources"}
    if not set(national) <= set(SDOH):
        raise _fail("national_sdoh", "national_sdoh", f"keys must be among {list(SDOH)}")
    return profiles, national


def load_state_profiles(path: Path | None = None) -> dict[str, StateProfile]:
    """All sourced states by full name, validated; cached per path (returns the same objects)."""
    return _load((path or DATA_PATH).resolve())[0]


def national_sdoh(path: Path | None = None) -> dict[str, float]:
    """National social-determinant rates for states whose own figure is absent."""
    return dict(_load((path or DATA_PATH).resolve())[1])


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, StateProfile]:
    index: dict[str, StateProfile] = {}
    for profile in load_state_profiles().values():
        index[profile.name.casefold()] = profile
        index[profile.abbreviation.casefold()] = profile
    return index


def state_profile(name_or_abbreviation: str) -> StateProfile:
    """Look a state up by full name or postal abbreviation, ignoring case ("Texas", "texas", "TX")."""
    found = _index().get(" ".join(name_or_abbreviation.split()).casefold())
    if found is None:
        available = ", ".join(f"{p.name} ({p.abbreviation})"
                              for p in sorted(load_state_profiles().values(), key=lambda p: p.name))
        raise UserError(f"--state {name_or_abbreviation!r}: no published demographics for that state. "
                        f"Available: {available}.")
    return found
