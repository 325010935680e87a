"""Section 5, record checks: what no real record could hold. References to rows that do not
exist, events after death or before birth, negative durations and amounts, vital signs
outside what a living body can show, empty codes: each a count with a few example rows.

Each table is read once for all its checks: one query with a LEFT JOIN to every table it
refers to and a ``count(*) FILTER`` (and three examples, the first by their text, so the page
is the same each time) per check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.report.context import Context
from simulator.report.model import IN, INFO, OUT, Section, Table

EXAMPLES = 3

# Limits of survival and of measurement, not normal ranges: a value outside them is an error
# of the record, not an illness (the project's own plausibility limits, no published source)
VITAL_LIMITS: dict[str, tuple[str, float, float]] = {
    "8302-2": ("body height (cm)", 20, 272),
    "29463-7": ("body weight (kg)", 0.3, 650),
    "39156-5": ("body mass index (kg/m2)", 5, 200),
    "8480-6": ("systolic blood pressure (mm[Hg])", 40, 300),
    "8462-4": ("diastolic blood pressure (mm[Hg])", 10, 200),
    "8867-4": ("heart rate (/min)", 20, 300),
    "9279-1": ("respiratory rate (/min)", 4, 90),
    "8310-5": ("body temperature (Cel)", 25, 45),
    "2708-6": ("oxygen saturation (%)", 40, 100),
    "59408-5": ("oxygen saturation by pulse oximetry (%)", 40, 100),
}

# table -> (column, referenced table, its key) for every reference it holds
REFERENCES: dict[str, list[tuple[str, str, str]]] = {
    "encounters": [("PATIENT", "patients", "Id"), ("ORGANIZATION", "organizations", "Id"),
                   ("PROVIDER", "providers", "Id"), ("PAYER", "payers", "Id")],
    "conditions": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id")],
    "allergies": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id")],
    "medications": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id"),
                    ("PAYER", "payers", "Id")],
    "observations": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id")],
    "procedures": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id")],
    "immunizations": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id")],
    "careplans": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id")],
    "imaging_studies": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id")],
    "devices": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id")],
    "supplies": [("PATIENT", "patients", "Id"), ("ENCOUNTER", "encounters", "Id")],
    "claims": [("PATIENTID", "patients", "Id"), ("PROVIDERID", "providers", "Id")],
    "claims_transactions": [("PATIENTID", "patients", "Id"), ("CLAIMID", "claims", "Id")],
    "payer_transitions": [("PATIENT", "patients", "Id"), ("PAYER", "payers", "Id")],
    "providers": [("ORGANIZATION", "organizations", "Id")],
}
# table -> the column dating its event (checked against the person's birth and death)
EVENT_DATES = {"encounters": "START", "conditions": "START", "allergies": "START",
               "medications": "START", "observations": "DATE", "procedures": "START",
               "immunizations": "DATE", "careplans": "START", "imaging_studies": "DATE",
               "devices": "START", "supplies": "DATE"}
# table -> (start, stop) of what has a duration
DURATIONS = {"encounters": ("START", "STOP"), "conditions": ("START", "STOP"),
             "allergies": ("START", "STOP"), "medications": ("START", "STOP"),
             "procedures": ("START", "STOP"), "careplans": ("START", "STOP"),
             "devices": ("START", "STOP"), "payer_transitions": ("START_DATE", "END_DATE")}
# table -> its id column, which no two rows may share (imaging studies repeat theirs, one row
# per instance; claim transactions are left out: grouping their millions of ids would cost
# more than the rest of the report)
UNIQUE_IDS = {"patients": "Id", "encounters": "Id", "careplans": "Id", "claims": "Id",
              "organizations": "Id", "providers": "Id", "payers": "Id"}
CODED = ("encounters", "conditions", "allergies", "medications", "observations", "procedures",
         "immunizations", "careplans", "devices", "supplies")
# table -> amounts that cannot be negative
AMOUNTS = {"encounters": ("TOTAL_CLAIM_COST", "PAYER_COVERAGE"),
           "medications": ("TOTALCOST", "PAYER_COVERAGE"), "procedures": ("BASE_COST",),
           "immunizations": ("BASE_COST",), "patients": ("HEALTHCARE_EXPENSES",
                                                        "HEALTHCARE_COVERAGE", "INCOME")}
# the columns an example row shows, per table (besides the one checked)
SHOWN = {"patients": ("Id", "BIRTHDATE", "DEATHDATE"),
         "encounters": ("Id", "PATIENT", "START", "STOP", "ENCOUNTERCLASS", "CODE"),
         "observations": ("PATIENT", "DATE", "CODE", "VALUE", "UNITS"),
         "claims": ("Id", "PATIENTID", "APPOINTMENTID"),
         "claims_transactions": ("ID", "CLAIMID", "PATIENTID"),
         "payer_transitions": ("PATIENT", "START_DATE", "END_DATE", "PAYER"),
         "providers": ("Id", "ORGANIZATION", "NAME"),
         "imaging_studies": ("Id", "PATIENT", "DATE", "PROCEDURE_CODE")}
DEFAULT_SHOWN = ("PATIENT", "ENCOUNTER", "START", "STOP", "CODE", "DESCRIPTION")


@dataclass
class Check:
    kind: str  # referential integrity, dates, durations, values, codes
    name: str
    table: str
    condition: str  # SQL over the table (alias t) and its joins
    columns: tuple[str, ...]  # shown in the examples
    count: int | None = None
    rows: int | None = None
    examples: list[dict[str, Any]] | None = None
    why: str | None = None  # why not checked

    def json(self) -> dict[str, Any]:
        return {"kind": self.kind, "check": self.name, "table": self.table,
                "problems": self.count, "rows_checked": self.rows,
                "examples": self.examples or [], **({"why_not_checked": self.why}
                                                    if self.why else {})}

    @property
    def status(self) -> str:
        if self.count is None:
            return INFO
        return IN if self.count == 0 else OUT


def _shown(table: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    from simulator.export.csv import CSV_FILES
    from simulator.report.tables import KEPT_COLUMNS

    present = set(KEPT_COLUMNS.get(table, CSV_FILES[table]))
    wanted = SHOWN.get(table, DEFAULT_SHOWN) + extra
    return tuple(dict.fromkeys(c for c in wanted if c in present))


def plan(ctx: Context) -> tuple[dict[str, list[Check]], list[Check], dict[str, list[str]]]:
    """The checks of each table that can be made, those that cannot (with why), and the
    joins each table's query needs (alias -> referenced table and key)."""
    tables = ctx.tables
    runnable: dict[str, list[Check]] = {}
    skipped: list[Check] = []
    joins: dict[str, list[str]] = {}

    def add(check: Check, needs: tuple[str, ...]) -> None:
        if not tables.has(check.table):  # said once per table, not once per check
            return
        missing = tables.missing(*needs)
        if missing:
            check.why = tables.why_missing(*missing)
            skipped.append(check)
        else:
            runnable.setdefault(check.table, []).append(check)

    for table, refs in REFERENCES.items():
        for k, (column, target, key) in enumerate(refs):
            alias = f"r{k}"
            check = Check("referential integrity", f"{table}.{column} → {target}.{key}", table,
                          f"t.{column} IS NOT NULL AND {alias}.k IS NULL",
                          _shown(table, (column,)))
            add(check, (target,))
            if tables.has(table) and check.why is None:
                joins.setdefault(table, []).append(
                    f"LEFT JOIN (SELECT DISTINCT {key} AS k FROM {tables.rel(target)}) {alias} "
                    f"ON {alias}.k = t.{column}")
    for table, column in EVENT_DATES.items():
        shown = _shown(table, (column,))
        when = f"CAST(t.{column} AS DATE)"
        add(Check("dates", f"{table}: {column} after the person's death", table,
                  f"l.DEATHDATE IS NOT NULL AND {when} > l.DEATHDATE", shown), ("patients",))
        add(Check("dates", f"{table}: {column} before the person's birth", table,
                  f"{when} < l.BIRTHDATE", shown), ("patients",))
    add(Check("dates", "patients: death before birth", "patients",
              "t.DEATHDATE < t.BIRTHDATE", _shown("patients", ())), ())
    add(Check("dates", "patients: born after the reference date", "patients",
              f"t.BIRTHDATE > DATE '{ctx.reference}'", _shown("patients", ())), ())
    add(Check("dates", "patients: died after the reference date", "patients",
              f"t.DEATHDATE > DATE '{ctx.reference}'", _shown("patients", ())), ())
    for table, (start, stop) in DURATIONS.items():
        add(Check("durations", f"{table}: {stop} before {start}", table,
                  f"t.{stop} < t.{start}", _shown(table, (start, stop))), ())
    for table, amounts in AMOUNTS.items():
        for column in amounts:
            add(Check("values", f"{table}: negative {column}", table, f"t.{column} < 0",
                      _shown(table, (column,))), ())
    add(Check("values", "encounters: PAYER_COVERAGE above TOTAL_CLAIM_COST", "encounters",
              "t.PAYER_COVERAGE > t.TOTAL_CLAIM_COST",
              _shown("encounters", ("TOTAL_CLAIM_COST", "PAYER_COVERAGE"))), ())
    for code, (what, low, high) in VITAL_LIMITS.items():
        add(Check("values", f"observations: {what} outside {low:g}–{high:g}", "observations",
                  f"t.CODE = '{code}' AND (TRY_CAST(t.VALUE AS DOUBLE) IS NULL OR "
                  f"TRY_CAST(t.VALUE AS DOUBLE) < {low} OR TRY_CAST(t.VALUE AS DOUBLE) > {high})",
                  _shown("observations", ())), ())
    add(Check("values", "observations: empty VALUE", "observations", "t.VALUE IS NULL",
              _shown("observations", ())), ())
    for table in CODED:
        add(Check("codes", f"{table}: empty CODE", table, "t.CODE IS NULL",
                  _shown(table, ())), ())
    return runnable, skipped, joins


