"""A run: shards of person indices → workers → exporters, in index order.

Each worker loads and compiles the modules once, then simulates whole shards. Every person draws
from a generator seeded by (seed, index) and shards are written back in order, so the files are
byte-identical whatever the number of workers or the shard size.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simulator.builtin.lifecycle import DEFAULT_LIFECYCLE
from simulator.config import RunConfig
from simulator.engine.program import Program, compile_program
from simulator.engine.simulation import PersonSim
from simulator.errors import UserError
from simulator.export.csv import CsvWriter, record_rows
from simulator.gmf.loader import load_modules
from simulator.population.basics import PopulationOptions, make_person
from simulator.record import HealthRecord


@dataclass
class ShardResult:
    start: int
    count: int
    alive: int
    dead: int
    rows: dict[str, list[str]]
    state_counts: Counter[str]
    records_written: int
    cpu_seconds: float


@dataclass
class RunSummary:
    people: int = 0
    alive: int = 0
    dead: int = 0
    records_written: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    state_counts: Counter[str] = field(default_factory=Counter)
    output: Path | None = None
    modules: int = 0

    @property
    def people_per_second(self) -> float:
        return self.people / self.seconds if self.seconds > 0 else 0.0


def load_program(config: RunConfig) -> Program:
    module_set = load_modules(config.modules_dir)
    program = compile_program(module_set, list(config.modules))
    if config.modules and not program.top_level:
        raise UserError(
            f"option --module: no top-level module in {config.modules_dir} matches "
            f"{', '.join(config.modules)}"
        )
    return program


def population_options(config: RunConfig) -> PopulationOptions:
    return PopulationOptions(
        seed=config.seed,
        reference_time=config.reference_time,
        state=config.state,
        city=config.city,
        gender=config.gender,
        min_age=config.min_age,
        max_age=config.max_age,
    )


def simulate_person(program: Program, options: PopulationOptions, index: int,
                    stats: Counter[str] | None = None) -> HealthRecord:
    person = make_person(options, index)
    return PersonSim(program, person, options.reference_time, stats, DEFAULT_LIFECYCLE).run()


def simulate_shard(program: Program, config: RunConfig, start: int, count: int) -> ShardResult:
    began = time.process_time()
    options = population_options(config)
    stats: Counter[str] = Counter()
    rows: dict[str, list[str]] = {}
    alive = dead = written = 0
    for index in range(start, start + count):
        record = simulate_person(program, options, index, stats)
        if record.patient.deathdate is None:
            alive += 1
        else:
            dead += 1
        if "csv" in config.formats:
            for name, lines in record_rows(record).items():
                rows.setdefault(name, []).extend(lines)
                written += len(lines)
    return ShardResult(start, count, alive, dead, rows, stats, written,
                       time.process_time() - began)


# ------------------------------------------------------------------ worker processes

_WORKER: tuple[Program, RunConfig] | None = None


def _init_worker(config: RunConfig) -> None:
    global _WORKER
    _WORKER = (load_program(config), config)


def _run_shard(bounds: tuple[int, int]) -> ShardResult:
    assert _WORKER is not None
    program, config = _WORKER
    return simulate_shard(program, config, *bounds)


def _shards(config: RunConfig) -> list[tuple[int, int]]:
    size = max(1, config.shard_size)
    return [(s, min(size, config.population - s)) for s in range(0, config.population, size)]


def _results(config: RunConfig, program: Program) -> Iterator[ShardResult]:
    shards = _shards(config)
    workers = min(max(1, config.workers), len(shards)) if shards else 1
    if workers <= 1:
        for start, count in shards:
            yield simulate_shard(program, config, start, count)
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(config,)) as pool:
        yield from pool.imap(_run_shard, shards)


def run(config: RunConfig, progress: Callable[[int], None] | None = None) -> RunSummary:
    """Simulate `config.population` people and write their records. Raises UserError."""
    began = time.perf_counter()
    program = load_program(config)  # validates modules before any output is created
    summary = RunSummary(output=config.output, modules=len(program.top_level))
    writer = None
    try:
        if "csv" in config.formats:
            writer = CsvWriter(config.output / "csv")
        for result in _results(config, program):
            if writer is not None:
                writer.write_lines(result.rows)
            summary.people += result.count
            summary.alive += result.alive
            summary.dead += result.dead
            summary.records_written += result.records_written
            summary.cpu_seconds += result.cpu_seconds
            summary.state_counts.update(result.state_counts)
            if progress is not None:
                progress(result.count)
    except OSError as exc:
        raise UserError(f"cannot write output to {config.output}: {exc.strerror or exc}") from None
    finally:
        if writer is not None:
            writer.close()
    summary.seconds = time.perf_counter() - began
    return summary
