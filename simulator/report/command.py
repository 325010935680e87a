"""`simulate report OUTPUT [-o PAGE]`: the population report of a finished run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from simulator.errors import UserError, internal_error

if TYPE_CHECKING:
    from simulator.report.page import ReportSummary


def report_line(s: ReportSummary) -> str:
    return (f"report written to {s.page} ({s.charts} charts; PNGs and report.json in "
            f"{s.assets}/): {s.in_band} figures in band, {s.out_of_band} out of band, "
            f"{s.not_computable} not computable, {s.record_problems:,} record problems; "
            f"{s.seconds:.1f} s")


@click.command("report")
@click.argument("output", type=click.Path(path_type=Path))
@click.option("-o", "--output-page", "page", type=click.Path(path_type=Path), default=None,
              help="HTML page to write (default OUTPUT/report.html); the charts (PNG) and "
                   "report.json go to a folder of the same name beside it.")
@click.option("--memory-limit", "memory", type=str, default=None,
              help="Memory DuckDB may hold while it reads the tables, e.g. 512MB (default "
                   "1GB); it spills to a temporary folder beyond it.")
def report_command(output: Path, page: Path | None, memory: str | None) -> None:
    """Write the population report of the finished run in OUTPUT: who was simulated, their
    health, care and cost against published figures, and checks of the records, as one
    self-contained HTML page, a PNG of every chart and report.json."""
    from simulator.report.page import write_report
    from simulator.report.tables import MEMORY_LIMIT, memory_limit

    try:
        summary = write_report(output, page,
                               memory_limit(memory) if memory is not None else MEMORY_LIMIT)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one paragraph for the user, the traceback in a file
        click.echo(f"error: {internal_error(exc, output if output.is_dir() else None)}",
                   err=True)
        sys.exit(1)
    click.echo(report_line(summary))