def _as_text(table: str, column: str) -> str:
    """A column of an example row as the CSV writes it (date-times as 2024-01-31T08:00:00Z)."""
    from simulator.export.parquet import column_types

    kind = str(column_types(table)[column])
    if kind.startswith("timestamp"):
        return f"strftime(t.{column}, '%Y-%m-%dT%H:%M:%SZ')"
    return f"CAST(t.{column} AS VARCHAR)"


def run_checks(ctx: Context) -> tuple[list[Check], dict[str, int]]:
    """Every check, counted (or said why not), and the rows of each table read."""
    tables = ctx.tables
    runnable, skipped, joins = plan(ctx)
    rows_of: dict[str, int] = {}
    for table, checks in runnable.items():
        needs_person = any("l." in c.condition for c in checks)
        person_join = ""
        if needs_person:
            key = "PATIENTID" if table.startswith("claims") else "PATIENT"
            # one row per id, so a repeated patient id cannot count a row twice
            person_join = (f"LEFT JOIN (SELECT Id, min(BIRTHDATE) AS BIRTHDATE, "
                           f"min(DEATHDATE) AS DEATHDATE FROM {tables.rel('patients')} "
                           f"GROUP BY Id) l ON l.Id = t.{key}")
        parts = ["count(*)"]
        for c in checks:
            shown = ", ".join(f"'{col}': {_as_text(table, col)}" for col in c.columns)
            parts.append(f"count(*) FILTER (WHERE {c.condition})")
            parts.append(f"min_by({{{shown}}}, {{{shown}}}, {EXAMPLES}) "
                         f"FILTER (WHERE {c.condition})")
        query = (f"SELECT {', '.join(parts)} FROM {tables.rel(table)} t "
                 f"{' '.join(joins.get(table, []))} {person_join}")
        result = tables.sql(query)[0]
        rows_of[table] = int(result[0])
        for k, c in enumerate(checks):
            c.rows = int(result[0])
            c.count = int(result[1 + 2 * k])
            c.examples = [dict(e) for e in (result[2 + 2 * k] or [])]
    for table in tables.sources:
        if table not in rows_of:
            rows_of[table] = int(tables.one(f"SELECT count(*) FROM {tables.rel(table)}"))
    repeated = [_repeated_ids(ctx, table, column, rows_of[table])
                for table, column in UNIQUE_IDS.items() if tables.has(table)]
    ordered = [c for checks in runnable.values() for c in checks] + skipped + repeated
    ordered.sort(key=lambda c: (c.kind, c.table, c.name))
    return ordered, rows_of


