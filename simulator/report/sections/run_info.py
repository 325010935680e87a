"""Section 1, the run: what was asked (options and seed, from ``run.json``), what it made
(people alive and deceased, records, tables and their formats), how long it took and which
modules it used."""

from __future__ import annotations

from typing import Any

from simulator.report.charts import compare_bars
from simulator.report.context import Context
from simulator.report.model import INFO, Chart, Figure, Section, Table

# options shown first, in this order; the rest follow by name
FIRST_OPTIONS = ("population", "seed", "state", "city", "gender", "min_age", "max_age",
                 "reference_date", "years_of_history", "natural_death", "modules_dir",
                 "modules", "formats", "csv_files", "keep", "engine", "workers")


def build(ctx: Context, rows_of: dict[str, int]) -> Section:
    record = ctx.run.record
    options = ctx.options
    section = Section("run", "The run", (
        f"The run in {ctx.run.folder}: its options and seed as recorded in run.json, the "
        "people and records it wrote, the tables this report read, and the modules it "
        "used."))
    counts: dict[str, Any] = dict(record.get("counts", {}))
    lives = ctx.measured.lives if ctx.measured is not None else None
    written = {"lives": lives.n, "alive": int(lives.alive.sum()),
               "deceased": int((~lives.alive).sum())} if lives is not None else None
    seconds = record.get("seconds")
    section.data.update({
        "folder": str(ctx.run.folder),
        "status": record.get("status"),
        "started": record.get("started"),
        "finished": record.get("updated"),
        "seconds": seconds,
        "cpu_seconds": record.get("cpu_seconds"),
        "seed": options.get("seed"),
        "options": options,
        "versions": record.get("versions"),
        "counts": counts,
        "patients_table": written,
        "modules_dir": str(ctx.modules_dir),
        "modules": ctx.top_level,
        "modules_note": ctx.modules_note,
        "tables": {t: {"format": ctx.tables.format_of(t), "rows": rows_of.get(t)}
                   for t in sorted(ctx.tables.sources)},
    })
    shown = [k for k in FIRST_OPTIONS if k in options] + sorted(set(options) - set(FIRST_OPTIONS))
    section.blocks.append(Table("Options (run.json)", ["option", "value"],
                                [[k, _text(options[k], grouped=False)] for k in shown]))
    people_rows = [
        ["people asked for (-p)", _text(options.get("population"))],
        ["alive at the reference date", _text(counts.get("alive"))],
        ["deceased records (people who died before it)", _text(counts.get("dead"))],
        ["lives simulated", _text(counts.get("simulated"))],
        ["records written (every file)", _text(counts.get("records_written"))],
        ["wall time", f"{seconds:.1f} s" if isinstance(seconds, int | float) else "—"],
        ["started / finished", f"{record.get('started', '—')} / {record.get('updated', '—')}"],
        ["software", ", ".join(f"{k} {v}" for k, v in sorted(record.get("versions", {}).items()))],
    ]
    if written is not None:
        people_rows.insert(3, ["patients.csv rows: alive / deceased",
                               f"{written['alive']:,} / {written['deceased']:,}"])
    section.blocks.append(Table("People and time", ["", ""], people_rows))
    if written is not None and written["lives"]:
        figures = [Figure("alive", written["alive"] / written["lives"], n=written["alive"],
                          unit="share", status=INFO),
                   Figure("deceased", written["deceased"] / written["lives"],
                          n=written["deceased"], unit="share", status=INFO)]
        section.blocks.append(Chart(
            "lives-written", "Lives written",
            "The records the run wrote: people alive at the reference date and the deceased "
            "records of people who died before it (each followed by the person simulated "
            "again, alive). The run's own counts: no reference.",
            compare_bars(figures, "% of the records", percent=True), (8.0, 1.8)))
    table_rows = [[t, ctx.tables.format_of(t) or "", f"{rows_of.get(t, 0):,}"]
                  for t in sorted(ctx.tables.sources)]
    absent = [t for t in ctx.tables.known if not ctx.tables.has(t)]
    section.blocks.append(Table(
        "Tables read", ["table", "format", "rows"], table_rows,
        note=("Not written by the run (so not read): " + ", ".join(absent)) if absent else ""))
    section.blocks.append(Table(
        f"Modules ({len(ctx.top_level)} top-level, from {ctx.modules_dir})", [""],
        [[", ".join(ctx.top_level) or "—"]], note=ctx.modules_note))
    if absent:
        section.not_computed.append("tables not written by the run: " + ", ".join(absent))
    return section


def _text(value: Any, grouped: bool = True) -> str:
    """A value for the page; ``grouped`` puts thousands separators in counts (not in a
    seed, which is copied as it is)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if grouped else str(value)
    if isinstance(value, list):
        return ", ".join(_text(v, grouped) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v, grouped)}" for k, v in value.items())
    return str(value)
