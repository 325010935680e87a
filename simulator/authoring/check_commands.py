"""`simulate modules check` and `simulate modules new` (registered on the `modules` group)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="text (default) or json (for CI).")
@click.option("--engine", type=click.Choice(["compiled", "reference"]), default="compiled",
              help="The engine the modules will run on (default compiled, as `simulate`): "
                   "what the compiled engine cannot run yet is an error with it.")
def check_command(paths: tuple[Path, ...], fmt: str, engine: str) -> None:
    """Check modules (files or folders) and report every problem at once.

    Exit code 0: clean; 1: warnings only; 2: errors."""
    import orjson

    from simulator.authoring.check import ERROR, check_paths, exit_code
    from simulator.errors import UserError, internal_error

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        click.echo(f"error: no such file or folder: {', '.join(missing)}", err=True)
        sys.exit(2)
    try:
        findings = check_paths(paths, engine)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # a bug: one paragraph, the traceback in a file
        click.echo(f"error: {internal_error(exc, None)}", err=True)
        sys.exit(1)
    errors = sum(f.severity == ERROR for f in findings)
    warnings = len(findings) - errors
    if fmt == "json":
        click.echo(orjson.dumps({"errors": errors, "warnings": warnings,
                                 "findings": [f.to_json() for f in findings]},
                                option=orjson.OPT_INDENT_2).decode())
        sys.exit(exit_code(findings))
    for f in findings:
        colour = "red" if f.severity == ERROR else "yellow"
        click.echo(f"{click.style(f.location(), bold=True)}: "
                   f"{click.style(f.severity, fg=colour, bold=True)}: {f.message}")
        if f.hint:
            click.echo(f"    hint: {f.hint}")
    click.echo(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
               if findings else "no problems found")
    sys.exit(exit_code(findings))


@click.command("new")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: NAME.json in snake_case, in the current folder).")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def new_command(name: str, output: Path | None, force: bool) -> None:
    """Write a small, valid starter module to edit (comments in its remarks)."""
    from simulator.authoring.starter import file_name, starter_module

    path = output or Path(file_name(name))
    if path.exists() and not force:
        click.echo(f"error: {path} exists (--force overwrites it)", err=True)
        sys.exit(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_module(name), encoding="utf-8")
    click.echo(f"wrote {path}: check it with `simulate modules check {path}`, draw it with "
               f"`simulate modules graph {path} -o {path.with_suffix('.svg')}`, try it with "
               f"`simulate modules run {path} -p 200`")
