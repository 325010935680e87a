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
import fcntl
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simulator.config import RunConfig
from simulator.engine.program import Program
from simulator.errors import UserError
from simulator.executors import Executor, executor_for
from simulator.export.csv import run_level_lines
from simulator.export.pipeline import MAX_PROBLEMS, RunOutput
from simulator.payers import payer_rows
from simulator.population.people import Population
from simulator.providers.csv_rows import organization_rows, provider_rows
from simulator.runstate import RunRecord
from simulator.shard import (
    META,
    ShardResult,
    ShardTask,
    Utilization,
    keep_rule,
    load_program,
    parts_dir,
    population,
    population_options,
    world,
)

# With a keep rule, give up when this many people were simulated and none was kept: the rule
# most likely matches nothing (a misspelt condition), and the run would otherwise never end.
NO_MATCH_LIMIT = 20_000


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
        self.problem_count += result.problem_count
        self.problems.extend(result.problems[:MAX_PROBLEMS - len(self.problems)])

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
                         counts=self.summary.counts(), files=self.outputs.sizes())
        if self.progress is not None:
            self.progress(result.alive if self.config.keep else result.count)

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
                    if self.summary.people + result.count >= NO_MATCH_LIMIT and \
                            self.summary.alive + result.alive == 0:
                        raise UserError(
                            f"no one among the first {self.summary.people + result.count} "
                            f"people simulated was kept by the {self.config.keep.describe()}; "
                            "check the keep module or the condition's words"
                        )
                self.merge(task, result)
        finally:
            for item in pending.values():
                if not isinstance(item, ShardResult):
                    item.cancel()  # type: ignore[attr-defined]


@contextlib.contextmanager
def _exclusive(output: Path) -> Iterator[None]:
    """One run at a time per output folder: two would interleave their shards."""
    path = output / ".lock"
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UserError(f"another run is writing to {output} (it holds {path}); wait for it "
                            "to finish or stop it, or choose another -o folder") from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def _summary_of(record: RunRecord, config: RunConfig) -> RunSummary:
    counts = record.data.get("counts", {})
    return RunSummary(people=counts.get("people", 0), alive=counts.get("alive", 0),
                      dead=counts.get("dead", 0), simulated=counts.get("simulated", 0),
                      records_written=counts.get("records_written", 0),
                      problem_count=counts.get("problems", 0), output=config.output,
                      keep=config.keep.describe(), already_complete=True)


def run(config: RunConfig, progress: Callable[[int], None] | None = None,
        resume: bool = False) -> RunSummary:
    """Simulate `config.population` people (kept people, with a keep rule) and write their
    records; with ``resume``, finish the interrupted run recorded in ``config.output``.
    Raises UserError."""
    began = time.perf_counter()
    program = load_program(config)  # validates modules before any output is created
    keep_rule(config.keep)  # validates the keep module / condition too
    pop = population(population_options(config))  # validates --state/--city before any output
    if not resume:
        try:
            config.output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot write output to {config.output}: {exc.strerror or exc}") from None
    elif not config.output.is_dir():
        raise UserError(f"option --resume: {config.output} is not a folder")
    with _exclusive(config.output):
        summary = _run_locked(config, program, pop, progress, resume)
    summary.seconds = time.perf_counter() - began
    return summary


def _run_locked(config: RunConfig, program: Program, pop: Population,
                progress: Callable[[int], None] | None, resume: bool) -> RunSummary:
    began = time.perf_counter()
    if resume:
        record = RunRecord.load(config.output)
        record.check_modules(config)
        if record.data.get("status") == "complete":
            return _summary_of(record, config)
    else:
        if parts_dir(config.output).exists():
            shutil.rmtree(parts_dir(config.output))
        record = RunRecord.start(config)
    summary = RunSummary(output=config.output, modules=len(program.top_level),
                         keep=config.keep.describe())
    try:
        outputs = RunOutput(config.output, config.formats, config.fhir_bundle,
                            record.data["files"] if resume else None, config.csv_files)
        record.save(status="running", files=outputs.sizes())
    except OSError as exc:
        raise UserError(f"cannot write output to {config.output}: {exc.strerror or exc}") from None
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
                    seconds=round(summary.seconds, 3))
        shutil.rmtree(parts_dir(config.output), ignore_errors=True)
    except BaseException as exc:
        if executor is not None:
            executor.close(abort=True)
        record.save(status="interrupted")
        if isinstance(exc, OSError):
            raise UserError(f"cannot write output to {config.output}: {exc.strerror or exc}") from None
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


__all__ = ["RunSummary", "load_program", "population", "population_options", "run", "world"]
