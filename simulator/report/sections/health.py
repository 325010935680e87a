"""Section 3, health: the published prevalence, incidence and life-expectancy targets of
``modules/targets.csv`` measured on the run (``simulator/report/targets.py``, the code
``bench/module_targets.py`` prints them with), death rates by age against the SSA period
life table, causes of death, and the run's most frequent conditions, medications and
procedures."""

from __future__ import annotations

import datetime as dt

from simulator.report.charts import compare_bars, rate_lines, short_source, top_bars
from simulator.report.context import Context
from simulator.report.model import INFO, Chart, Figure, Section, Table
from simulator.report.targets import (
    BANDS,
    DEATH_CERTIFICATION,
    MeasuredRun,
    band_label,
    in_band,
    read_targets,
    table_rates,
    tolerance,
)

TOP = 15


def build(ctx: Context) -> Section:
    section = Section("health", "Health", (
        "Prevalence, incidence and life expectancy against the published targets the "
        "project's modules are calibrated to (modules/targets.csv, each with its source). A "
        "row of all adults of both sexes is in band within ±15% of its target; a row of one "
        "age band or one sex within ±20%, or where the target lies within the simulated 95% "
        "interval; life expectancy within ±1 year. The most frequent conditions, medications "
        "and procedures are the run's own counts, without a reference."))
    run = ctx.measured
    if run is None:
        section.not_computed.append(
            f"everything in this section: {ctx.tables.why_missing('patients')}")
        return section
    _targets(run, section)
    _life_expectancy(ctx, run, section)
    _causes_of_death(ctx, section)
    _top_lists(ctx, section)
    return section


def _target_figure(run: MeasuredRun, row: dict[str, str]) -> Figure:
    label = f"{row['sex']}, {row['age_group']}"
    target = float(row["value"])
    why = run.why_not_computable(row)
    if why is not None:
        return Figure.missing(label, why, reference=target, source=row["source"])
    result = run.measure(row)
    if not result.measured:
        return Figure.missing(label, "nobody to measure", reference=target, source=row["source"])
    ok, band = in_band(row, target, result)
    allowed, _ = tolerance(row)
    years = row["how"].startswith("life_expectancy")
    low, high = ((target - allowed, target + allowed) if years
                 else (target * (1 - allowed), target * (1 + allowed)))
    return Figure.of(label, result, target, ok, band=band, band_low=low, band_high=high,
                     source=row["source"], unit=_unit(row))


def _unit(row: dict[str, str]) -> str:
    kind = row["how"].partition(":")[0]
    return {"incidence": "per 1,000 person-years", "life_expectancy": "years"}.get(kind, "share")


def _targets(run: MeasuredRun, section: Section) -> None:
    rows = read_targets()
    measures: list[dict[str, object]] = []
    table_rows: list[list[str]] = []
    statuses: list[str] = []
    grouped: dict[str, list[dict[str, str]]] = {}
    for row in rows:  # a measure's rows need not be next to each other in the file
        grouped.setdefault(row["measure"], []).append(row)
    for name, group_rows in grouped.items():
        figures = [_target_figure(run, row) for row in group_rows]
        measures.append({"measure": name, "how": group_rows[0]["how"], "rows": figures})
        for row, f in zip(group_rows, figures, strict=True):
            table_rows.append([name, row["sex"], row["age_group"], _number(f.reference, f.unit),
                               _with_interval(f), f.band or "", f.status,
                               f.why or row["source"]])
            statuses.append(f.status)
        shown = [f for f in figures if f.value is not None]
        if not shown:
            section.not_computed.append(f"{name}: {figures[0].why}")
            continue
        unit = figures[0].unit
        sources = sorted({row["source"] for row in group_rows})
        section.blocks.append(Chart(
            "target-" + _slug(name), name,
            "Simulated (bar, 95% interval) against the target (diamond) and its band "
            f"(grey). Source: {' | '.join(sources)}",
            compare_bars(figures, _axis(unit), percent=unit == "share",
                         note="Reference: " + short_source(sources[0])),
            (8.0, max(1.8, 1.1 + 0.38 * len(figures)))))
    section.data["targets"] = measures
    section.blocks.append(Table(
        "Every target", ["measure", "sex", "ages", "target", "simulated (95% CI)", "band",
                         "verdict", "source / why not computable"], table_rows, statuses))


