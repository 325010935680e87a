"""Lookup tables for `lookup_table_transition` (module-format.md §7.5).

A table is N attribute columns then M probability columns named after transitions. `age`
columns hold inclusive integer-year ranges, `time` columns epoch-ms or date ranges, every
other column is compared with the text form of a person attribute.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


class LookupTableError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class LookupRow:
    key: tuple[str, ...]
    age: tuple[int, int] | None
    time: tuple[int, int] | None
    probabilities: tuple[float, ...]


@dataclass(slots=True)
class LookupTable:
    name: str
    attribute_columns: list[str]  # excluding age and time
    has_age: bool
    has_time: bool
    probability_columns: list[str]
    rows_by_key: dict[tuple[str, ...], list[LookupRow]]
    # For tables with a time column: per key, rows sorted by start, their starts, and the
    # running maximum of their ends (so a search can stop early).
    _time_index: dict[tuple[str, ...], tuple[list[int], list[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.has_time:
            for key, rows in self.rows_by_key.items():
                rows.sort(key=lambda r: r.time[0])  # type: ignore[index]
                starts = [r.time[0] for r in rows]  # type: ignore[index]
                max_end, running = [], -(2**63)
                for r in rows:
                    running = max(running, r.time[1])  # type: ignore[index]
                    max_end.append(running)
                self._time_index[key] = (starts, max_end)

    def next_time_boundary(self, key: tuple[str, ...], time: int) -> int | None:
        """The first instant after `time` at which a row of this key starts or ends."""
        index = self._time_index.get(key)
        if index is None:
            return None
        starts, _ = index
        i = bisect_right(starts, time)
        best = starts[i] if i < len(starts) else None
        rows = self.rows_by_key[key]
        j = i - 1
        while j >= 0 and index[1][j] >= time:
            end = rows[j].time[1] + 1  # type: ignore[index]
            if end > time and (best is None or end < best):
                best = end
            j -= 1
        return best

    def find(self, key: tuple[str, ...], age: int, time: int) -> LookupRow | None:
        rows = self.rows_by_key.get(key)
        if not rows:
            return None
        if not self.has_time:
            for row in rows:
                if row.age is None or row.age[0] <= age <= row.age[1]:
                    return row
            return None
        starts, max_end = self._time_index[key]
        i = bisect_right(starts, time) - 1
        while i >= 0 and max_end[i] >= time:
            row = rows[i]
            if row.time[1] >= time and (row.age is None or row.age[0] <= age <= row.age[1]):  # type: ignore[index]
                return row
            i -= 1
        return None


def _date_ms(text: str, end: bool) -> int:
    day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    ms = int(day.timestamp() * 1000)
    return ms + 86_400_000 - 1 if end else ms


def _parse_time(cell: str) -> tuple[int, int]:
    parts = cell.split("-")
    if len(parts) == 2:
        return int(parts[0]), int(parts[1])
    if len(parts) == 6:
        return _date_ms("-".join(parts[:3]), False), _date_ms("-".join(parts[3:]), True)
    raise ValueError(f"time range {cell!r} is neither '<ms>-<ms>' nor 'YYYY-MM-DD-YYYY-MM-DD'")


def _parse_age(cell: str) -> tuple[int, int]:
    low, _, high = cell.partition("-")
    return int(low), int(high)


def parse_lookup_table(name: str, text: str, probability_count: int) -> LookupTable:
    """`probability_count` is the number of options of the state naming the table (§7.5): the
    table's last that many columns hold their probabilities."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        rows = [r for r in reader if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise LookupTableError(f"line {reader.line_num}: {exc}") from None
    if not rows:
        raise LookupTableError("the table is empty")
    header = [h.strip() for h in rows[0]]
    if probability_count <= 0 or probability_count > len(header):
        raise LookupTableError("no probability columns found")
    n_attr = len(header) - probability_count
    attr_header = header[:n_attr]
    prob_header = header[n_attr:]
    age_idx = attr_header.index("age") if "age" in attr_header else None
    time_idx = attr_header.index("time") if "time" in attr_header else None
    key_idx = [i for i, h in enumerate(attr_header) if h not in ("age", "time")]
    by_key: dict[tuple[str, ...], list[LookupRow]] = {}
    for line_no, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise LookupTableError(f"line {line_no} has {len(r)} cells, the header has {len(header)}")
        try:
            age = _parse_age(r[age_idx]) if age_idx is not None else None
            time = _parse_time(r[time_idx]) if time_idx is not None else None
            probs = tuple(float(c) for c in r[n_attr:])
        except ValueError as exc:
            raise LookupTableError(f"line {line_no}: {exc}") from None
        for column, p in zip(prob_header, probs, strict=True):
            if not 0.0 <= p <= 1.0:
                raise LookupTableError(f"line {line_no}: probability {p:g} in column "
                                       f"{column!r} is not between 0 and 1")
        key = tuple(r[i] for i in key_idx)
        by_key.setdefault(key, []).append(LookupRow(key, age, time, probs))
    return LookupTable(
        name=name,
        attribute_columns=[attr_header[i] for i in key_idx],
        has_age=age_idx is not None,
        has_time=time_idx is not None,
        probability_columns=prob_header,
        rows_by_key=by_key,
    )


def load_lookup_table(path: Path, probability_count: int) -> LookupTable:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LookupTableError(f"cannot read: {exc}") from None
    return parse_lookup_table(path.name, text, probability_count)
