"""Bulk sampling of a shard's people in one numba kernel.

`draw_people` turns person indices into demographics, identity choices, natural-death ages and
body-trajectory parameters for a whole shard at once: every category is an inverse-transform
draw against a cumulative table (`PopulationTables`), every random number comes from the
counter-based generator in `rng.py`, so person `i` gets the same values whatever shard it is
in. Age and sex use a rotated Halton sequence so that any population prefix matches the
census pyramid closely (see `rng.stratified`).

The kernel's plain-Python twin (`draw_people.py_func`) computes the very same numbers;
`bench/sampling.py` compares it, a numpy-vectorised version and the kernel.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta

import numba
import numpy as np

from simulator.config import MAX_AGE
from simulator.engine import timeutil as tu
from simulator.population import rng
from simulator.population.geography import (
    LANGUAGES,
    StateGeography,
    foreign_birthplaces,
    state_geography,
)
from simulator.population.life_table import death_age, life_table_arrays, natural_survival
from simulator.population.names import LANGUAGE_LOCALE, LOCALES, locale_names

RACES = ("white", "black", "asian", "native", "hawaiian", "other")
EDUCATION = ("less_than_hs", "hs_degree", "some_college", "bs_degree")
# engine-behaviour.md §6.2 step 5: education_level drawn uniformly within a band per category
EDUCATION_BANDS = ((0.0, 0.5), (0.1, 0.75), (0.3, 0.85), (0.5, 1.0))
SDOH = ("food_insecurity", "severe_housing_cost_burden", "unemployed", "no_vehicle_access", "uninsured")

# First language by race / Hispanic origin (engine-behaviour.md §6.2 step 3). The reference
# gives white speakers 98.4 % English and "small shares" of seven European languages; those
# 1.6 % are split in proportion to the number of US home speakers of each language (U.S.
# Census Bureau, "Language Use in the United States: 2011", ACS-22, Table 1: French incl.
# Patois/Cajun 1 301 443; German 1 083 637; Russian 905 843; Italian 723 632; Portuguese
# 673 566; Polish 607 531; Greek 304 928).
_WHITE_OTHER = {"french": 1_301_443, "german": 1_083_637, "russian": 905_843, "italian": 723_632,
                "portuguese": 673_566, "polish": 607_531, "greek": 304_928}
_LANGUAGE_SHARES: dict[str, dict[str, float]] = {
    "white": {"english": 0.984, **{k: 0.016 * v / sum(_WHITE_OTHER.values()) for k, v in _WHITE_OTHER.items()}},
    "black": {"english": 0.970, "spanish": 0.026, "french": 0.004},
    "asian": {"english": 0.670, "chinese": 0.147, "vietnamese": 0.070, "korean": 0.056,
              "hindi": 0.033, "japanese": 0.022},
    "native": {"english": 1.0},
    "hawaiian": {"english": 0.891, "hawaiian": 0.109},
    "other": {"english": 0.935, "arabic": 0.065},
    "hispanic": {"english": 0.4885, "spanish": 0.5115},
}

# Column layout of the kernel's outputs.
I_SEX, I_AGE, I_RACE, I_HISPANIC, I_LANGUAGE, I_EDUCATION, I_INCOME, I_CITY, I_ZIP = range(9)
I_STREET_NUMBER, I_STREET_NAME, I_STREET_SUFFIX, I_SECONDARY = range(9, 13)
I_FIRST, I_MIDDLE, I_LAST, I_MOTHER_FIRST, I_MOTHER_LAST, I_FATHER_FIRST = range(13, 19)
I_BIRTH_CITY, I_FOREIGN_BIRTHPLACE, I_MULTIPLE_BIRTH, I_SSN_MID, I_SSN_LAST = range(19, 24)
I_PHONE_MID, I_PHONE_LAST, I_ORIENTATION, I_RH_NEG, I_SDOH = range(24, 29)  # SDOH: 5 columns
I_INCOME_DOLLARS = I_SDOH + len(SDOH)
N_INT = I_INCOME_DOLLARS + 1
F_BIRTH, F_EDUCATION_LEVEL, F_OCCUPATION, F_LAT, F_LON, F_DEATH_AGE = range(6)
F_Z_HEIGHT, F_Z_WEIGHT_INFANT, F_Z_HEAD, F_BMI_START, F_BMI_CHILD, F_BMI_ADULT = range(6, 12)
F_BP_SYSTOLIC, F_BP_DIASTOLIC, F_LOW_HDL, F_HIGH_CHOLESTEROL = range(12, 16)
N_FLOAT = 16

# Sexual orientation (engine-behaviour.md §4.3.1): heterosexual 96.6 %, homosexual 1.6 %,
# bisexual 0.7 % (normalised).
ORIENTATIONS = ("heterosexual", "homosexual", "bisexual")
_ORIENTATION_CDF = rng.cdf_of([0.966, 0.016, 0.007])
MULTIPLE_BIRTH_PROBABILITY = 0.02  # §4.3.1 (twins prevalence)
RH_NEGATIVE_PROBABILITY = 0.15  # §4.3.1
MIDDLE_NAME_PROBABILITY = 0.80  # §4.3.1 generate.middle_names
SECONDARY_ADDRESS_PROBABILITY = 0.5  # §4.3.1
# Synthea's retry rule (engine-behaviour.md §2.1): a person over 90 who has died in more than
# 10 attempts is made 85 to 89 (unless the age option starts above 85). Module deaths come on
# top of the life table, and over a hundred years they can kill the oldest in every attempt.
OLD_AGE_ATTEMPTS = 10
OLD_AGE_ABOVE = 90
OLD_AGE_FALLBACK = (85, 89)


@dataclass(frozen=True)
class PopulationTables:
    """Everything the kernel samples from, as flat arrays (numba takes no Python objects)."""

    state: str
    abbreviation: str
    geography: StateGeography
    reference_time: int
    age_cdf: np.ndarray  # over single years 0..MAX_AGE, restricted to the age option
    female_share: np.ndarray  # per single year
    fixed_sex: int  # -1 none, 0 male, 1 female
    birth_start: np.ndarray  # int64 per age: earliest birth instant giving that age at reference
    birth_span: np.ndarray  # int64 per age
    old_age_fallback: bool  # OLD_AGE_*: no age option, or one starting at 85 or below
    race_cdf: np.ndarray
    hispanic: float
    language_cdf: np.ndarray  # [7 groups (6 races + hispanic), len(LANGUAGES)]
    education_cdf: np.ndarray
    income_cdf: np.ndarray
    income_low: np.ndarray
    income_high: np.ndarray
    sdoh: np.ndarray
    city_cdf: np.ndarray  # where people live (one city when --city is given)
    birth_city_cdf: np.ndarray  # where people of the state were born
    city_zip_start: np.ndarray
    city_zip_count: np.ndarray
    zip_lat: np.ndarray
    zip_lon: np.ndarray
    name_cdfs: np.ndarray  # all name cdfs concatenated
    name_offsets: np.ndarray  # [locales, 3 (male, female, last), 2 (start, length)]
    street_suffix_count: int
    foreign_cdfs: np.ndarray
    foreign_offsets: np.ndarray  # [languages, 2]
    survival: np.ndarray  # [2 (M, F), 102] life-table l(x)/l(0): who is alive at which age
    # [2, 102] what natural death draws from: the table less the run's module deaths
    natural_survival: np.ndarray


def _birth_windows(reference_time: int) -> tuple[np.ndarray, np.ndarray]:
    """Per age A, births that make a person exactly A (completed years) at the reference date."""
    ref = tu.to_date(reference_time)

    def years_before(years: int) -> date:
        try:
            return ref.replace(year=ref.year - years)
        except ValueError:  # 29 February
            return ref.replace(year=ref.year - years, day=28)

    start = np.zeros(MAX_AGE + 1, dtype=np.int64)
    span = np.zeros(MAX_AGE + 1, dtype=np.int64)
    for age in range(MAX_AGE + 1):
        first = tu.date_ms(years_before(age + 1) + timedelta(days=1))
        last = tu.date_ms(years_before(age)) + tu.DAY  # exclusive
        last = min(last, reference_time)
        start[age], span[age] = first, max(last - first, 1)
    return start, span


def _single_year_shares(profile, sex: str, survival: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Spread each census band's share over its single years: evenly, except the open top band,
    which follows life-table survival (there are fewer 99-year-olds than 85-year-olds)."""
    shares = np.zeros(MAX_AGE + 1)
    row = 0 if sex == "M" else 1
    values = profile.age_male if sex == "M" else profile.age_female
    for (lo, hi), share in zip(profile.age_bands, values, strict=True):
        hi = min(hi, MAX_AGE)
        if hi - lo >= 15:
            w = np.array([survival[row, min(a, survival.shape[1] - 1)] for a in range(lo, hi + 1)])
            w = w / w.sum() if w.sum() > 0 else np.full(hi - lo + 1, 1.0 / (hi - lo + 1))
        else:
            w = np.full(hi - lo + 1, 1.0 / (hi - lo + 1))
        shares[lo:hi + 1] += share * w
    return shares


