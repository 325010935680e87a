"""A run: shards of person indices → workers → part folders → merged in shard order.

Each shard is simulated and exported by a worker into its own part folder
(:mod:`simulator.shard`); the parent merges part folders strictly in shard order and records
its progress in ``run.json`` after each merge (:mod:`simulator.runstate`). Every person draws
from generators seeded by (seed, index), so the files are byte-identical whatever the number of
workers, where they run or whether the run was interrupted and resumed.

With a keep rule (``-k``/``--keep-condition``) the number of shards is open-ended: shards are
simulated until the merged ones hold the requested number of kept people, and the last one is
simulated again with a limit so that exactly that many are written.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simulator.cohort import check_producible
from simulator.config import RunConfig
from simulator.engine.program import Program
from simulator.errors import RunFailed, UserError
from simulator.executors import Executor, executor_for
from simulator.export.csv import run_level_lines
from simulator.export.pipeline import FOLDERS, MAX_PROBLEMS, TABLE_FOLDERS, WRITTEN, RunOutput
from simulator.payers import payer_rows
from simulator.population.people import Population
from simulator.providers.csv_rows import organization_rows, provider_rows
from simulator.runstate import RunRecord
from simulator.shard import META, PARTS, ShardResult, ShardTask, Utilization, parts_dir
from simulator.worker import (
    Worker,
    keep_rule,
    load_program,
    population,
    population_options,
    preload,
    world,
)

# With a keep rule, give up once this many people were simulated if fewer than one in
# KEEP_MIN_RATE of them was kept: Synthea gives up on a person after 1,000 tries too, and the
# run would otherwise go on for hours (a condition no one the modules make has is refused
# before simulating, see cohort.check_producible).
KEEP_MIN_SAMPLE = 1_000
KEEP_MIN_RATE = 1_000


@dataclass
class RunSummary:
    people: int = 0  # people (population indices) simulated
    alive: int = 0  # living people written (the kept ones, with a keep rule)
    dead: int = 0  # deceased records written
    simulated: int = 0  # simulations, retries after death included
    records_written: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    state_counts: Counter[str] = field(default_factory=Counter)
    phase_seconds: Counter[str] = field(default_factory=Counter)  # ShardResult.phase_seconds
    output: Path | None = None
    modules: int = 0
    problem_count: int = 0  # FHIR validation messages (--validate)
    problems: list[str] = field(default_factory=list)
    keep: str = ""  # what the keep rule keeps, if any
    resumed_shards: int = 0  # shards merged by an earlier, interrupted invocation
    resumed_people: int = 0  # their people (not counted in this invocation's rates)
    resumed_cpu_seconds: float = 0.0
    already_complete: bool = False

    @property
    def people_per_second(self) -> float:
        """People simulated per second by this invocation."""
        new = self.people - self.resumed_people
        return new / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_seconds_per_person(self) -> float:
        new = self.people - self.resumed_people
        return (self.cpu_seconds - self.resumed_cpu_seconds) / max(new, 1)

    def add(self, result: ShardResult) -> None:
        self.people += result.count
        self.alive += result.alive
        self.dead += result.dead
        self.simulated += result.simulated
        self.records_written += result.written
        self.cpu_seconds += result.cpu_seconds
        self.state_counts.update(result.state_counts)
        self.phase_seconds.update(result.phase_seconds)
        self.problem_count += result.problem_count
        self.problems.extend(result.problems[:MAX_PROBLEMS - len(self.problems)])

    def cpu_json(self) -> dict[str, float]:
        """CPU seconds of the whole run (resumed shards included), in total and by phase."""
        return {"total": round(self.cpu_seconds, 3),
                **{k: round(v, 3) for k, v in sorted(self.phase_seconds.items())}}

    def counts(self) -> dict[str, int]:
        return {"people": self.people, "alive": self.alive, "dead": self.dead,
                "simulated": self.simulated, "records_written": self.records_written,
                "problems": self.problem_count}


def run_level_rows(usage: Utilization, state_abbreviation: str) -> dict[str, list[str]]:
    """organizations.csv, providers.csv and payers.csv, once the whole run is known."""
    shared = world(state_abbreviation)
    orgs = organization_rows(shared.network, usage.org_encounters, usage.org_revenue)
    exported = {row[0] for row in orgs}
    providers = provider_rows(shared.network, usage.clinician_encounters,
                              usage.clinician_procedures, exported)
    return {
        "organizations": run_level_lines(orgs),
        "providers": run_level_lines(providers),
        "payers": run_level_lines(payer_rows(shared.payers, usage.payers)),
    }


class _Run:
    """The parent's side of one invocation."""

    def __init__(self, config: RunConfig, record: RunRecord, outputs: RunOutput,
                 summary: RunSummary, progress: Callable[[int], None] | None) -> None:
        self.config = config
        self.record = record
        self.outputs = outputs
        self.summary = summary
        self.progress = progress
        self.usage = Utilization()
        self.parts = parts_dir(config.output)
        self.merged_dir = self.parts / "merged"
        self.merged_dir.mkdir(parents=True, exist_ok=True)
        self.shards_done = 0

    def task(self, number: int, limit: int | None = None) -> ShardTask:
        size = max(1, self.config.shard_size)
        start = number * size
        count = size if self.config.keep else min(size, self.config.population - start)
        return ShardTask(number, start, count, limit)

    @property
    def total_shards(self) -> int | None:
        if self.config.keep:
            return None
        size = max(1, self.config.shard_size)
        return -(-self.config.population // size)

    def done(self) -> bool:
        if self.config.keep:
            return self.summary.alive >= self.config.population
        total = self.total_shards
        return total is not None and self.shards_done >= total

    def restore(self) -> dict[int, ShardResult]:
        """Adds up the shards an interrupted invocation merged; returns the shards it finished
        but had not merged yet. The first unmerged shard may have been half-merged: it runs
        again."""
        done = int(self.record.data["shards_done"])
        for number in range(done):
            result = ShardResult.from_json((self.merged_dir / f"{number:07d}.json").read_bytes())
            self._account(result)
        self.shards_done = done
        self.summary.resumed_shards = done
        self.summary.resumed_people = self.summary.people
        self.summary.resumed_cpu_seconds = self.summary.cpu_seconds
        ready: dict[int, ShardResult] = {}
        for folder in sorted(self.parts.glob("shard-*")):
            name = folder.name.removeprefix("shard-")
            meta = folder / META
            if name.isdigit() and int(name) > done and meta.is_file():
                ready[int(name)] = ShardResult.from_json(meta.read_bytes())
            else:
                shutil.rmtree(folder)
        return ready

    def _account(self, result: ShardResult) -> None:
        self.summary.add(result)
        self.usage.merge(result.utilization)

    def merge(self, task: ShardTask, result: ShardResult) -> None:
        folder = self.parts / task.folder
        self.outputs.merge(folder)
        (folder / META).replace(self.merged_dir / f"{task.number:07d}.json")
        shutil.rmtree(folder)
        self._account(result)
        self.shards_done = task.number + 1
        self.record.save(shards_done=self.shards_done, next_index=result.start + result.count,
                         counts=self.summary.counts(), files=self.outputs.sizes(),
                         cpu_seconds=self.summary.cpu_json())
        if self.progress is not None:
            self.progress(result.alive if self.config.keep else result.count)

    def _check_keep_rate(self) -> None:
        people, kept = self.summary.people, self.summary.alive
        if people < KEEP_MIN_SAMPLE or kept * KEEP_MIN_RATE >= people:
            return
        rate = f"{kept / people:.2%}" if kept else "none"
        raise RunFailed(
            f"the {self.config.keep.describe()} kept {kept} of the {people:,} people simulated "
            f"({rate}; fewer than 1 in {KEEP_MIN_RATE:,}), so {self.config.population:,} kept "
            "people would take too long to find. Check the keep module or the condition's "
            "words, or widen the population (--age, --gender, --state)"
        )

    def drive(self, executor: Executor, ready: dict[int, ShardResult]) -> None:
        pending: dict[int, object] = {}
        next_submit = self.shards_done
        total = self.total_shards
        try:
            while not self.done():
                while len(pending) < executor.slots and (total is None or next_submit < total):
                    pending[next_submit] = ready.pop(next_submit, None) or executor.submit(
                        self.task(next_submit))
                    next_submit += 1
                number = self.shards_done
                item = pending.pop(number)
                result = item if isinstance(item, ShardResult) else item.result()  # type: ignore[attr-defined]
                task = self.task(number)
                if self.config.keep:
                    need = self.config.population - self.summary.alive
                    if result.alive > need:
                        task = self.task(number, limit=need)
                        result = executor.submit(task).result()
                self.merge(task, result)
                if self.config.keep and not self.done():
                    self._check_keep_rate()
        finally:
            for item in pending.values():
                if not isinstance(item, ShardResult):
                    item.cancel()  # type: ignore[attr-defined]


@contextlib.contextmanager
def _exclusive(output: Path) -> Iterator[None]:
    """One run at a time per output folder: two would interleave their shards."""
    path = output / ".lock"
    try:
        fh = open(path, "w")  # noqa: SIM115
    except OSError as exc:
        raise UserError(disk_message(exc, output, started=False)) from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UserError(f"another run is writing to {output} (it holds {path}); wait for it "
                            "to finish or stop it, or choose another -o folder") from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


# What a run writes into its output folder besides the formats' files (pipeline.WRITTEN) and
# .lock: cleared by --overwrite, and a folder holding any of it is an earlier run's. The
# report (--report, simulate report) is the run's too: a report of the run replaced would
# describe a run no longer there.
RUN_FILES = ("run.json", "run.json.tmp", "report.html")
REPORT_FOLDER, REPORT_WRITTEN = "report", ("*.png", "report.json")


def earlier_run(output: Path) -> list[str]:
    """What an earlier run left in the folder (run.json, the format folders, unmerged shards)."""
    found = [name for name in RUN_FILES if (output / name).exists()]
    if (output / REPORT_FOLDER / "report.json").exists():
        found.append(REPORT_FOLDER + "/")
    if parts_dir(output).exists():
        found.append(PARTS + "/")
    for folder in FOLDERS.values():
        if (output / folder).is_dir() and any((output / folder).iterdir()):
            found.append(folder + "/")
    return found


def clear_earlier_run(output: Path) -> list[str]:
    """Deletes the files a run writes, and only those; returns what else is left in the
    format folders (kept)."""
    for name in RUN_FILES:
        (output / name).unlink(missing_ok=True)
    shutil.rmtree(parts_dir(output), ignore_errors=True)
    kept: list[str] = []
    report = output / REPORT_FOLDER
    if (report / "report.json").is_file():
        kept.extend(_clear_folder(report, REPORT_WRITTEN, REPORT_FOLDER))
    for fmt, patterns in WRITTEN.items():
        target = output / FOLDERS[fmt]
        if target.is_dir():
            kept.extend(_clear_folder(target, patterns, FOLDERS[fmt],
                                      table_folders=fmt in TABLE_FOLDERS))
    return kept


def _clear_folder(folder: Path, patterns: tuple[str, ...], label: str,
                  table_folders: bool = False) -> list[str]:
    """Deletes the files of `folder` matching `patterns` (and, for a format written as one
    folder per table, the table folders that emptied), then `folder` itself if nothing else is
    in it; returns what else it holds, as `label/name`."""
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.is_file() or path.is_symlink():
                path.unlink()
    if table_folders:
        for table in folder.iterdir():
            if table.is_dir() and not any(table.iterdir()):
                table.rmdir()
    left = sorted(p.name for p in folder.iterdir())
    if not left:
        folder.rmdir()
    return [f"{label}/{name}" for name in left]


def disk_message(exc: OSError, output: Path, started: bool) -> str:
    """One paragraph for an operating-system error while writing the output."""
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied"}.get(exc.errno or 0, exc.strerror or str(exc))
    where = f" ({exc.filename})" if exc.filename else ""
    if not started:
        return f"cannot write output to {output}: {what}{where}; choose another -o folder"
    return (f"cannot write output to {output}: {what}{where}. Every shard merged before it is "
            f"kept and recorded in {output}/run.json; once the cause is fixed, finish the run "
            f"with: simulate --resume -o {output}")


def _summary_of(record: RunRecord, config: RunConfig) -> RunSummary:
    counts = record.data.get("counts", {})
    return RunSummary(people=counts.get("people", 0), alive=counts.get("alive", 0),
                      dead=counts.get("dead", 0), simulated=counts.get("simulated", 0),
                      records_written=counts.get("records_written", 0),
                      problem_count=counts.get("problems", 0), output=config.output,
                      keep=config.keep.describe(), already_complete=True)


def run(config: RunConfig, progress: Callable[[int], None] | None = None,
        resume: bool = False, overwrite: bool = False,
        notice: Callable[[str], None] | None = None) -> RunSummary:
    """Simulate `config.population` people (kept people, with a keep rule) and write their
    records; with ``resume``, finish the interrupted run recorded in ``config.output``; with
    ``overwrite``, replace the earlier run there; ``notice`` is told of a long wait before the
    first person (the compiled engine's one-off compile). Raises UserError (RunFailed when the
    run cannot give what was asked)."""
    began = time.perf_counter()
    program = load_program(config)  # validates modules before any output is created
    rule = keep_rule(config.keep)  # validates the keep module / condition too
    if rule is not None:
        check_producible(rule, program)
    pop = population(population_options(config, program))  # validates --state/--city before any output
    preload(config, program)  # workers (and the shards run here) use it, not a compile of their own
    if config.engine == "compiled":
        # refuses, naming module, state and feature, what it cannot run; forked workers
        # inherit the engine lowered here, and its kernel
        Worker.for_run(config).warm(notice)
    if not resume:
        try:
            config.output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(disk_message(exc, config.output, started=False)) from None
    elif not config.output.is_dir():
        raise UserError(f"option --resume: {config.output} is not a folder")
    with _exclusive(config.output):
        if not resume:
            _fresh_output(config.output, overwrite)
        summary = _run_locked(config, program, pop, progress, resume)
    summary.seconds = time.perf_counter() - began
    return summary


def _fresh_output(output: Path, overwrite: bool) -> None:
    found = earlier_run(output)
    if not found:
        return
    if not overwrite:
        raise UserError(
            f"option -o: {output} holds an earlier run ({', '.join(found)}); give --resume to "
            "finish it, --overwrite to replace it (deletes only what a run writes there), or "
            "another -o folder"
        )
    try:
        kept = clear_earlier_run(output)
    except OSError as exc:
        raise UserError(disk_message(exc, output, started=False)) from None
    if kept:
        shown = ", ".join(kept[:5]) + (" …" if len(kept) > 5 else "")
        raise UserError(f"option --overwrite: the earlier run's files are deleted, but files "
                        f"a run does not write are in its folders ({shown}); move them away "
                        "and run again")


def _run_locked(config: RunConfig, program: Program, pop: Population,
                progress: Callable[[int], None] | None, resume: bool) -> RunSummary:
    began = time.perf_counter()
    if resume:
        record = RunRecord.load(config.output)
        record.check_modules(config)
        if record.data.get("status") == "complete":
            return _summary_of(record, config)
    else:
        record = RunRecord.start(config)
    summary = RunSummary(output=config.output, modules=len(program.top_level),
                         keep=config.keep.describe())
    try:
        outputs = RunOutput(config.output, config.formats, config.fhir_bundle,
                            record.data["files"] if resume else None, config.csv_files)
        record.save(status="running", files=outputs.sizes())
    except OSError as exc:
        raise UserError(disk_message(exc, config.output, started=False)) from None
    state = _Run(config, record, outputs, summary, progress)
    executor: Executor | None = None
    try:
        ready = state.restore() if resume else {}
        if progress is not None and state.shards_done:
            progress(summary.alive if config.keep else summary.people)
        if not state.done():
            executor = executor_for(config, program, state.total_shards)
            state.drive(executor, ready)
            executor.close()
            executor = None
        abbreviation = pop.tables.abbreviation
        usage = state.usage
        outputs.finish(world(abbreviation), usage.org_encounters, usage.clinician_encounters,
                       lambda: run_level_rows(usage, abbreviation))
        outputs.close()
        summary.seconds = time.perf_counter() - began
        record.save(status="complete", counts=summary.counts(), files=outputs.sizes(),
                    seconds=round(summary.seconds, 3), cpu_seconds=summary.cpu_json())
        shutil.rmtree(parts_dir(config.output), ignore_errors=True)
    except BaseException as exc:
        if executor is not None:
            executor.close(abort=True)
        _record_stop(config, record, outputs, exc)
        if isinstance(exc, OSError):
            raise UserError(disk_message(exc, config.output, started=True)) from None
        if type(exc).__name__ in ("BrokenProcessPool", "KilledWorker"):
            raise UserError(
                f"a worker process died (killed, or out of memory) after {state.shards_done} "
                f"shards were written; finish the run with: simulate --resume -o {config.output}"
            ) from None
        raise
    finally:
        outputs.close()
    summary.modules = len(program.top_level)
    return summary


def _record_stop(config: RunConfig, record: RunRecord, outputs: RunOutput,
                 exc: BaseException) -> None:
    """run.json after a run stopped early: ``failed`` with the reason when the input is to
    blame (running it again would fail again), else ``interrupted`` (--resume finishes it).
    Unmerged shards are deleted first, which frees space on a full disk; they run again."""
    outputs.close()
    for folder in parts_dir(config.output).glob("shard-*"):
        if not (folder / META).is_file():
            shutil.rmtree(folder, ignore_errors=True)
    resumable = isinstance(exc, KeyboardInterrupt | SystemExit | OSError) or \
        type(exc).__name__ in ("BrokenProcessPool", "KilledWorker")
    if resumable:
        record.save_stop(status="interrupted")
    else:
        record.save_stop(status="failed", error=f"{type(exc).__name__}: {exc}"
                         if not isinstance(exc, UserError) else str(exc))


__all__ = ["RunSummary", "load_program", "population", "population_options", "run", "world"]
