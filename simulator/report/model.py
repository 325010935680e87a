"""What a report is made of: figures (a simulated number, beside its published reference and
band when there is one), charts, tables and the things it could not compute. Sections build
these; ``charts.py`` draws them, ``page.py`` writes them as HTML and ``report.json``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.report.stats import Result

# A figure's verdict: in its band, out of it, shown for information (no published figure,
# or no band), or not computable on this run
IN, OUT, INFO, NOT_COMPUTABLE = "in band", "out of band", "no band", "not computable"


@dataclass
class Figure:
    """One number of the report and how it compares with the published one."""

    label: str
    value: float | None
    low: float | None = None  # 95% interval
    high: float | None = None
    n: int | None = None  # people (shares), events (rates), rows (counts)
    reference: float | None = None
    band: str | None = None  # how close to the reference counts as in band
    band_low: float | None = None  # the values in band, where a band is a range of values
    band_high: float | None = None
    status: str = INFO
    source: str | None = None  # of the reference
    why: str | None = None  # why it is not computable, or what to bear in mind
    unit: str = ""

    @classmethod
    def of(cls, label: str, result: Result, reference: float | None = None,
           in_band: bool | None = None, **extra: Any) -> Figure:
        """A measured result; ``in_band`` None means there is no band to judge it by;
        ``why`` says why, should the result be unmeasured."""
        why = extra.pop("why", None) or "nobody to measure"
        if not result.measured:
            return cls(label, None, status=NOT_COMPUTABLE, reference=reference, why=why,
                       **extra)
        status = INFO if in_band is None else (IN if in_band else OUT)
        return cls(label, result.value, _finite(result.low), _finite(result.high), result.n,
                   reference, status=status, **extra)

    @classmethod
    def missing(cls, label: str, why: str, **extra: Any) -> Figure:
        return cls(label, None, status=NOT_COMPUTABLE, why=why, **extra)

    def json(self) -> dict[str, Any]:
        return {k: _clean(v) for k, v in self.__dict__.items() if v is not None}


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    return value


@dataclass
class Chart:
    """A chart: ``draw(figure)`` fills a matplotlib figure of ``size`` inches."""

    id: str
    title: str
    caption: str  # what is shown, and the source of every reference drawn
    draw: Callable[[Any], None]
    size: tuple[float, float] = (8.0, 4.0)


@dataclass
class Table:
    """A table of the page; ``statuses`` colours each row (one of the verdicts, or "")."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    statuses: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class Section:
    key: str
    title: str
    intro: str
    blocks: list[Chart | Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # every figure, for report.json
    not_computed: list[str] = field(default_factory=list)  # said plainly on the page

    def figures(self) -> list[Figure]:
        """Every Figure held in ``data`` (a summary of verdicts counts them)."""
        found: list[Figure] = []

        def walk(value: Any) -> None:
            if isinstance(value, Figure):
                found.append(value)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(self.data)
        return found


def to_json(value: Any) -> Any:
    """``data`` with its Figures as plain objects, NaN as null."""
    if isinstance(value, Figure):
        return value.json()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return _clean(value)
