"""`simulate modules …`: the module author's commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("modules")
def modules_command() -> None:
    """Check, draw, try out and start disease modules (GMF JSON)."""


@modules_command.command("graph")
@click.argument("module")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write: .svg or .png (rendered with Graphviz) or .dot (the DOT text).")
@click.option("--modules-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to look MODULE up in by key or name (default: the project's modules/).")
def graph_command(module: str, output: Path, modules_dir: Path | None) -> None:
    """Draw MODULE's state machine: a .json file, or a module's key or name (e.g. diabetes)."""
    from simulator.authoring import graph
    from simulator.errors import UserError

    try:
        drawn = graph.draw(module, output, modules_dir)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{drawn.key}: {len(drawn.states)} states drawn to {output}")


@modules_command.command("run")
@click.argument("module")
@click.option("-p", "--population", default="100", show_default=True, metavar="N",
              help="People to simulate.")
@click.option("-s", "--seed", default="0", show_default=True, metavar="N", help="Random seed.")
@click.option("-a", "--age", default=None, metavar="MIN-MAX",
              help="Ages at the reference date in years, e.g. 40-70 (this picks birth dates).")
@click.option("-g", "--gender", default=None, metavar="M|F", help="Only people of this sex.")
@click.option("--reference-date", default=None, metavar="DATE",
              help="Simulate up to this date, YYYY-MM-DD (default today).")
@click.option("--lifecycle/--no-lifecycle", default=True, show_default=True,
              help="Run the built-in lifecycle around the module (wellness visits, vital signs, "
                   "vaccinations, natural death); without it the module runs on its own, faster.")
@click.option("--modules-dir", default=None, metavar="DIR",
              help="Folder MODULE is looked up in by key or name (default: the project's modules/).")
@click.option("--format", "output_format", default="text", show_default=True, metavar="text|json",
              help="text (tables) or json.")
def run_command(module: str, population: str, seed: str, age: str | None, gender: str | None,
                reference_date: str | None, lifecycle: bool, modules_dir: str | None,
                output_format: str) -> None:
    """Run MODULE on a population and tabulate what each of its states did: people who entered
    it, entries, time spent in it; then the conditions, medications, procedures and encounters
    it recorded, and deaths. MODULE is a .json file or a module key/name (e.g. gout).

    Each person is simulated once, from birth to the reference date: people who die on the
    way are counted, not replaced by living ones as `simulate` does."""
    from simulator.authoring import trial
    from simulator.errors import UserError

    try:
        trial.run_from_command_line(module, {
            "population": population, "seed": seed, "age": age, "gender": gender,
            "reference_date": reference_date, "lifecycle": lifecycle, "modules_dir": modules_dir,
            "output_format": output_format,
        })
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
