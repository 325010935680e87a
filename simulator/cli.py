"""Command line: `simulate -p N ...`. Parses options into a RunConfig and calls run()."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from simulator.config import (
    MAX_POPULATION,
    MAX_WORKERS,
    MAX_YEARS_OF_HISTORY,
    SEED_RANGE,
    KeepSpec,
    RunConfig,
    flag,
    load_toml,
    parse_age_range,
    parse_bundle_mode,
    parse_csv_files,
    parse_date,
    parse_engine,
    parse_formats,
    path_text,
    shard_size_for,
    split_patterns,
    text,
    texts,
    whole_number,
)
from simulator.errors import UserError, internal_error
from simulator.upload.command import UPLOAD_PARAMS, run_upload_options


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _build_config(params: dict[str, Any]) -> RunConfig:
    """Every option checked by type and range (a TOML file gives typed values, the command
    line text) before anything is simulated or written."""
    values: dict[str, Any] = {}
    if params.get("config"):
        values.update(load_toml(Path(params["config"])))
    explicit = {k: v for k, v in params.items() if v not in (None, ()) and k != "config"}
    values.update(explicit)
    kwargs: dict[str, Any] = {}
    if "population" in values:
        kwargs["population"] = whole_number(values["population"], "--population", 0,
                                            MAX_POPULATION)
    if "seed" in values:
        kwargs["seed"] = whole_number(values["seed"], "--seed", *SEED_RANGE)
    if "gender" in values:
        g = text(values["gender"], "--gender").upper()
        if g not in ("M", "F"):
            raise UserError(f"option --gender: expected M or F, got {values['gender']!r}")
        kwargs["gender"] = g
    if "age" in values:
        kwargs["min_age"], kwargs["max_age"] = parse_age_range(text(values["age"], "--age"))
    for key in ("state", "city"):
        if key in values:
            kwargs[key] = text(values[key], f"--{key}")
    if "module" in values or "modules" in values:
        kwargs["modules"] = split_patterns(texts(values.get("module", values.get("modules")),
                                                 "--module"))
    if "modules_dir" in values:
        path = path_text(values["modules_dir"], "--modules-dir")
        if not path.is_dir():
            raise UserError(f"option --modules-dir: {str(path)!r} is not a folder")
        kwargs["modules_dir"] = path
    if "output" in values:
        kwargs["output"] = path_text(values["output"], "--output")
    if "format" in values or "formats" in values:
        kwargs["formats"] = parse_formats(texts(values.get("format", values.get("formats")),
                                                "--format"))
    if "fhir_bundle" in values:
        kwargs["fhir_bundle"] = parse_bundle_mode(text(values["fhir_bundle"], "--fhir-bundle"))
    if "validate" in values:
        kwargs["validate"] = flag(values["validate"], "--validate")
    if "engine" in values:
        kwargs["engine"] = parse_engine(text(values["engine"], "--engine"))
    if "reference_date" in values:
        kwargs["reference_date"] = parse_date(text(values["reference_date"],
                                                   "--reference-date"))
    if "workers" in values:
        kwargs["workers"] = whole_number(values["workers"], "--workers", 1, MAX_WORKERS)
    if "shard_size" in values:
        kwargs["shard_size"] = whole_number(values["shard_size"], "--shard-size", 1, 100_000)
    if "keep" in values or "keep_condition" in values:
        module = path_text(values["keep"], "--keep") if "keep" in values else None
        condition = values.get("keep_condition")
        kwargs["keep"] = KeepSpec(module, text(condition, "--keep-condition")
                                  if condition is not None else None)
    if "cluster" in values:
        kwargs["cluster"] = text(values["cluster"], "--cluster")
    if "csv_files" in values or "csv_exclude" in values:
        kwargs["csv_files"] = parse_csv_files(
            texts(values["csv_files"], "--csv-files") if "csv_files" in values else None,
            texts(values["csv_exclude"], "--csv-exclude") if "csv_exclude" in values else None)
        if not {"csv", "parquet"} & set(kwargs.get("formats", RunConfig.formats)):
            raise UserError("options --csv-files/--csv-exclude: the run writes no tables "
                            "(add csv or parquet to --format)")
    if "natural_death" in values:
        kwargs["natural_death"] = flag(values["natural_death"], "--natural-death")
    if "years_of_history" in values:
        kwargs["years_of_history"] = whole_number(values["years_of_history"],
                                                  "--years-of-history", 0, MAX_YEARS_OF_HISTORY)
    if "shard_size" not in kwargs:
        kwargs["shard_size"] = shard_size_for(kwargs.get("population", RunConfig.population))
    return RunConfig(**kwargs)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "--population", type=str, help="Number of people to simulate.")
@click.option("-s", "--seed", type=str, help="Random seed; same seed and options give identical output.")
@click.option("-g", "--gender", type=str, help="Only people of this sex: M or F.")
@click.option("-a", "--age", type=str, help="Age range in years, e.g. 30-40.")
@click.option("--state", type=str, help="US state (name or abbreviation). Default Massachusetts.")
@click.option("--city", type=str, help="City within the state.")
@click.option("-m", "--module", multiple=True, help="Run only modules matching this glob (repeatable, or a:b).")
@click.option("--modules-dir", type=str, help="Folder of GMF modules (default: the project's modules/).")
@click.option("-o", "--output", type=str, help="Output folder (default ./output).")
@click.option("--format", "format", type=str,
              help="Output formats, comma-separated: fhir, csv, ndjson, ccda, parquet (default fhir,csv).")
@click.option("--csv-files", type=str,
              help="Only these tables, CSV and Parquet, comma-separated (e.g. patients,encounters,conditions).")
@click.option("--csv-exclude", type=str,
              help="All tables, CSV and Parquet, but these, comma-separated (e.g. claims_transactions).")
@click.option("--fhir-bundle", type=str,
              help="FHIR bundle type: transaction (default; loads into a server in one POST), "
                   "batch (idempotent PUTs) or collection.")
@click.option("--engine", type=str,
              help="compiled (default): the numba engine; reference: the SimPy engine, slower, "
                   "the same output (byte-identical CSV). The compiled engine refuses before "
                   "writing anything, naming module, state and feature, what it cannot run yet "
                   "(series data, text compared with < or >): run those with --engine reference.")
@click.option("--validate/--no-validate", default=None,
              help="Check every FHIR resource against the FHIR R4 schema and US Core (slow).")
@click.option("--reference-date", type=str, help="Simulate up to this date, YYYY-MM-DD (default today).")
@click.option("-w", "--workers", type=str, help="Worker processes (default: all cores).")
@click.option("--years-of-history", type=str,
              help="Years of each record exported, Synthea's rules for older history "
                   "(default 10, as Synthea; 0 = whole lives).")
@click.option("--natural-death/--no-natural-death", default=None,
              help="Deaths from natural causes at life-table ages (default on).")
@click.option("-k", "--keep", type=str,
              help="Keep module (GMF JSON): write only people whose walk through it ends on the "
                   "state named Keep; -p then counts kept people.")
@click.option("--keep-condition", type=str,
              help="Write only people with this condition: a code, or words of its name "
                   "(e.g. diabetes); -p then counts kept people.")
@click.option("--cluster", type=str,
              help="Dask scheduler address (tcp://host:8786): run the shards on a Dask cluster; "
                   "-o must be a folder every worker can reach.")
@click.option("--resume", is_flag=True, default=False,
              help="Finish the interrupted run in the -o folder, with its own options.")
@click.option("--overwrite", is_flag=True, default=False,
              help="Replace the earlier run in the -o folder (deletes only the files a run "
                   "writes there).")
@click.option("--upload", "upload_url", type=str,
              help="FHIR base URL: stream the people straight to this server (--format fhir, "
                   "nothing written to disk); see the Upload options.")
@run_upload_options
@click.option("--shard-size", type=str, hidden=True)
@click.option("--config", type=click.Path(dir_okay=False), help="TOML file with any of these options.")
@click.pass_context
def main(ctx: click.Context, **params: Any) -> None:
    """Simulate synthetic patients with Synthea-format disease modules and write their records."""
    if ctx.invoked_subcommand is not None:
        return
    resume = bool(params.pop("resume", False))
    overwrite = bool(params.pop("overwrite", False))
    upload_url = params.pop("upload_url", None)
    upload_params = {k: params.pop(k) for k in UPLOAD_PARAMS}
    report: str | None = None
    if upload_url is None:  # --report is then the population report's
        report = upload_params.pop("report_path")
    elif upload_params["report_path"] == "":
        _fail("option --report: with --upload, give the file to write the upload's JSON "
              "report to (--report FILE)")
    if upload_url is not None:
        if resume:
            _fail("option --upload: an interrupted upload goes on when started again with the "
                  "same --upload-state; --resume is for runs that write to disk")
        if params.get("format") is None:
            params["format"] = "fhir"
        from simulator.upload.command import stream_upload

        sys.exit(stream_upload(lambda: _build_config(params), upload_url, upload_params))
    if any(v not in (None, False) for v in upload_params.values()):
        given = [k for k, v in upload_params.items() if v not in (None, False)]
        _fail(f"upload options ({', '.join(given)}) need --upload URL")
    if resume and overwrite:
        _fail("options --resume and --overwrite: give one (--resume finishes the earlier run, "
              "--overwrite replaces it)")
    config: RunConfig | None = None
    try:
        config = _resume_config(params) if resume else _build_config(params)
        page = _report_page(config, report)
        summary = _run_with_progress(config, resume, overwrite)
    except UserError as exc:
        _fail(str(exc), exc.exit_code)
        return
    except KeyboardInterrupt:
        out = config.output if config is not None else "OUTPUT"
        click.echo("interrupted: every finished shard is written and recorded in "
                   f"{out}/run.json; finish the run with: simulate --resume -o {out}", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one paragraph for the user, the traceback in a file
        _fail(internal_error(exc, config.output if config is not None else None), 1)
    _print_summary(config, summary)
    if page is not None:
        _write_report(config, page)
    if summary.problem_count:
        sys.exit(1)


def _report_page(config: RunConfig, report: str | None) -> Path | None:
    """The page ``--report [FILE]`` asks for, checked before the run: the report reads the
    run's tables, so a run must write some."""
    if report is None:
        return None
    from simulator.report.page import check_page_path, default_page

    if not {"csv", "parquet"} & set(config.formats):
        raise UserError("option --report: the report reads the run's tables, and this run "
                        "writes none (add csv or parquet to --format)")
    page = Path(report) if report else default_page(config.output)
    check_page_path(page)
    return page


