"""The report's charts, drawn with matplotlib's Agg canvas into PNG bytes.

Every chart puts the simulated value (a bar coloured by its verdict: green in band, red out
of band, grey where there is no band) beside the published reference (a black diamond, its
band a grey span), so the page reads at a glance. Charts are drawn on their own ``Figure``
and canvas, never through pyplot's global state, and saved without the PNG's Software
text, so the same figures give the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import Any

from simulator.report.model import IN, INFO, NOT_COMPUTABLE, OUT, Chart, Figure

COLOURS = {IN: "#2e7d32", OUT: "#c62828", INFO: "#78909c", NOT_COMPUTABLE: "#bdbdbd"}
REFERENCE_COLOUR = "#111111"
BAND_COLOUR = "#d9d9d9"
DPI = 100
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
         "axes.spines.right": False, "svg.hashsalt": "report"}


def render(chart: Chart) -> bytes:
    """The chart as PNG bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    with matplotlib.rc_context(STYLE):
        figure = MplFigure(figsize=chart.size, dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        chart.draw(figure)
        figure.suptitle(chart.title, fontsize=11, fontweight="bold", x=0.01, ha="left")
        buffer = io.BytesIO()
        # no Software text: the bytes then depend on the figures alone
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def short_source(text: str | None) -> str:
    """A source's first clause, for the line under a chart (the page names it in full)."""
    if not text:
        return ""
    first = text.split(";")[0].split(" (http")[0].strip()
    return first if len(first) <= 240 else first[:237] + "..."


def footer(figure: Any, text: str) -> None:
    """A line under the chart naming its reference (a figure's own x label, so the layout
    keeps room for it under the axes')."""
    if text:
        figure.supxlabel(_wrapped(text, 160), fontsize=7, color="#555555", x=0.01, ha="left")


def _wrapped(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _legend(axes: Any, figures: Sequence[Figure], has_reference: bool, has_band: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    used = {f.status for f in figures if f.value is not None}
    names = {IN: "simulated, in band", OUT: "simulated, out of band",
             INFO: "simulated (no band)"}
    handles = [Patch(color=COLOURS[s], label=names[s]) for s in (IN, OUT, INFO) if s in used]
    if has_reference:
        handles.append(Line2D([], [], marker="D", color=REFERENCE_COLOUR, linestyle="",
                              markersize=5, label="published reference"))
    if has_band:
        handles.append(Patch(color=BAND_COLOUR, label="band"))
    # beside the axes, never over a bar
    axes.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                frameon=False)


def compare_bars(figures: Sequence[Figure], xlabel: str, percent: bool = False,
                 note: str = "", zoom: bool = False) -> Callable[[Any], None]:
    """Horizontal bars, one per figure (top to bottom), each with its 95% interval, the
    published reference and its band; ``zoom`` starts the axis near the smallest value
    instead of at 0 (life expectancies differ by a few years out of 80)."""
    def draw(figure: Any) -> None:
        axes = figure.add_subplot()
        scale = 100.0 if percent else 1.0
        rows = list(figures)
        y = list(range(len(rows)))[::-1]
        top = 0.0
        seen = [v * scale for f in rows for v in (f.value, f.low, f.reference, f.band_low)
                if v is not None]
        bottom = max(0.0, math.floor(min(seen) / 5) * 5 - 5) if zoom and seen else 0.0
        for yi, f in zip(y, rows, strict=True):
            if f.band_low is not None and f.band_high is not None:
                axes.barh(yi, (f.band_high - f.band_low) * scale, left=f.band_low * scale,
                          height=0.8, color=BAND_COLOUR, zorder=1)
                top = max(top, f.band_high * scale)
            if f.value is None:
                axes.text(bottom, yi, "  not computable", va="center", fontsize=7,
                          color="#757575")
            else:
                axes.barh(yi, f.value * scale - bottom, left=bottom, height=0.5,
                          color=COLOURS[f.status], zorder=2)
                top = max(top, f.value * scale)
                if f.low is not None and f.high is not None:
                    # max(0, ...): a Wilson bound may pass its share by a rounding error
                    axes.errorbar(f.value * scale, yi,
                                  xerr=[[max(0.0, (f.value - f.low) * scale)],
                                        [max(0.0, (f.high - f.value) * scale)]],
                                  fmt="none", ecolor="#333333", capsize=2, lw=0.8, zorder=3)
                    top = max(top, f.high * scale)
            if f.reference is not None:
                axes.plot(f.reference * scale, yi, marker="D", color=REFERENCE_COLOUR,
                          markersize=5, linestyle="", zorder=4)
                top = max(top, f.reference * scale)
        axes.set_yticks(y, [f.label for f in rows])
        axes.set_xlim(bottom, top * 1.1 if top > 0 else 1)
        axes.set_xlabel(xlabel)
        axes.grid(axis="x", color="#eeeeee", zorder=0)
        _legend(axes, rows, any(f.reference is not None for f in rows),
                any(f.band_low is not None for f in rows))
        footer(figure, note)
    return draw


def pyramid(labels: Sequence[str], male: Sequence[Figure], female: Sequence[Figure],
            note: str = "") -> Callable[[Any], None]:
    """An age-sex pyramid in percent of the population: men left, women right, each band's
    published share a diamond."""
    def draw(figure: Any) -> None:
        axes = figure.add_subplot()
        y = list(range(len(labels)))
        widest = 0.0
        for sign, column in ((-1, male), (1, female)):
            for yi, f in zip(y, column, strict=True):
                if f.value is not None:
                    axes.barh(yi, sign * f.value * 100, height=0.8, color=COLOURS[f.status])
                    widest = max(widest, f.value * 100)
                if f.reference is not None:
                    axes.plot(sign * f.reference * 100, yi, marker="D", color=REFERENCE_COLOUR,
                              markersize=4, linestyle="")
                    widest = max(widest, f.reference * 100)
        limit = math.ceil(widest * 1.15) or 1
        axes.set_xlim(-limit, limit)
        axes.set_yticks(y, list(labels))
        ticks = axes.get_xticks()
        axes.set_xticks(ticks, [f"{abs(t):g}" for t in ticks])
        axes.set_xlim(-limit, limit)
        axes.axvline(0, color="#333333", lw=0.6)
        axes.set_xlabel("% of living people  (men left, women right)")
        _legend(axes, [*male, *female], True, False)
        footer(figure, note)
    return draw


def rate_lines(labels: Sequence[str], series: dict[str, Sequence[float]],
               references: dict[str, Sequence[float]], ylabel: str,
               note: str = "") -> Callable[[Any], None]:
    """Rates by age band on a log scale: simulated (solid, dots) against the reference
    (dashed) of the same colour."""
    def draw(figure: Any) -> None:
        axes = figure.add_subplot()
        x = list(range(len(labels)))
        palette = ["#1565c0", "#ad1457", "#2e7d32", "#ef6c00"]
        for colour, (name, values) in zip(palette, series.items(), strict=False):
            shown = [(xi, v) for xi, v in zip(x, values, strict=True) if v > 0]
            if shown:
                axes.plot(*zip(*shown, strict=True), marker="o", markersize=3, color=colour,
                          label=f"{name}, simulated")
            ref = references.get(name)
            if ref is not None:
                axes.plot(x, ref, linestyle="--", color=colour, lw=1,
                          label=f"{name}, published reference")
        axes.set_yscale("log")
        axes.set_xticks(x, list(labels), rotation=60)
        axes.set_ylabel(ylabel)
        axes.grid(color="#eeeeee")
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        footer(figure, note)
    return draw


def top_bars(labels: Sequence[str], values: Sequence[float], xlabel: str,
             note: str = "") -> Callable[[Any], None]:
    """The most frequent items, largest at the top (no reference: counts of the run)."""
    def draw(figure: Any) -> None:
        axes = figure.add_subplot()
        y = list(range(len(labels)))[::-1]
        axes.barh(y, list(values), color=COLOURS[INFO], height=0.6)
        axes.set_yticks(y, [_shorten(t, 60) for t in labels])
        axes.set_xlabel(xlabel)
        axes.grid(axis="x", color="#eeeeee")
        footer(figure, note)
    return draw


def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float]],
                 references: dict[tuple[str, str], Figure], ylabel: str,
                 note: str = "") -> Callable[[Any], None]:
    """Bars of each series within each group (e.g. age bands within encounter classes), on a
    log scale; a reference given for (group, series) is drawn as a diamond on that bar."""
    def draw(figure: Any) -> None:
        axes = figure.add_subplot()
        names = list(series)
        width = 0.8 / max(len(names), 1)
        palette = ["#90caf9", "#64b5f6", "#1e88e5", "#1565c0", "#0d47a1", "#263238"]
        for j, name in enumerate(names):
            xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(groups))]
            axes.bar(xs, list(series[name]), width=width, color=palette[j % len(palette)],
                     label=name, edgecolor="white", linewidth=0.3)
            for x, group in zip(xs, groups, strict=True):
                f = references.get((group, name))
                if f is not None and f.reference is not None:
                    axes.plot(x, f.reference, marker="D", color=REFERENCE_COLOUR, markersize=5,
                              linestyle="")
        axes.set_xticks(range(len(groups)), list(groups))
        axes.set_yscale("log")
        axes.set_ylabel(ylabel)
        axes.grid(axis="y", color="#eeeeee")
        if references:
            axes.plot([], [], marker="D", color=REFERENCE_COLOUR, linestyle="",
                      label="published reference")
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        footer(figure, note)
    return draw


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