def _axis(unit: str) -> str:
    return {"share": "% of the group", "years": "years",
            "per 1,000 person-years": "per 1,000 person-years"}.get(unit, unit)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if unit == "share" else f"{value:.2f}"


def _with_interval(f: Figure) -> str:
    if f.value is None:
        return "not computable"
    if f.low is None or f.high is None:
        return _number(f.value, f.unit)
    return f"{_number(f.value, f.unit)} ({_number(f.low, f.unit)}–{_number(f.high, f.unit)})"


def _slug(text: str) -> str:
    kept = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(part for part in kept.split("-") if part)[:60]


def _life_expectancy(ctx: Context, run: MeasuredRun, section: Section) -> None:
    from simulator.population.life_table import load_life_table

    table = load_life_table()
    source = ("U.S. Social Security Administration, Office of the Chief Actuary, Period Life "
              "Table 2023 (2026 Trustees Report), https://www.ssa.gov/oact/STATS/table4c6.html, "
              "as transcribed in simulator/data/us_life_table.csv")
    figures: list[Figure] = []
    data: dict[str, object] = {"source": source}
    for sex, name in (("M", "men"), ("F", "women")):
        reference = float(table.life_expectancy(sex))
        modelled = _e0(run, sex, False, reference, source, f"{name}: natural and module deaths")
        first = _e0(run, sex, True, reference, source, f"{name}: first lives alone")
        figures += [modelled, first]
        data[sex] = {"modelled": modelled, "first_lives": first, "reference": reference}
    section.data["life_expectancy"] = data
    section.blocks.append(Chart(
        "life-expectancy", "Life expectancy at birth",
        "Period life expectancy at birth over the 10 years before the reference date, by sex. "
        "'Natural and module deaths': natural death at the rates of the table the run drew it "
        "from, module deaths (by death certificate) at the rates of every simulated life. "
        "'First lives alone': from the deaths of each person's first life only (a person who "
        "dies before the reference date is simulated again, conditioned on survival); wide "
        "intervals, as few first lives reach old age. In band within ±1 year (first lives: "
        f"or where the interval covers the reference). Source: {source}",
        compare_bars(figures, "years", note="Reference: " + short_source(source), zoom=True),
        (8.0, 2.6)))
    if run.causes is None:
        section.not_computed.append("life expectancy from natural and module deaths: "
                                    + ctx.modules_note)
    _death_rates(run, section, source)


def _e0(run: MeasuredRun, sex: str, first_lives: bool, reference: float, source: str,
        label: str) -> Figure:
    """Life expectancy of one sex: from natural and module deaths (in band within ±1 year,
    the targets' rule), or from the first lives alone (whose interval is wide: in band
    within ±1 year or where the interval covers the reference)."""
    if not first_lives and not run.tables.has("encounters"):
        return Figure.missing(label, run.tables.why_missing("encounters"), reference=reference)
    result = run.observed_life_expectancy(sex) if first_lives else run.life_expectancy(sex)
    if not result.measured:
        why = ("nobody lived in the 10 years before the reference date" if first_lives else
               "the run's modules folder is not at hand, so module deaths cannot be told "
               "from natural ones")
        return Figure.missing(label, why, reference=reference, source=source)
    ok = abs(result.value - reference) <= 1.0
    if first_lives:
        ok = ok or result.low <= reference <= result.high
    return Figure.of(label, result, reference, ok, band="±1y|CI" if first_lives else "±1y",
                     band_low=reference - 1, band_high=reference + 1, source=source,
                     unit="years")


def _death_rates(run: MeasuredRun, section: Section, source: str) -> None:
    labels = [band_label(k) for k in range(len(BANDS))]
    series: dict[str, list[float]] = {}
    references: dict[str, list[float]] = {}
    data: dict[str, object] = {"bands": labels}
    for sex, name in (("M", "men"), ("F", "women")):
        deaths, exposure = run.period_rates(sex)
        rates = [1000 * d / e if e else 0.0 for d, e in zip(deaths, exposure, strict=True)]
        series[name] = rates
        references[name] = [1000 * r for r in table_rates(sex)]
        data[sex] = {"deaths": deaths, "person_years": exposure, "per_1000": rates,
                     "reference_per_1000": references[name]}
    section.data["death_rates"] = data
    section.blocks.append(Chart(
        "death-rates", "Death rates by age",
        "Deaths per 1,000 person-years by age band over the 10 years before the reference "
        "date, first lives (log scale; bands without deaths are left out), against the SSA "
        f"period life table's. Source: {source}",
        rate_lines(labels, series, references, "deaths per 1,000 person-years",
                   note="Reference: " + short_source(source)), (8.0, 3.6)))


