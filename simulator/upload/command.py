"""Command-line options shared by `simulate upload DIR` and `simulate --upload URL`."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from simulator.errors import UserError
from simulator.upload.payload import BUNDLE_TYPES

if TYPE_CHECKING:
    from simulator.upload.client import UploadOptions
    from simulator.upload.report import UploadStats
    from simulator.upload.runner import Upload

STATE_FILE = "upload-state.jsonl"

_UPLOAD_REPORT = click.option("--report", "report_path", type=click.Path(dir_okay=False),
                              default=None,
                              help="Upload: also write the final report as JSON to this file.")
_OPTIONS = [
    click.option("--concurrency", type=int, default=None,
                 help="Upload: requests in flight at once (default 8)."),
    click.option("--rate", type=float, default=None,
                 help="Upload: at most this many requests per second (default: no limit)."),
    click.option("--duration", type=float, default=None,
                 help="Upload: start no request after this many seconds (a timed load test)."),
    click.option("--max-requests", type=int, default=None,
                 help="Upload: start no request after this many (retries count)."),
    click.option("--bundle-type", type=click.Choice(BUNDLE_TYPES), default=None,
                 help="Upload: send resources in transaction (default) or batch bundles."),
    click.option("--bundle-size", type=int, default=None,
                 help="Upload: resources per bundle (default 50)."),
    click.option("--timeout", "request_timeout", type=float, default=None,
                 help="Upload: seconds to wait for each reply (default 60)."),
    click.option("--max-retries", type=int, default=None,
                 help="Upload: retries of a request after 408/429/5xx, timeouts and dropped "
                      "connections (default 8)."),
    click.option("--token-env", type=str, default=None,
                 help="Upload: name of the environment variable holding a bearer token."),
    click.option("--auth-header-env", type=str, default=None,
                 help="Upload: name of the environment variable holding a whole Authorization "
                      "header value (e.g. 'Basic …')."),
    click.option("--insecure", is_flag=True, default=False,
                 help="Upload: do not check the server's TLS certificate."),
    click.option("--ca-bundle", type=click.Path(dir_okay=False), default=None,
                 help="Upload: check the server's TLS certificate against this CA file."),
    click.option("--upload-state", type=click.Path(dir_okay=False), default=None,
                 help="Upload: state file; an interrupted upload started again with it goes on "
                      "where it stopped."),
    click.option("--restart", is_flag=True, default=False,
                 help="Upload: ignore the state file and send everything again."),
    _UPLOAD_REPORT,
    click.option("--dry-run", is_flag=True, default=False,
                 help="Upload: build every request but send none."),
]

UPLOAD_PARAMS = ("concurrency", "rate", "duration", "max_requests", "bundle_type", "bundle_size",
                 "request_timeout", "max_retries", "token_env", "auth_header_env", "insecure",
                 "ca_bundle", "upload_state", "restart", "report_path", "dry_run")


def upload_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


# `simulate ... --report [FILE]`: one option, two reports. With --upload it is the upload's
# JSON report (a FILE is needed); without, the population report at the end of the run
# (simulator/report), to OUTPUT/report.html or FILE. Click gives "" for the bare flag.
RUN_REPORT_OPTION = click.option(
    "--report", "report_path", type=str, is_flag=False, flag_value="", default=None,
    metavar="[FILE]",
    help="Write the population report (simulate report) when the run ends: to "
         "OUTPUT/report.html, or to FILE.html. With --upload: the upload's final report as "
         "JSON to FILE.")


def run_upload_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The upload options of `simulate` itself, whose --report also names the population
    report."""
    for option in reversed(_OPTIONS):
        command = (RUN_REPORT_OPTION if option is _UPLOAD_REPORT else option)(command)
    return command


def _positive(value: Any, option: str, integer: bool = True) -> Any:
    if value is None:
        return None
    if value <= 0:
        raise UserError(f"option {option}: must be more than 0, got {value}")
    return int(value) if integer else float(value)


def _secret(var: str, option: str) -> str:
    value = os.environ.get(var)
    if not value:
        raise UserError(f"option {option}: the environment variable {var} is not set or empty")
    return value


def build_options(url: str, params: dict[str, Any]) -> UploadOptions:
    from simulator.upload.client import UploadOptions

    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise UserError(f"upload URL {url!r}: expected the FHIR base, http(s)://host[:port]/path")
    auth = None
    if params.get("token_env") and params.get("auth_header_env"):
        raise UserError("options --token-env and --auth-header-env: give one or the other")
    if params.get("token_env"):
        auth = "Bearer " + _secret(params["token_env"], "--token-env")
    elif params.get("auth_header_env"):
        auth = _secret(params["auth_header_env"], "--auth-header-env")
    verify: bool | str = True
    if params.get("insecure"):
        if params.get("ca_bundle"):
            raise UserError("options --insecure and --ca-bundle: give one or the other")
        verify = False
    elif params.get("ca_bundle"):
        ca = Path(params["ca_bundle"])
        if not ca.is_file():
            raise UserError(f"option --ca-bundle: {ca} is not a file")
        verify = str(ca)
    max_retries = params.get("max_retries")
    if max_retries is not None and max_retries < 0:
        raise UserError(f"option --max-retries: must be at least 0, got {max_retries}")
    given = {
        "concurrency": _positive(params.get("concurrency"), "--concurrency"),
        "rate": _positive(params.get("rate"), "--rate", integer=False),
        "duration": _positive(params.get("duration"), "--duration", integer=False),
        "max_requests": _positive(params.get("max_requests"), "--max-requests"),
        "bundle_type": params.get("bundle_type"),
        "bundle_size": _positive(params.get("bundle_size"), "--bundle-size"),
        "timeout": _positive(params.get("request_timeout"), "--timeout", integer=False),
        "max_retries": max_retries,
    }
    return UploadOptions(url=url, auth=auth, verify=verify, dry_run=bool(params.get("dry_run")),
                         **{k: v for k, v in given.items() if v is not None})


