"""``simulate report``: a finished run's report, written as one self-contained HTML page, a PNG
of every chart and ``report.json`` with every figure.

The page is the jinja2 template ``output_templates/report/report.html.j2`` with each chart a
``data:`` URI, its style inline and a Content-Security-Policy that allows nothing else, so
opening it asks no server for anything. The PNGs and ``report.json`` go to a folder named
after the page beside it (``OUTPUT/report.html`` → ``OUTPUT/report/``). The same run gives
the same bytes: nothing of the moment the report is made is written, charts carry no
timestamps, and JSON keys are sorted.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from simulator.errors import UserError
from simulator.report.charts import DPI, render
from simulator.report.context import Context
from simulator.report.model import IN, INFO, NOT_COMPUTABLE, OUT, Chart, Section, to_json
from simulator.report.tables import MEMORY_LIMIT, RunFolder

REPORT_VERSION = 1
PAGE_NAME = "report.html"
JSON_NAME = "report.json"


@dataclass
class ReportSummary:
    page: Path
    assets: Path
    charts: int
    in_band: int
    out_of_band: int
    not_computable: int
    record_problems: int
    seconds: float


def default_page(run_folder: Path) -> Path:
    return run_folder / PAGE_NAME


def assets_folder(page: Path) -> Path:
    """Where the PNGs and report.json go: a folder named after the page, beside it."""
    return page.with_suffix("")


def check_page_path(page: Path) -> None:
    """Refuses, before any work, a page path that cannot be written."""
    if page.is_dir():
        raise UserError(f"option -o: {page} is a folder; give the HTML file to write "
                        f"(e.g. {page / PAGE_NAME})")
    if page.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"option -o: {page}: the report is an HTML page, give a name ending "
                        "in .html")
    assets = assets_folder(page)
    if assets.exists() and not assets.is_dir():
        raise UserError(f"option -o: {assets} is a file; the charts and {JSON_NAME} go to a "
                        "folder of that name beside the page")


def write_report(run_folder: Path, page: Path | None = None,
                 memory: str = MEMORY_LIMIT) -> ReportSummary:
    """Reads the run in ``run_folder`` and writes its report, DuckDB held to ``memory``;
    raises UserError for a folder that is not a finished run or a page that cannot be
    written."""
    began = time.perf_counter()
    page = page or default_page(run_folder)
    check_page_path(page)
    run = RunFolder(run_folder, memory)
    try:
        sections = build_sections(Context.of(run))
    finally:
        run.close()
    charts = [(section, block) for section in sections for block in section.blocks
              if isinstance(block, Chart)]
    ids = [chart.id for _, chart in charts]
    if len(set(ids)) != len(ids):  # each names a PNG file: two would overwrite one another
        raise ValueError(f"report: chart ids repeat: {sorted(i for i in ids if ids.count(i) > 1)}")
    pngs = {chart.id: render(chart) for _, chart in charts}
    summary = _verdicts(sections)
    assets = assets_folder(page)
    document = {
        "report_version": REPORT_VERSION,
        "run": str(run.folder),
        "summary": summary,
        "sections": {s.key: {"title": s.title, "figures": to_json(s.data),
                             "not_computed": s.not_computed} for s in sections},
        "charts": [{"id": c.id, "section": s.key, "title": c.title, "caption": c.caption,
                    "file": f"{assets.name}/{c.id}.png"} for s, c in charts],
    }
    html = _page(run, sections, pngs, summary, assets)
    try:
        _write(page, assets, pngs, document, html)
    except OSError as exc:
        raise UserError(f"cannot write the report to {page}: {exc.strerror or exc}"
                        f"{f' ({exc.filename})' if exc.filename else ''}") from None
    return ReportSummary(page, assets, len(charts), summary["in_band"], summary["out_of_band"],
                         summary["not_computable"], summary["record_problems"],
                         time.perf_counter() - began)


def build_sections(ctx: Context) -> list[Section]:
    from simulator.report.sections import care, checks, health, run_info, who

    found, rows_of = checks.run_checks(ctx)
    return [run_info.build(ctx, rows_of), who.build(ctx), health.build(ctx), care.build(ctx),
            checks.build(ctx, found)]


def _verdicts(sections: list[Section]) -> dict[str, int]:
    counted = Counter(f.status for s in sections for f in s.figures())
    problems = sum(s.data.get("problems", 0) for s in sections if s.key == "checks")
    return {"in_band": counted[IN], "out_of_band": counted[OUT], "no_band": counted[INFO],
            "not_computable": counted[NOT_COMPUTABLE], "record_problems": problems}


def _template() -> jinja2.Template:
    try:
        folder = Path(str(resources.files("output_templates") / "report"))
    except ModuleNotFoundError:  # an editable install that maps only `simulator`
        folder = Path(__file__).resolve().parents[2] / "output_templates" / "report"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined, auto_reload=False)
    return env.get_template("report.html.j2")


def _page(run: RunFolder, sections: list[Section], pngs: dict[str, bytes],
          summary: dict[str, int], assets: Path) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        simulator_version = version("simulator")
    except PackageNotFoundError:
        simulator_version = "unknown"
    views = []
    for section in sections:
        blocks: list[dict[str, Any]] = []
        for block in section.blocks:
            if isinstance(block, Chart):
                blocks.append({"kind": "chart", "id": block.id, "title": block.title,
                               "caption": block.caption,
                               "png": base64.b64encode(pngs[block.id]).decode("ascii"),
                               "width": round(block.size[0] * DPI),
                               "height": round(block.size[1] * DPI)})
            else:
                classes = [_row_class(s) for s in block.statuses] or [""] * len(block.rows)
                classes += [""] * (len(block.rows) - len(classes))
                blocks.append({"kind": "table", "title": block.title, "columns": block.columns,
                               "rows": block.rows, "classes": classes, "note": block.note})
        views.append({"key": section.key, "title": section.title, "intro": section.intro,
                      "not_computed": section.not_computed, "blocks": blocks})
    return _template().render(
        title=str(run.folder), reference_date=run.reference_date.isoformat(),
        version=simulator_version, summary=summary, sections=views,
        json_name=f"{assets.name}/{JSON_NAME}", assets_name=assets.name)


def _row_class(status: str) -> str:
    return {IN: "in", OUT: "out", NOT_COMPUTABLE: "na"}.get(status, "")


def _write(page: Path, assets: Path, pngs: dict[str, bytes], document: dict[str, Any],
           html: str) -> None:
    page.parent.mkdir(parents=True, exist_ok=True)
    assets.mkdir(exist_ok=True)
    for old in list(assets.glob("*.png")) + [assets / JSON_NAME]:  # an earlier report's
        old.unlink(missing_ok=True)
    for chart_id, png in pngs.items():
        (assets / f"{chart_id}.png").write_bytes(png)
    (assets / JSON_NAME).write_text(
        json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
        + "\n", encoding="utf-8")
    page.write_text(html, encoding="utf-8")