def _causes_of_death(ctx: Context, section: Section) -> None:
    tables = ctx.tables
    if not tables.has("encounters"):
        section.not_computed.append(f"causes of death: {tables.why_missing('encounters')}")
        return
    rows = tables.sql(
        f"SELECT coalesce(REASONDESCRIPTION, REASONCODE, 'no cause recorded') AS cause, "
        f"count(*) AS n FROM {tables.rel('encounters')} WHERE CODE = ? "
        "GROUP BY cause ORDER BY n DESC, cause", [DEATH_CERTIFICATION])
    deceased = tables.one(f"SELECT count(*) FROM {tables.rel('patients')} "
                          "WHERE DEATHDATE IS NOT NULL")
    certified = sum(n for _, n in rows)
    shown = rows[:TOP]
    section.data["causes_of_death"] = {
        "deceased_records": deceased, "death_certificates": certified,
        "causes": [{"cause": c, "deaths": n} for c, n in rows]}
    if not rows:
        section.not_computed.append("causes of death: the run wrote no death certificate")
        return
    section.blocks.append(Chart(
        "causes-of-death", "Causes of death",
        f"The {len(shown)} most frequent causes on the {certified:,} death certificates of the "
        f"{deceased:,} deceased records (a death certificate encounter's reason). No reference: "
        "the run's modules model some causes of death and natural death the rest, so the "
        "US's leading causes are not comparable.",
        top_bars([c for c, _ in shown], [n for _, n in shown], "deaths"),
        (8.0, 1.0 + 0.3 * len(shown))))


def _top_lists(ctx: Context, section: Section) -> None:
    tables = ctx.tables
    ref = ctx.reference
    living = tables.one(f"SELECT count(*) FROM {tables.rel('patients')} WHERE DEATHDATE IS NULL")
    year_ago = ref - dt.timedelta(days=365)
    lists = (
        ("conditions", "top-conditions", "Most frequent active conditions",
         "living people with the condition active at the reference date (no STOP)",
         "t.STOP IS NULL"),
        ("medications", "top-medications", "Most frequent active medications",
         "living people taking the medication at the reference date (no STOP)",
         "t.STOP IS NULL"),
        ("procedures", "top-procedures", "Most frequent procedures in the last year",
         "living people with the procedure in the year before the reference date",
         f"t.START >= TIMESTAMPTZ '{year_ago}' AND t.START < TIMESTAMPTZ '{ref}'"),
    )
    for table, key, title, what, where in lists:
        if not tables.has(table):
            section.not_computed.append(f"{title.lower()}: {tables.why_missing(table)}")
            continue
        rows = tables.sql(
            f"SELECT t.DESCRIPTION, t.CODE, count(DISTINCT t.PATIENT) AS people "
            f"FROM {tables.rel(table)} t JOIN {tables.rel('patients')} p ON p.Id = t.PATIENT "
            f"WHERE p.DEATHDATE IS NULL AND {where} "
            "GROUP BY t.DESCRIPTION, t.CODE ORDER BY people DESC, t.DESCRIPTION, t.CODE "
            f"LIMIT {TOP}")
        shares = [n / living if living else 0.0 for _, _, n in rows]
        section.data[key.replace("-", "_")] = [
            Figure(d or c or "", s, n=n, unit="share", status=INFO)
            for (d, c, n), s in zip(rows, shares, strict=True)]
        if not rows:
            section.not_computed.append(f"{title.lower()}: none in the run")
            continue
        section.blocks.append(Chart(
            key, title, f"The {len(rows)} most frequent, in % of the {living:,} living people: "
            f"{what}. The run's own counts, without a reference.",
            top_bars([d or c for d, c, _ in rows], [100 * s for s in shares],
                     "% of living people"),
            (8.0, 1.0 + 0.3 * len(rows))))