@functools.cache
def population_tables(
    state: str,
    reference_time: int,
    city: str | None = None,
    gender: str | None = None,
    min_age: int | None = None,
    max_age: int | None = None,
    deleted_causes: tuple[str, ...] = (),
) -> PopulationTables:
    from simulator.population.state_data import national_sdoh, state_profile

    profile = state_profile(state)
    national = national_sdoh()
    geo = state_geography(profile.abbreviation, profile.population)
    survival = np.ascontiguousarray(life_table_arrays()[0], dtype=np.float64)
    male = _single_year_shares(profile, "M", survival)
    female = _single_year_shares(profile, "F", survival)
    lo = 0 if min_age is None else min_age
    hi = MAX_AGE if max_age is None else min(max_age, MAX_AGE)
    mask = np.zeros(MAX_AGE + 1)
    mask[lo:hi + 1] = 1.0
    weights = (male if gender == "M" else female if gender == "F" else male + female) * mask
    if weights.sum() <= 0:  # ages beyond the table: spread evenly
        weights = mask
    total = male + female
    female_share = np.divide(female, total, out=np.full_like(total, 0.5), where=total > 0)
    start, span = _birth_windows(reference_time)

    language_rows = []
    for group in (*RACES, "hispanic"):
        shares = _LANGUAGE_SHARES[group]
        language_rows.append(rng.cdf_of([shares.get(lang, 0.0) for lang in LANGUAGES]))
    incomes = sorted(profile.income.items())

    if city is not None:
        chosen = geo.city_index(city)
        city_cdf = np.zeros(len(geo.cities))
        city_cdf[chosen:] = 1.0
    else:
        city_cdf = geo.city_cdf
    zip_start, zip_count, lats, lons = [], [], [], []
    for c in geo.cities:
        zip_start.append(len(lats))
        zip_count.append(len(c.zips))
        lats.extend(c.lats)
        lons.extend(c.lons)

    cdfs: list[np.ndarray] = []
    offsets = np.zeros((len(LOCALES), 3, 2), dtype=np.int64)
    position = 0
    for i, locale in enumerate(LOCALES):
        names = locale_names(locale)
        for j, lst in enumerate((names.male, names.female, names.last)):
            offsets[i, j] = (position, len(lst.cdf))
            cdfs.append(lst.cdf)
            position += len(lst.cdf)
    foreign = foreign_birthplaces()
    foreign_offsets = np.zeros((len(LANGUAGES), 2), dtype=np.int64)
    position = 0
    for i, places in enumerate(foreign.places):
        foreign_offsets[i] = (position, len(places))
        position += len(foreign.cdfs[i])
    from faker.providers.address.en_US import Provider as Addresses

    return PopulationTables(
        state=profile.name,
        abbreviation=profile.abbreviation,
        geography=geo,
        reference_time=reference_time,
        age_cdf=rng.cdf_of(weights),
        female_share=female_share,
        fixed_sex=-1 if gender is None else (0 if gender == "M" else 1),
        birth_start=start,
        birth_span=span,
        old_age_fallback=lo <= OLD_AGE_FALLBACK[0],
        race_cdf=rng.cdf_of([profile.race.get(r, 0.0) for r in RACES]),
        hispanic=float(profile.hispanic),
        language_cdf=np.ascontiguousarray(np.stack(language_rows)),
        education_cdf=rng.cdf_of([profile.education[e] for e in EDUCATION]),
        income_cdf=rng.cdf_of([share for _, share in incomes]),
        income_low=np.array([lo_hi[0] for lo_hi, _ in incomes], dtype=np.int64),
        income_high=np.array([lo_hi[1] for lo_hi, _ in incomes], dtype=np.int64),
        sdoh=np.array([float(profile.sdoh.get(k, national[k])) for k in SDOH]),
        city_cdf=city_cdf,
        birth_city_cdf=geo.city_cdf,
        city_zip_start=np.array(zip_start, dtype=np.int64),
        city_zip_count=np.array(zip_count, dtype=np.int64),
        zip_lat=np.array(lats),
        zip_lon=np.array(lons),
        name_cdfs=np.concatenate(cdfs),
        name_offsets=offsets,
        street_suffix_count=len(Addresses.street_suffixes),
        foreign_cdfs=np.concatenate(foreign.cdfs),
        foreign_offsets=foreign_offsets,
        survival=survival,
        natural_survival=natural_survival(deleted_causes),
    )


