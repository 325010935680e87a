"""Section 2, who: the living people by age and sex, race, ethnicity, income and insurance,
against the published figures of the state they were drawn from (the same Census ACS tables
the sampler draws from, ``simulator/data/state_demographics.json``), so a difference is the
sampler's or the engine's, not the data's."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from simulator.errors import UserError
from simulator.report.charts import compare_bars, pyramid, short_source
from simulator.report.context import Context
from simulator.report.model import Chart, Figure, Section, Table
from simulator.report.stats import proportion, share_in_band

TOLERANCE = 0.10  # a share within ±10% of the published one (or its interval covering it)
BAND = f"±{TOLERANCE:.0%}|CI"
RACE_LABELS = {"white": "White", "black": "Black", "asian": "Asian",
               "native": "American Indian / Alaska Native",
               "hawaiian": "Native Hawaiian / Pacific Islander", "other": "Other"}
INSURANCE = ("Medicare", "Medicaid", "Dual Eligible", "Private", "Uninsured")


def _share_figure(label: str, hits: int, n: int, reference: float | None,
                  source: str | None) -> Figure:
    """A share of living people, judged against its published share when there is one."""
    result = proportion(hits, n)
    if reference is None:
        return Figure.of(label, result, unit="share", why="nobody to count")
    return Figure.of(label, result, reference, share_in_band(result, reference, TOLERANCE),
                     unit="share", source=source, band=BAND,
                     band_low=reference * (1 - TOLERANCE), band_high=reference * (1 + TOLERANCE))


def build(ctx: Context) -> Section:
    from simulator.population.state_data import state_profile

    section = Section("who", "Who: the people", (
        "The people alive at the reference date, against the published figures of the state "
        "they were drawn from: the U.S. Census Bureau's American Community Survey tables the "
        "sampler itself draws from. A share is in band (green) within ±10% of the published "
        "one, or where the published one lies within the simulated share's 95% interval "
        "(small runs); red otherwise."))
    tables = ctx.tables
    if not tables.has("patients"):
        section.not_computed.append(f"everything in this section: {tables.why_missing('patients')}")
        return section
    state = ctx.options.get("state") or "Massachusetts"
    try:
        profile = state_profile(str(state))
    except UserError:  # a state with no published figures: the run shown without references
        profile = None
        section.not_computed.append(f"published figures: no demographics for state {state!r}")
    patients = tables.rel("patients")
    ref = ctx.reference
    ages = tables.db.execute(
        f"SELECT GENDER AS sex, year(DATE '{ref}') - year(BIRTHDATE) - CASE WHEN "
        f"month(BIRTHDATE) > {ref.month} OR (month(BIRTHDATE) = {ref.month} AND "
        f"day(BIRTHDATE) > {ref.day}) THEN 1 ELSE 0 END AS age, RACE AS race, "
        "ETHNICITY AS ethnicity, INCOME AS income "
        f"FROM {patients} WHERE DEATHDATE IS NULL").fetchnumpy()
    living = len(ages["age"])
    section.data["living"] = living
    if living == 0:
        section.not_computed.append("everything in this section: nobody is alive at the "
                                    "reference date")
        return section
    _pyramid(ctx, section, profile, ages)
    _race_and_ethnicity(section, profile, ages)
    _income(section, profile, ages)
    section.data["education"] = Figure.missing(
        "education", "no table records education (patients.csv has no such column); the "
        "sampler draws it from ACS DP02 for the engine's socioeconomic score")
    section.not_computed.append("education: no table records it (patients.csv has no education "
                                "column)")
    _insurance(ctx, section, profile)
    return section


def _restricted_reference(ctx: Context, profile: Any) -> tuple[list[float], list[float]]:
    """The state's age-sex shares of the people the run could draw: only the sex and ages
    of ``-g``/``-a``, renormalised (ages pro rata within a band, as the sampler weights
    them)."""
    options = ctx.options
    low = options.get("min_age")
    high = options.get("max_age")
    gender = options.get("gender")
    male, female = [], []
    for (lo, hi), m, f in zip(profile.age_bands, profile.age_male, profile.age_female,
                              strict=True):
        a, b = max(lo, low if low is not None else lo), min(hi, high if high is not None else hi)
        fraction = max(0, b - a + 1) / (hi - lo + 1)
        male.append(m * fraction * (gender in (None, "M")))
        female.append(f * fraction * (gender in (None, "F")))
    total = sum(male) + sum(female)
    if total == 0:
        return male, female
    return [m / total for m in male], [f / total for f in female]


def _band_label(lo: int, hi: int, open_top: bool) -> str:
    return f"{lo}+" if open_top else f"{lo}-{hi}"


def _pyramid(ctx: Context, section: Section, profile: Any, ages: dict[str, Any]) -> None:
    if profile is None:
        return
    bands = profile.age_bands
    lows = np.array([lo for lo, _ in bands])
    living = len(ages["age"])
    index = np.searchsorted(lows, _numbers(ages["age"]), side="right") - 1
    sex = np.asarray(ages["sex"], dtype=object)
    counted = index >= 0  # a birth after the reference date is a record check's, not an age
    index, sex = index[counted], sex[counted]
    male_ref, female_ref = _restricted_reference(ctx, profile)
    source = profile.sources.get("age_male") or profile.sources.get("age")
    labels = [_band_label(lo, hi, k == len(bands) - 1) for k, (lo, hi) in enumerate(bands)]
    male_counts = np.bincount(index[sex == "M"], minlength=len(bands))
    female_counts = np.bincount(index[sex == "F"], minlength=len(bands))
    male = [_share_figure(f"men {label}", int(c), living, r, source)
            for label, c, r in zip(labels, male_counts, male_ref, strict=True)]
    female = [_share_figure(f"women {label}", int(c), living, r, source)
              for label, c, r in zip(labels, female_counts, female_ref, strict=True)]
    section.data["age_sex"] = {"bands": labels, "men": male, "women": female,
                               "source": source}
    caption = (f"Living people by age at the reference date and sex, in % of all living "
               f"people, against {profile.name}'s published shares"
               + (" (restricted to the run's -g/-a choice and renormalised)"
                  if ctx.options.get("gender") or ctx.options.get("min_age") is not None
                  or ctx.options.get("max_age") is not None else "")
               + f". Source: {source}")
    section.blocks.append(Chart("age-sex-pyramid", "Age and sex", caption,
                                pyramid(labels, male, female,
                                        "Reference: " + short_source(source)), (8.0, 5.0)))


def _race_and_ethnicity(section: Section, profile: Any, ages: dict[str, Any]) -> None:
    race = np.asarray(ages["race"], dtype=object)
    living = len(race)
    source = profile.sources.get("race") if profile else None
    figures = []
    known = set(RACE_LABELS)
    for key, label in RACE_LABELS.items():
        figures.append(_share_figure(label, int(np.sum(race == key)), living,
                                     profile.race.get(key) if profile else None, source))
    unknown = int(np.sum(~np.isin(race.astype(str), list(known))))
    section.data["race"] = {"shares": figures, "unrecognised": unknown, "source": source}
    section.blocks.append(Chart(
        "race", "Race", "Living people by race (one race, as the ACS counts it), against the "
        f"published shares. Source: {source or 'none for this state'}",
        compare_bars(figures, "% of living people", percent=True,
                     note="Reference: " + short_source(source)), (8.0, 3.2)))
    ethnicity = np.asarray(ages["ethnicity"], dtype=object)
    hisp_source = profile.sources.get("hispanic") if profile else None
    hispanic = _share_figure("Hispanic or Latino", int(np.sum(ethnicity == "hispanic")), living,
                             profile.hispanic if profile else None, hisp_source)
    section.data["ethnicity"] = {"hispanic": hispanic, "source": hisp_source}
    section.blocks.append(Chart(
        "ethnicity", "Ethnicity", "Share of living people of Hispanic or Latino origin, against "
        f"the published share. Source: {hisp_source or 'none for this state'}",
        compare_bars([hispanic], "% of living people", percent=True,
                     note="Reference: " + short_source(hisp_source)), (8.0, 1.8)))


def _income(section: Section, profile: Any, ages: dict[str, Any]) -> None:
    if profile is None:
        return
    income = _numbers(ages["income"])
    brackets = sorted(profile.income.items())
    lows = np.array([lo for (lo, _), _ in brackets], dtype=float)
    counted = income[~np.isnan(income)]
    index = np.searchsorted(lows, counted, side="right") - 1
    counts = np.bincount(index[index >= 0], minlength=len(brackets))
    source = profile.sources.get("income")
    figures = []
    for k, ((lo, hi), share) in enumerate(brackets):
        label = (f"${lo // 1000}k+" if k == len(brackets) - 1
                 else f"${lo // 1000}k-{(hi + 1) // 1000}k")
        figures.append(_share_figure(label, int(counts[k]), len(counted), share, source))
    section.data["income"] = {"brackets": figures, "source": source}
    section.blocks.append(Chart(
        "income", "Income", "Living people by yearly income (patients.csv INCOME), against the "
        "published household income distribution, from which the sampler draws each person's "
        f"income. Source: {source}",
        compare_bars(figures, "% of living people", percent=True,
                     note="Reference: " + short_source(source)), (8.0, 3.8)))


def _uninsured_reference(profile: Any) -> tuple[float | None, str | None]:
    from simulator.population.state_data import DATA_PATH

    if profile is not None and "uninsured" in profile.sdoh:
        return profile.sdoh["uninsured"], profile.sources.get("uninsured")
    national = json.loads(DATA_PATH.read_text(encoding="utf-8")).get("national_sdoh", {})
    if "uninsured" in national:
        return float(national["uninsured"]), national.get("sources", {}).get("uninsured")
    return None, None


def insurance_references(profile: Any) -> dict[str, tuple[float | None, str | None]]:
    """Each row of the insurance mix as an exclusive share of the ACS 2018 civilian
    noninstitutionalized population, with its source (docs/report.md, "Insurance").

    From S2704's counts (all people N, with public coverage P, with Medicare M and with
    Medicaid D, each alone or in combination) and DP03's uninsured share U: Dual Eligible
    (M + D - P) / N, Medicare without Medicaid (P - D) / N, Medicaid without Medicare
    (P - M) / N, private coverage without public coverage 1 - P / N - U, uninsured U. The
    state's figures, else the national ones."""
    from simulator.population.state_data import national_coverage

    uninsured, uninsured_source = _uninsured_reference(profile)
    counts: dict[str, int] = dict(profile.coverage) if profile is not None else {}
    source = profile.sources.get("coverage") if counts else None
    if not counts:
        counts, source = national_coverage()
    if not counts:
        return {kind: (uninsured if kind == "Uninsured" else None,
                       uninsured_source if kind == "Uninsured" else None) for kind in INSURANCE}
    n, public = counts["population"], counts["public"]
    medicare, medicaid = counts["medicare"], counts["medicaid"]
    private = None if uninsured is None else 1.0 - public / n - uninsured
    both = f"{source}; and {uninsured_source}" if uninsured_source else source
    return {
        "Medicare": ((public - medicaid) / n, source),
        "Medicaid": ((public - medicare) / n, source),
        "Dual Eligible": ((medicare + medicaid - public) / n, source),
        "Private": (private, both if private is not None else None),
        "Uninsured": (uninsured, uninsured_source),
    }