def progress_bar(total: int | None, label: str) -> Any:
    """A rich progress bar on a terminal, else None."""
    if not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    TextColumn("{task.fields[detail]}"), transient=True)


def finish_report(stats: UploadStats, options: UploadOptions, report_path: str | None,
                  interrupted: bool = False, resume_hint: str = "") -> int:
    """Prints the report (and writes the JSON one); returns the exit code."""
    import orjson

    from simulator.upload.client import describe_options

    if interrupted and not stats.stopped:
        stats.stopped = "interrupted (Ctrl-C)"
    click.echo(stats.text())
    if report_path:
        data = stats.to_json()
        data["options"] = describe_options(options)
        Path(report_path).write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        click.echo(f"report written to {report_path}")
    if interrupted:
        click.echo(f"interrupted: {resume_hint}", err=True)
        return 130
    return 1 if stats.failure_count else 0


@click.command("upload")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--url", required=True, help="FHIR base URL of the server, e.g. http://localhost:8080/fhir.")
@click.option("--source", "prefer", type=click.Choice(["bundles", "ndjson"]), default=None,
              help="When SOURCE holds both: upload the bundles (default) or the NDJSON files.")
@upload_options
def upload_command(source: Path, url: str, prefer: str | None, **params: Any) -> None:
    """Upload what a run wrote (FHIR bundles, or NDJSON resources) to a FHIR server.

    Every resource is sent as PUT <Type>/<id> (in transaction or batch bundles, or one by one
    for NDJSON), so retries and repeated uploads never duplicate data."""
    from simulator.upload.journal import Journal
    from simulator.upload.payload import PayloadError
    from simulator.upload.runner import Upload, file_units, plan_folder

    try:
        options = build_options(url, params)
        plan = plan_folder(source, prefer)
        state = Path(params["upload_state"]) if params.get("upload_state") else (
            (source if source.is_dir() else source.parent) / STATE_FILE)
        journal = Journal(None if options.dry_run else state, options.url, plan.identity,
                          restart=bool(params.get("restart")))
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if journal.resumed:
        click.echo(f"resuming: {len(journal.done)} units already uploaded (state file {state}; "
                   "--restart sends everything again)")
    upload = Upload(options, journal)
    hint = f"run the same command again to go on from {state}"
    try:
        run_upload(upload, file_units(plan, options.url), plan.total_units,
                   f"uploading {plan.kind}")
    except PayloadError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo(upload.stats.text(), err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(finish_report(upload.stats, options, params.get("report_path"), True, hint))
    sys.exit(finish_report(upload.stats, options, params.get("report_path")))


def run_upload(upload: Upload, source: Any, total: int, label: str) -> None:
    """Runs the upload to the end, with a progress bar on a terminal."""
    bar = progress_bar(total, label)
    if bar is None:
        asyncio.run(upload.run(source))
        return
    with bar:
        task = bar.add_task(label, total=total, detail="")

        def advance(n: int) -> None:
            s = upload.stats
            bar.update(task, advance=n, detail=f"{s.requests} requests, {s.retries} retries, "
                                               f"{s.failure_count} failures")

        upload.progress = advance
        asyncio.run(upload.run(source))


def stream_upload(make_config: Callable[[], Any], url: str, params: dict[str, Any]) -> int:
    """`simulate --upload URL`: simulate and send; returns the exit code."""
    from simulator.upload.journal import Journal
    from simulator.upload.runner import Upload
    from simulator.upload.stream import (
        StreamSummary,
        check_config,
        simulated_units,
        source_identity,
    )

    try:
        config = make_config()
        check_config(config)
        options = build_options(url, params)
        state = Path(params["upload_state"]) if params.get("upload_state") else None
        journal = Journal(None if options.dry_run else state, options.url, source_identity(config),
                          restart=bool(params.get("restart")))
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    if journal.resumed:
        click.echo(f"resuming: {len(journal.done)} people already uploaded (state file {state}; "
                   "--restart sends everything again)")
    summary = StreamSummary()
    already = len(journal.done)
    upload = Upload(options, journal)
    hint = (f"start the same command again to go on from {state}" if state is not None else
            "give --upload-state FILE to make an upload resumable")
    try:
        run_upload(upload, simulated_units(config, options.url, journal.done, summary,
                                           journal.notes),
                   config.population + 1, "simulating and uploading")
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return finish_report(upload.stats, options, params.get("report_path"), True, hint)
    upload.stats.units_skipped = already
    before = f" ({summary.skipped} more were uploaded before)" if summary.skipped else ""
    click.echo(f"{summary.people} people simulated{before} ({summary.alive} alive, plus "
               f"{summary.dead} deceased records) in {upload.stats.seconds:.1f} s, "
               f"{summary.cpu_seconds / max(summary.people, 1):.3f} CPU-s/person in the workers")
    return finish_report(upload.stats, options, params.get("report_path"))