@numba.njit(cache=True)
def _pick_range(cdfs: np.ndarray, start: int, length: int, u: float) -> int:
    return rng.pick(cdfs[start:start + length], u)


@numba.njit(cache=True)
def draw_people(  # noqa: PLR0913 — the kernel takes flat arrays only
    seed: np.uint64, indices: np.ndarray, attempt: int, survived_only: bool,
    age_cdf: np.ndarray, female_share: np.ndarray, fixed_sex: int,
    birth_start: np.ndarray, birth_span: np.ndarray, old_age_fallback: bool,
    reference_time: int, race_cdf: np.ndarray, hispanic: float, language_cdf: np.ndarray, language_locale: np.ndarray,
    education_cdf: np.ndarray, income_cdf: np.ndarray, income_low: np.ndarray, income_high: np.ndarray,
    sdoh: np.ndarray, city_cdf: np.ndarray, birth_city_cdf: np.ndarray, city_zip_start: np.ndarray, city_zip_count: np.ndarray,
    zip_lat: np.ndarray, zip_lon: np.ndarray, name_cdfs: np.ndarray, name_offsets: np.ndarray,
    street_suffix_count: int, foreign_cdfs: np.ndarray, foreign_offsets: np.ndarray,
    survival: np.ndarray, orientation_cdf: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n = indices.shape[0]
    ints = np.zeros((n, N_INT), dtype=np.int64)
    floats = np.zeros((n, N_FLOAT), dtype=np.float64)
    year_ms = 365.2425 * 86_400_000.0
    for p in range(n):
        index = np.uint64(indices[p])
        demo = np.uint64(rng.person_key(seed, index, np.uint64(1), np.uint64(0)))
        life = np.uint64(rng.person_key(seed, index, np.uint64(2), np.uint64(attempt)))
        # --- who: stratified age and sex, then the rest from the person's own stream
        age = rng.pick(age_cdf, rng.stratified(seed, index, 2))
        if fixed_sex >= 0:
            sex = fixed_sex
        else:
            sex = 1 if rng.stratified(seed, index, 3) < female_share[age] else 0
        race = rng.pick(race_cdf, rng.uniform(demo, 0))
        hisp = 1 if rng.uniform(demo, 1) < hispanic else 0
        language = rng.pick(language_cdf[6 if hisp == 1 else race], rng.uniform(demo, 2))
        education = rng.pick(education_cdf, rng.uniform(demo, 3))
        income = rng.pick(income_cdf, rng.uniform(demo, 4))
        city = rng.pick(city_cdf, rng.uniform(demo, 5))
        zip_i = int(rng.uniform(demo, 6) * city_zip_count[city])
        ints[p, I_SEX] = sex
        ints[p, I_AGE] = age
        ints[p, I_RACE] = race
        ints[p, I_HISPANIC] = hisp
        ints[p, I_LANGUAGE] = language
        ints[p, I_EDUCATION] = education
        ints[p, I_INCOME] = income
        ints[p, I_CITY] = city
        ints[p, I_ZIP] = zip_i
        # --- address: "<100-1099> <family name> <street type>" [+ "<secondary> <0-99>"]
        ints[p, I_STREET_NUMBER] = 100 + int(rng.uniform(demo, 7) * 1000)
        off = name_offsets[0, 2]
        ints[p, I_STREET_NAME] = _pick_range(name_cdfs, off[0], off[1], rng.uniform(demo, 8))
        ints[p, I_STREET_SUFFIX] = int(rng.uniform(demo, 9) * street_suffix_count)
        ints[p, I_SECONDARY] = int(rng.uniform(demo, 11) * 100) if rng.uniform(demo, 10) < SECONDARY_ADDRESS_PROBABILITY else -1
        # --- names, from the locale of the first language
        loc = language_locale[language]
        first = name_offsets[loc, sex]
        ints[p, I_FIRST] = _pick_range(name_cdfs, first[0], first[1], rng.uniform(demo, 12))
        if rng.uniform(demo, 13) < MIDDLE_NAME_PROBABILITY:
            ints[p, I_MIDDLE] = _pick_range(name_cdfs, first[0], first[1], rng.uniform(demo, 14))
        else:
            ints[p, I_MIDDLE] = -1
        last = name_offsets[loc, 2]
        ints[p, I_LAST] = _pick_range(name_cdfs, last[0], last[1], rng.uniform(demo, 15))
        mother = name_offsets[loc, 1]
        ints[p, I_MOTHER_FIRST] = _pick_range(name_cdfs, mother[0], mother[1], rng.uniform(demo, 16))
        ints[p, I_MOTHER_LAST] = _pick_range(name_cdfs, last[0], last[1], rng.uniform(demo, 17))
        father = name_offsets[loc, 0]
        ints[p, I_FATHER_FIRST] = _pick_range(name_cdfs, father[0], father[1], rng.uniform(demo, 18))
        # --- birthplace: same state for English speakers, abroad by language otherwise
        ints[p, I_BIRTH_CITY] = rng.pick(birth_city_cdf, rng.uniform(demo, 19))
        fo = foreign_offsets[language]
        if language != 0 and fo[1] > 0:
            ints[p, I_FOREIGN_BIRTHPLACE] = _pick_range(foreign_cdfs, fo[0], fo[1], rng.uniform(demo, 20))
        else:
            ints[p, I_FOREIGN_BIRTHPLACE] = -1
        ints[p, I_MULTIPLE_BIRTH] = 1 + int(rng.uniform(demo, 22) * 3) if rng.uniform(demo, 21) < MULTIPLE_BIRTH_PROBABILITY else 0
        ints[p, I_SSN_MID] = 10 + int(rng.uniform(demo, 23) * 90)
        ints[p, I_SSN_LAST] = 1000 + int(rng.uniform(demo, 24) * 9000)
        ints[p, I_PHONE_MID] = 100 + int(rng.uniform(demo, 25) * 900)
        ints[p, I_PHONE_LAST] = 1000 + int(rng.uniform(demo, 26) * 9000)
        ints[p, I_ORIENTATION] = rng.pick(orientation_cdf, rng.uniform(demo, 27))
        ints[p, I_RH_NEG] = 1 if rng.uniform(demo, 28) < RH_NEGATIVE_PROBABILITY else 0
        for k in range(sdoh.shape[0]):
            ints[p, I_SDOH + k] = 1 if rng.uniform(demo, 29 + k) <= sdoh[k] else 0
        # --- floats
        birth = birth_start[age] + int(rng.uniform(demo, 40) * birth_span[age])
        if attempt > OLD_AGE_ATTEMPTS and age > OLD_AGE_ABOVE and old_age_fallback:
            low, high = OLD_AGE_FALLBACK
            age = low + int(rng.uniform(life, 17) * (high - low + 1))
            ints[p, I_AGE] = age
            birth = birth_start[age] + int(rng.uniform(life, 18) * birth_span[age])
        floats[p, F_BIRTH] = birth
        lo_b, hi_b = EDUCATION_BANDS[education]
        floats[p, F_EDUCATION_LEVEL] = lo_b + (hi_b - lo_b) * rng.uniform(demo, 41)
        floats[p, F_OCCUPATION] = rng.uniform(demo, 42)
        z = city_zip_start[city] + zip_i
        # within about a kilometre of the ZIP code's centre
        floats[p, F_LAT] = zip_lat[z] + (rng.uniform(demo, 43) - 0.5) * 0.02
        floats[p, F_LON] = zip_lon[z] + (rng.uniform(demo, 44) - 0.5) * 0.02
        # --- life: natural death and body trajectory, redrawn for each attempt
        exact_age = (reference_time - birth) / year_ms
        floor_age = exact_age if (attempt > 0 and survived_only) else 0.0
        floats[p, F_DEATH_AGE] = death_age(survival, sex, rng.uniform(life, 0), floor_age)
        floats[p, F_Z_HEIGHT] = rng.normal(life, 1)
        floats[p, F_Z_WEIGHT_INFANT] = 0.6 * floats[p, F_Z_HEIGHT] + 0.8 * rng.normal(life, 3)
        floats[p, F_Z_HEAD] = 0.5 * floats[p, F_Z_HEIGHT] + 0.866 * rng.normal(life, 5)
        floats[p, F_BMI_START] = rng.normal(life, 7)
        floats[p, F_BMI_CHILD] = rng.normal(life, 9)
        floats[p, F_BMI_ADULT] = rng.normal(life, 11)
        floats[p, F_BP_SYSTOLIC] = rng.uniform(life, 13)
        floats[p, F_BP_DIASTOLIC] = rng.uniform(life, 14)
        floats[p, F_LOW_HDL] = rng.uniform(life, 15)
        floats[p, F_HIGH_CHOLESTEROL] = rng.uniform(life, 16)
        # income: uniform whole dollars within the bucket
        ints[p, I_INCOME_DOLLARS] = income_low[income] + int(
            rng.uniform(demo, 45) * (income_high[income] - income_low[income] + 1))
    return ints, floats


def draw(tables: PopulationTables, seed: int, indices: np.ndarray, attempt: int = 0,
         survived_only: bool = True, jit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Draw the people at `indices` (int64 array) for one attempt."""
    fn = draw_people if jit else draw_people.py_func
    return fn(
        rng.seed64(seed), np.asarray(indices, dtype=np.int64), attempt, survived_only,
        tables.age_cdf, tables.female_share, tables.fixed_sex, tables.birth_start,
        tables.birth_span, tables.old_age_fallback, tables.reference_time, tables.race_cdf, tables.hispanic,
        tables.language_cdf, LANGUAGE_LOCALE, tables.education_cdf, tables.income_cdf,
        tables.income_low, tables.income_high, tables.sdoh, tables.city_cdf,
        tables.birth_city_cdf, tables.city_zip_start, tables.city_zip_count, tables.zip_lat, tables.zip_lon,
        tables.name_cdfs, tables.name_offsets, tables.street_suffix_count, tables.foreign_cdfs,
        tables.foreign_offsets, tables.natural_survival, _ORIENTATION_CDF,
    )



def life_expectancy_of_sampler(tables: PopulationTables, n: int = 100_000, seed: int = 7) -> float:
    """Mean natural-death age of `n` unconditioned draws (what the natural-death sampler implies)."""
    _, floats = draw(tables, seed, np.arange(n, dtype=np.int64), attempt=0)
    return float(floats[:, F_DEATH_AGE].mean())