def _insurance(ctx: Context, section: Section, profile: Any) -> None:
    tables = ctx.tables
    needed = ("payer_transitions", "payers")
    if tables.missing(*needed):
        why = tables.why_missing(*needed)
        section.data["insurance"] = Figure.missing("insurance at the reference date", why)
        section.not_computed.append(f"insurance mix: {why}")
        return
    rows = tables.sql(f"""
        WITH latest AS (
            SELECT PATIENT, arg_max(PAYER, {{'s': START_DATE, 'p': PAYER}}) AS payer
            FROM {tables.rel('payer_transitions')} GROUP BY PATIENT)
        SELECT CASE WHEN latest.payer IS NULL THEN 'no plan record'
                    WHEN y.OWNERSHIP = 'NO_INSURANCE' OR y.NAME = 'NO_INSURANCE' THEN 'Uninsured'
                    WHEN y.NAME IN ('Medicare', 'Medicaid', 'Dual Eligible') THEN y.NAME
                    WHEN y.OWNERSHIP = 'PRIVATE' THEN 'Private'
                    ELSE 'unknown payer' END AS kind, count(*)
        FROM {tables.rel('patients')} p
        LEFT JOIN latest ON latest.PATIENT = p.Id
        LEFT JOIN {tables.rel('payers')} y ON y.Id = latest.payer
        WHERE p.DEATHDATE IS NULL GROUP BY kind ORDER BY kind""")
    counts = dict(rows)
    living = sum(counts.values())
    references = insurance_references(profile)
    figures = [_share_figure(kind, counts.get(kind, 0), living, *references[kind])
               for kind in INSURANCE]
    others = {k: v for k, v in counts.items() if k not in INSURANCE}
    sources = list(dict.fromkeys(s for s in (references["Medicare"][1],
                                             references["Uninsured"][1]) if s))
    source = references["Uninsured"][1]
    section.data["insurance"] = {"shares": figures, "others": others, "source_uninsured": source,
                                 "sources": sources}
    note = ("Each plan is compared with the exclusive share of the ACS 2018 civilian "
            "noninstitutionalized population it stands for: Medicare without Medicaid, Medicaid "
            "without Medicare, both (Dual Eligible), private coverage without public coverage, "
            "no coverage (docs/report.md).")
    section.blocks.append(Chart(
        "insurance", "Insurance at the reference date",
        "Living people by the plan of their latest plan year (payer_transitions.csv), against "
        f"the published shares. {note} Sources: {' '.join(sources) or 'none'}"
        + (f" Also: {', '.join(f'{k} {v}' for k, v in others.items())}." if others else ""),
        compare_bars(figures, "% of living people", percent=True,
                     note="Reference: " + "; ".join(short_source(s) for s in sources)),
        (8.0, 2.8)))
    section.blocks.append(Table("Insurance mix", ["plan", "simulated", "published"],
                                [[f.label, _percent(f.value), _percent(f.reference)]
                                 for f in figures],
                                [f.status for f in figures]))


def _numbers(column: Any) -> np.ndarray:
    """A fetched column as floats, NaN where the table holds no value."""
    return np.ma.filled(np.ma.asarray(column).astype(float), np.nan)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"