def _write_report(config: RunConfig, page: Path) -> None:
    from simulator.report.command import report_line
    from simulator.report.page import write_report

    try:
        click.echo(report_line(write_report(config.output, page)))
    except UserError as exc:
        _fail(str(exc), exc.exit_code)
    except Exception as exc:  # a bug: one paragraph for the user, the traceback in a file
        _fail(internal_error(exc, config.output), 1)


def _resume_config(params: dict[str, Any]) -> RunConfig:
    """The interrupted run's own options; options given with --resume must agree with them."""
    from simulator.runstate import RunRecord

    if params.get("config"):
        raise UserError("option --config: --resume takes the run's options from its run.json")
    output = Path(params["output"]) if params.get("output") else RunConfig().output
    record = RunRecord.load(output)
    given = {k: v for k, v in params.items() if v not in (None, ()) and k != "config"}
    overrides = _build_config(given).__dict__ if given else {}
    chosen = {k: overrides[k] for k in overrides if k in _given_fields(given)}
    chosen["output"] = output
    return record.config(chosen)


def _given_fields(given: dict[str, Any]) -> set[str]:
    """RunConfig fields named by the options the user gave."""
    aliases = {"age": ("min_age", "max_age"), "module": ("modules",), "format": ("formats",),
               "keep_condition": ("keep",), "csv_exclude": ("csv_files",)}
    out: set[str] = set()
    for key in given:
        out.update(aliases.get(key, (key,)))
    return out