def _repeated_ids(ctx: Context, table: str, column: str, rows: int) -> Check:
    """Rows whose id another row of the table has too (the rows beyond each id's first),
    with the first ids repeated."""
    tables = ctx.tables
    check = Check("referential integrity", f"{table}: {column} repeated", table, "",
                  (column,), rows=rows)
    extra, first = tables.sql(
        f"SELECT coalesce(sum(n - 1), 0), list({{'{column}': id, 'rows': n}} ORDER BY id)[1:{EXAMPLES}] "
        f"FROM (SELECT CAST({column} AS VARCHAR) AS id, count(*) AS n FROM {tables.rel(table)} "
        "GROUP BY id HAVING count(*) > 1)")[0]
    check.count = int(extra)
    check.examples = [dict(e) for e in (first or [])]
    return check


def build(ctx: Context, checks: list[Check]) -> Section:
    section = Section("checks", "Record checks", (
        "What no real record could hold, counted over every row: references to rows that do "
        "not exist, events after the person's death or before birth, durations that end "
        "before they start, negative amounts, vital signs outside the limits of survival and "
        "measurement (the project's own plausibility limits, not normal ranges), empty "
        "codes. Green: none found; red: the count, with the first rows found. A check of a "
        "table the run did not write is listed as not checked."))
    section.data["checks"] = [c.json() for c in checks]
    problems = [c for c in checks if c.count]
    section.data["problems"] = sum(c.count or 0 for c in checks)
    rows = []
    for c in checks:
        if c.count is None:
            rows.append([c.kind, c.name, "not checked", "", c.why or ""])
            continue
        examples = "; ".join(", ".join(f"{k}={v}" for k, v in e.items() if v is not None)
                             for e in (c.examples or []))
        rows.append([c.kind, c.name, f"{c.count:,}", f"{c.rows:,}", examples])
    section.blocks.append(Table("Checks", ["kind", "check", "problems", "rows checked",
                                           "first examples / why not checked"], rows,
                                [c.status for c in checks],
                                note=f"{len(problems)} of {len(checks)} checks found problems."))
    section.not_computed += [f"check {c.name}: {c.why}" for c in checks if c.why]
    from simulator.export.csv import CSV_FILES

    absent = [t for t in CSV_FILES if not ctx.tables.has(t)]
    if absent:
        section.not_computed.append(f"no check of {', '.join(absent)}: the run wrote no such "
                                    "table (see --format and --csv-files)")
    return section
