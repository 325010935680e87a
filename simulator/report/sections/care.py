"""Section 4, care and cost: encounters per person-year by class and age band, cost per
person-year and the out-of-pocket share, beside published national figures where the
project has one (``simulator/data/report_references.json``, each with its source). They are
drawn for scale and judged by no band: the surveys' definitions are not the simulator's."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from simulator.report.charts import compare_bars, grouped_bars, short_source
from simulator.report.context import Context
from simulator.report.model import Chart, Figure, Section, Table
from simulator.report.stats import Result, poisson_rate
from simulator.report.targets import YEAR

REFERENCES = Path(__file__).resolve().parent.parent.parent / "data" / "report_references.json"
AGE_BANDS = ((0, 18, "0-17"), (18, 45, "18-44"), (45, 65, "45-64"), (65, math.inf, "65+"))
ALL_AGES = "all ages"
MAX_WINDOW_YEARS = 10
# encounter class -> the published rate drawn on its all-ages bar
CLASS_REFERENCES = {"emergency": "emergency_visits_per_person_year",
                    "inpatient": "hospital_stays_per_person_year"}
# Types of service as MEPS counts them (report_references.json out_of_pocket_share_by_service):
# an encounter's claim by its class, dental visits by their code, prescriptions apart
AMBULATORY_CLASSES = ("wellness", "ambulatory", "outpatient", "emergency", "urgentcare",
                      "virtual")
DENTAL_CODES = ("34043003",)  # Dental consultation and report (the dental care module's visit)
PRESCRIBED = "prescribed medicines"
SERVICES = ("hospital inpatient", "ambulatory", "dental", PRESCRIBED, "other")


def load_references() -> dict[str, dict[str, Any]]:
    data = json.loads(REFERENCES.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _window(ctx: Context) -> tuple[int, dt.date, float, float]:
    """The years care and cost are counted over (:func:`window_years`), their first day, and
    that day and the reference date as days since 1970."""
    years = window_years(ctx.options)
    first_day = ctx.reference.replace(year=ctx.reference.year - years)
    epoch = dt.date(1970, 1, 1)
    return (years, first_day, float((first_day - epoch).days),
            float((ctx.reference - epoch).days))


def window_years(options: dict[str, Any]) -> int:
    """Encounters are counted over the last years the run exported whole (its
    ``--years-of-history``, at most 10; whole lives: the last 10)."""
    history = int(options.get("years_of_history") or 0)
    return min(history, MAX_WINDOW_YEARS) if history > 0 else MAX_WINDOW_YEARS


def build(ctx: Context) -> Section:
    section = Section("care", "Care and cost", (
        "How much care the people received and what it cost. Published national figures "
        "are drawn beside the simulated ones for scale where a source exists (named under "
        "each chart), without a band: the surveys count differently from the simulator (an "
        "emergency department visit is not always one encounter of class emergency, and the "
        "engine prices care at published means per encounter class and per fill). Figures "
        "without a published reference are shown alone, and say so."))
    references = load_references()
    run = ctx.measured
    if run is None:
        section.not_computed.append(
            f"everything in this section: {ctx.tables.why_missing('patients')}")
        return section
    _encounters(ctx, section, references)
    _cost(ctx, section, references)
    return section


def _exposure(ctx: Context, start: float, end: float) -> list[float]:
    """Person-years lived by every life in each age band of AGE_BANDS between two days."""
    lives = ctx.measured.lives  # type: ignore[union-attr]
    death = np.where(np.isnan(lives.death), end, lives.death)
    begin, finish = np.maximum(lives.birth, start), np.minimum(death, end)
    inside = finish > begin
    a0, a1 = (begin - lives.birth) / YEAR, (finish - lives.birth) / YEAR
    out = []
    for low, high, _ in AGE_BANDS:
        overlap = np.minimum(a1, high) - np.maximum(a0, low)
        out.append(float(np.sum(overlap[inside & (overlap > 0)])))
    return out


def _encounters(ctx: Context, section: Section, references: dict[str, dict[str, Any]]) -> None:
    tables = ctx.tables
    if not tables.has("encounters"):
        section.not_computed.append(f"encounters per person-year: {tables.why_missing('encounters')}")
        return
    years, first_day, start, end = _window(ctx)
    ref = ctx.reference
    exposure = _exposure(ctx, start, end)
    cases = " ".join(f"WHEN age < {high} THEN {k}" for k, (_, high, _) in enumerate(AGE_BANDS)
                     if high != math.inf)
    rows = tables.sql(f"""
        SELECT ENCOUNTERCLASS, band, count(*) FROM (
            SELECT e.ENCOUNTERCLASS,
                   CASE {cases} ELSE {len(AGE_BANDS) - 1} END AS band
            FROM (SELECT e.ENCOUNTERCLASS,
                         (date_diff('day', DATE '1970-01-01', CAST(e.START AS DATE)) - l.birth)
                         / {YEAR} AS age
                  FROM {tables.rel('encounters')} e JOIN lives l ON l.Id = e.PATIENT
                  WHERE e.START >= TIMESTAMPTZ '{first_day}' AND e.START < TIMESTAMPTZ '{ref}') e)
        GROUP BY ALL ORDER BY ALL""")
    classes = sorted({c or "(none)" for c, _, _ in rows})
    counts = {(c or "(none)", b): n for c, b, n in rows}
    labels = [label for _, _, label in AGE_BANDS] + [ALL_AGES]
    total_years = sum(exposure)
    per_class: dict[str, dict[str, Figure]] = {}
    marked: dict[tuple[str, str], Figure] = {}
    for cls in classes:
        figures: dict[str, Figure] = {}
        for k, label in enumerate(labels):
            if label == ALL_AGES:
                events = sum(counts.get((cls, b), 0) for b in range(len(AGE_BANDS)))
                result = poisson_rate(events, total_years)
            else:
                result = poisson_rate(counts.get((cls, k), 0), exposure[k])
            reference = references.get(CLASS_REFERENCES.get(cls, "")) if label == ALL_AGES else None
            figure = Figure.of(f"{cls}, {label}", result,
                               reference["value"] if reference else None, None,
                               source=reference["source"] if reference else None,
                               unit="per person-year", why="nobody lived at these ages")
            figures[label] = figure
            if reference:
                marked[(cls, label)] = figure
        per_class[cls] = figures
    section.data["encounters_per_person_year"] = {
        "window_years": years, "person_years": dict(zip(labels, [*exposure, total_years],
                                                        strict=True)),
        "classes": per_class}
    if not classes:
        section.not_computed.append("encounters per person-year: no encounter in the window")
        return
    series = {label: [per_class[c][label].value or 0.0 for c in classes] for label in labels}
    sources = [f"{cls}: {references[key]['source']}" for cls, key in CLASS_REFERENCES.items()
               if key in references and cls in classes]
    section.blocks.append(Chart(
        "encounters-per-person-year", "Encounters per person-year",
        f"Encounters per person-year by class and age at the encounter, over the {years} "
        f"years before the reference date, every life counted (person-years {total_years:,.0f})."
        " Diamonds: published rates (all ages), for scale. "
        + ("Sources: " + " | ".join(sources) if sources else "No published rate for these "
           "classes."),
        grouped_bars(classes, series, marked, "encounters per person-year (log scale)",
                     note="References: " + "; ".join(
                         short_source(references[k]["source"]) for c, k in
                         CLASS_REFERENCES.items() if c in classes and k in references)),
        (9.0, 4.2)))
    section.blocks.append(Table(
        "Encounters per person-year", ["class", *labels],
        [[cls, *(_rate(per_class[cls][label]) for label in labels)] for cls in classes]))


def _rate(f: Figure) -> str:
    if f.value is None:
        return "—"
    text = f"{f.value:.3f}"
    return text + (f" (published {f.reference:.3f})" if f.reference is not None else "")


def _window_cost(ctx: Context) -> tuple[dict[str, tuple[float, float]], float, int] | None:
    """({type of service: (cost, paid by payers)}, person-years, years) over the encounters'
    window: the claims of the encounters started in it, and of each prescription the share of
    its cost its days in the window make of its days active (its fills are spread over them;
    one still active is active until the reference date). None: no encounters table."""
    tables = ctx.tables
    if not tables.has("encounters"):
        return None
    years, first_day, start, end = _window(ctx)
    ref = ctx.reference
    lo, hi = f"TIMESTAMPTZ '{first_day}'", f"TIMESTAMPTZ '{ref}'"
    classes = ", ".join(f"'{c}'" for c in AMBULATORY_CLASSES)
    dental = ", ".join(f"'{c}'" for c in DENTAL_CODES)
    by_service = {service: (0.0, 0.0) for service in SERVICES}
    for service, cost, covered in tables.sql(f"""
        SELECT CASE WHEN CAST(CODE AS VARCHAR) IN ({dental}) THEN 'dental'
                    WHEN ENCOUNTERCLASS = 'inpatient' THEN 'hospital inpatient'
                    WHEN ENCOUNTERCLASS IN ({classes}) THEN 'ambulatory'
                    ELSE 'other' END,
               coalesce(sum(TOTAL_CLAIM_COST), 0)::DOUBLE, coalesce(sum(PAYER_COVERAGE), 0)::DOUBLE
        FROM {tables.rel('encounters')} WHERE START >= {lo} AND START < {hi}
        GROUP BY ALL"""):
        by_service[service] = (cost, covered)
    if tables.has("medications"):
        med_cost, med_covered = tables.sql(f"""
            SELECT coalesce(sum(TOTALCOST * part), 0)::DOUBLE,
                   coalesce(sum(PAYER_COVERAGE * part), 0)::DOUBLE FROM (
                SELECT TOTALCOST, PAYER_COVERAGE,
                       CASE WHEN stop <= START THEN (START >= {lo} AND START < {hi})::INT
                            ELSE greatest(epoch(least(stop, {hi})) - epoch(greatest(START, {lo})),
                                          0) / (epoch(stop) - epoch(START)) END AS part
                FROM (SELECT TOTALCOST, PAYER_COVERAGE, START,
                             least(coalesce(STOP, {hi}), {hi}) AS stop
                      FROM {tables.rel('medications')}))""")[0]
        by_service[PRESCRIBED] = (med_cost, med_covered)
    return by_service, sum(_exposure(ctx, start, end)), years


def _cost(ctx: Context, section: Section, references: dict[str, dict[str, Any]]) -> None:
    tables = ctx.tables
    lives = ctx.measured.lives  # type: ignore[union-attr]
    ref_day = float((ctx.reference - dt.date(1970, 1, 1)).days)
    lifetime_years = float(np.sum((np.minimum(np.where(np.isnan(lives.death), ref_day,
                                                        lives.death), ref_day)
                                   - lives.birth) / YEAR))
    life_paid, life_covered = tables.sql(
        f"SELECT coalesce(sum(HEALTHCARE_EXPENSES), 0)::DOUBLE, "
        f"coalesce(sum(HEALTHCARE_COVERAGE), 0)::DOUBLE FROM {tables.rel('patients')}")[0]
    window = _window_cost(ctx)
    by_service: dict[str, tuple[float, float]] = {}
    if window is not None:
        by_service, lived, years = window
        covered = sum(c for _, c in by_service.values())
        paid = sum(cost for cost, _ in by_service.values()) - covered
        over = (f"over the {years} years before the reference date, every life counted: the "
                "claims of the encounters started in them (encounters.csv TOTAL_CLAIM_COST, "
                "PAYER_COVERAGE) and of each prescription the share of its cost (medications.csv "
                "TOTALCOST, PAYER_COVERAGE) its days in them make of its days active")
    else:
        paid, covered, lived, years = life_paid, life_covered, lifetime_years, None
        over = ("over every life written, birth to death or the reference date (patients.csv "
                "HEALTHCARE_EXPENSES + HEALTHCARE_COVERAGE): no encounters table to count the "
                "recent years from")
        section.not_computed.append(
            "cost over recent years: " + tables.why_missing("encounters") + "; shown over "
            "whole lives instead, under earlier plan rules too")
    total = paid + covered
    spending = references.get("health_spending_per_person_year")
    pocket = references.get("out_of_pocket_share")
    per_year = Figure.of("cost per person-year", Result(total / lived, math.nan, math.nan,
                                                        lives.n)
                         if lived > 0 else Result(math.nan, math.nan, math.nan, 0),
                         spending["value"] if spending else None, None,
                         source=spending["source"] if spending else None, unit="US dollars")
    share = Figure.of("out-of-pocket share", Result(paid / total, math.nan, math.nan, lives.n)
                      if total > 0 else Result(math.nan, math.nan, math.nan, 0),
                      pocket["value"] if pocket else None, None,
                      source=pocket["source"] if pocket else None, unit="share",
                      why="no claim cost anything")
    life_total = life_paid + life_covered
    section.data["cost"] = {
        "window_years": years, "person_years": lived, "paid_by_patients": paid,
        "paid_by_payers": covered, "per_person_year": per_year, "out_of_pocket_share": share,
        "whole_lives": {
            "person_years": lifetime_years, "paid_by_patients": life_paid,
            "paid_by_payers": life_covered,
            "per_person_year": life_total / lifetime_years if lifetime_years > 0 else None,
            "out_of_pocket_share": life_paid / life_total if life_total > 0 else None}}
    for figure, key, axis, percent in ((per_year, "cost-per-person-year",
                                        "US dollars per person-year", False),
                                       (share, "out-of-pocket-share",
                                        "% of the claims' totals", True)):
        source = figure.source
        what = (spending if figure is per_year else pocket) or {}
        section.blocks.append(Chart(
            key, figure.label.capitalize(),
            (f"What the claims cost per person-year, {over}"
             if figure is per_year else
             f"What patients paid (copays, deductibles, coinsurance) as a share of what the "
             f"claims cost, {over}")
            + (f". Published (for scale, no band): {what.get('what', '')}. Source: {source}"
               if source else ". No published reference."),
            compare_bars([figure], axis, percent=percent,
                         note="Reference: " + short_source(source) if source else ""),
            (8.0, 1.8)))
    if by_service:
        _by_service(ctx, section, references, by_service, over)


def _by_service(ctx: Context, section: Section, references: dict[str, dict[str, Any]],
                by_service: dict[str, tuple[float, float]], over: str) -> None:
    """The out-of-pocket share of each type of service, beside MEPS's where it has one."""
    published = references.get("out_of_pocket_share_by_service", {})
    shares = published.get("value", {})
    n = ctx.measured.lives.n  # type: ignore[union-attr]
    figures = []
    for service in SERVICES:
        cost, covered = by_service.get(service, (0.0, 0.0))
        if cost == 0 and service not in shares:
            continue  # "other": shown only when some claim falls under it
        figures.append(Figure.of(
            f"{service}", Result((cost - covered) / cost, math.nan, math.nan, n) if cost > 0
            else Result(math.nan, math.nan, math.nan, 0), shares.get(service), None,
            source=published.get("source") if service in shares else None, unit="share",
            why="no claim of this type in the window"))
    section.data["cost"]["out_of_pocket_share_by_service"] = figures
    section.data["cost"]["by_service"] = {
        service: {"cost": cost, "paid_by_payers": covered}
        for service, (cost, covered) in by_service.items()}
    source = published.get("source")
    section.blocks.append(Chart(
        "out-of-pocket-share-by-service", "Out-of-pocket share by type of service",
        f"What patients paid as a share of what the claims cost, by type of service, {over}. "
        "Hospital inpatient: encounters of class inpatient; ambulatory: wellness, ambulatory, "
        "outpatient, emergency, urgent-care and virtual encounters; dental: the dental care "
        "module's visits (SNOMED 34043003); prescribed medicines: medications; other: any "
        "other class. "
        + (f"Published (for scale, no band): {published.get('what', '')}. Source: {source}"
           if source else "No published reference."),
        compare_bars(figures, "% of the claims' totals", percent=True,
                     note="Reference: " + short_source(source) if source else ""),
        (8.0, 2.6)))