def _run_with_progress(config: RunConfig, resume: bool = False, overwrite: bool = False) -> Any:
    from simulator.run import run

    if not sys.stderr.isatty() or os.environ.get("CI"):  # no progress shown, nor notices
        return run(config, resume=resume, overwrite=overwrite)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("simulating" if not config.keep else "kept"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("people", total=config.population)
        return run(config, progress=lambda n: bar.advance(task, n), resume=resume,
                   overwrite=overwrite, notice=bar.console.print)


def _print_summary(config: RunConfig, summary: Any) -> None:
    if summary.already_complete:
        click.echo(f"the run in {config.output} is already complete: {summary.alive} people, "
                   f"{summary.records_written} records written")
        return
    if summary.resumed_shards:
        click.echo(f"resumed: {summary.resumed_shards} shards were already written")
    if config.keep:
        click.echo(
            f"{summary.alive} people kept ({summary.keep}), plus {summary.dead} deceased records "
            f"it keeps, out of {summary.people} people simulated: "
            f"{summary.people / max(summary.alive, 1):.1f} people simulated per kept person"
        )
        who = ""
    else:
        who = (f" ({summary.alive} alive, plus {summary.dead} deceased records of people who "
               "died before the reference date)")
    click.echo(
        f"{summary.people} people simulated{who} with {summary.modules} modules in "
        f"{summary.seconds:.1f} s ({summary.people_per_second:.1f} people/s, "
        f"{summary.cpu_seconds_per_person:.3f} CPU-s/person)"
    )
    click.echo(f"{summary.records_written} records written to {config.output}/ ({', '.join(config.formats)})")
    if summary.state_counts:
        total = sum(summary.state_counts.values())
        click.echo(f"state entries: {total} ({total / max(summary.seconds, 1e-9):,.0f}/s)")
        parts = [f"{k} {v}" for k, v in sorted(summary.state_counts.items(), key=lambda kv: -kv[1])]
        click.echo("  " + ", ".join(parts))
    if config.validate:
        if summary.problem_count:
            click.echo(f"FHIR validation: {summary.problem_count} problem(s); the first:", err=True)
            for message in summary.problems[:20]:
                click.echo(f"  {message}", err=True)
        else:
            click.echo("FHIR validation: every resource valid (FHIR R4 schema, R4B models, US Core)")


def _register_subcommands() -> None:
    from simulator.authoring.check_commands import check_command, new_command
    from simulator.authoring.command import modules_command
    from simulator.report.command import report_command
    from simulator.upload.command import upload_command

    main.add_command(upload_command)
    main.add_command(report_command)
    modules_command.add_command(check_command)
    modules_command.add_command(new_command)
    main.add_command(modules_command)


_register_subcommands()
