"""A run: shards of person indices → workers → exporters, in index order.

Each worker loads and compiles the modules once, then simulates whole shards. Every person draws
from a generator seeded by (seed, index) and shards are written back in order, so the files are
byte-identical whatever the number of workers or the shard size.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.builtin.lifecycle import DEFAULT_LIFECYCLE
from simulator.config import RunConfig
from simulator.engine import timeutil as tu
from simulator.engine.program import Program, compile_program
from simulator.engine.simulation import PersonSim, World
from simulator.errors import UserError
from simulator.export.csv import run_level_lines
from simulator.export.pipeline import MAX_PROBLEMS, RunOutput, ShardExport, ShardOutput
from simulator.gmf.loader import load_modules
from simulator.payers import PayerStats, load_payers, payer_rows
from simulator.population.people import Population, PopulationOptions
from simulator.providers.csv_rows import organization_rows, provider_rows
from simulator.providers.network import provider_network
from simulator.record import HealthRecord

# A person who dies before the reference date is exported as a deceased record and the index
# is simulated again (new seed, same demographics) until someone is alive at the end, as in
# Synthea (engine-behaviour.md §2.1): the requested population counts living people. Natural
# death is drawn conditional on survival for the retries, so only module deaths can need more
# than two attempts.
MAX_ATTEMPTS = 20


@dataclass
class Utilization:
    """Counts over a run that feed the once-per-run files; shards' counts are summed."""

    org_encounters: Counter[str] = field(default_factory=Counter)
    org_revenue: Counter[str] = field(default_factory=Counter)
    clinician_encounters: Counter[str] = field(default_factory=Counter)
    clinician_procedures: Counter[str] = field(default_factory=Counter)
    payers: dict[str, PayerStats] = field(default_factory=dict)

    def add_record(self, record: HealthRecord, world: World) -> None:
        no_insurance = world.payers.no_insurance.id if world.payers is not None else ""
        pid = record.patient.id
        for enc in record.encounters:
            total = enc.claim_total
            if enc.organization_id:
                self.org_encounters[enc.organization_id] += 1
                self.org_revenue[enc.organization_id] += total
            if enc.clinician_id:
                self.clinician_encounters[enc.clinician_id] += 1
                self.clinician_procedures[enc.clinician_id] += len(enc.procedures)
            if enc.payer_id:
                stats = self.payers.setdefault(enc.payer_id, PayerStats())
                covered = enc.payer_id != no_insurance
                stats.amount_covered += enc.payer_coverage
                stats.amount_uncovered += total - enc.payer_coverage
                if covered:
                    stats.covered_encounters += 1
                    stats.covered_procedures += len(enc.procedures)
                    stats.covered_immunizations += len(enc.immunizations)
                else:
                    stats.uncovered_encounters += 1
                    stats.uncovered_procedures += len(enc.procedures)
                    stats.uncovered_immunizations += len(enc.immunizations)
        if world.payers is None:
            return
        plans = world.payers.plan_by_id
        for period in record.coverage:
            stats = self.payers.setdefault(period.payer_id, PayerStats())
            stats.customers.add(pid)
            months = max(period.end - period.start, 0) / (30.436875 * tu.DAY)
            stats.member_months += int(months)
            plan = plans.get(period.plan_id)
            if plan is not None and period.payer_id != no_insurance:
                stats.revenue += months * plan.premium_in(tu.year_of(period.start))

    def merge(self, other: Utilization) -> None:
        self.org_encounters.update(other.org_encounters)
        self.org_revenue.update(other.org_revenue)
        self.clinician_encounters.update(other.clinician_encounters)
        self.clinician_procedures.update(other.clinician_procedures)
        for payer_id, stats in other.payers.items():
            self.payers.setdefault(payer_id, PayerStats()).merge(stats)


@dataclass
class ShardResult:
    start: int
    count: int
    alive: int
    dead: int
    output: ShardOutput
    state_counts: Counter[str]
    cpu_seconds: float
    utilization: Utilization = field(default_factory=Utilization)


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
    problem_count: int = 0  # FHIR validation messages (--validate)
    problems: list[str] = field(default_factory=list)

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
        natural_death=config.natural_death,
    )


@functools.cache
def population(options: PopulationOptions) -> Population:
    return Population(options)


@functools.cache
def world(state_abbreviation: str) -> World:
    return World(network=provider_network(state_abbreviation), payers=load_payers())


def simulate_index(program: Program, pop: Population, index: int, row: Any, floats: Any,
                   stats: Counter[str] | None = None) -> list[HealthRecord]:
    """One person of the population: deceased attempts first, then the living one."""
    shared = world(pop.tables.abbreviation)
    end = pop.options.reference_time
    records = []
    for attempt in range(MAX_ATTEMPTS):
        person = pop.person(index, 0, row, floats) if attempt == 0 else pop.make(index, attempt)
        record = PersonSim(program, person, end, stats, DEFAULT_LIFECYCLE, shared).run()
        records.append(record)
        if record.patient.deathdate is None:
            break
    return records


def simulate_shard(program: Program, config: RunConfig, start: int, count: int) -> ShardResult:
    began = time.process_time()
    pop = population(population_options(config))
    shared = world(pop.tables.abbreviation)
    ints, floats = pop.draw(list(range(start, start + count)))
    stats: Counter[str] = Counter()
    usage = Utilization()
    export = ShardExport(config.formats, config.output, shared, config.fhir_bundle,
                         config.validate)
    alive = dead = 0
    for k, index in enumerate(range(start, start + count)):
        for record in simulate_index(program, pop, index, ints[k], floats[k], stats):
            if record.patient.deathdate is None:
                alive += 1
            else:
                dead += 1
            usage.add_record(record, shared)
            export.add(record)
    return ShardResult(start, count, alive, dead, export.take(), stats,
                       time.process_time() - began, usage)


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
    pop = population(population_options(config))  # validates --state/--city before any output
    usage = Utilization()
    try:
        outputs = RunOutput(config.output, config.formats, config.fhir_bundle)
    except OSError as exc:
        raise UserError(f"cannot write output to {config.output}: {exc.strerror or exc}") from None
    try:
        for result in _results(config, program):
            outputs.write(result.output)
            summary.people += result.count
            summary.alive += result.alive
            summary.dead += result.dead
            summary.records_written += result.output.written
            summary.cpu_seconds += result.cpu_seconds
            summary.state_counts.update(result.state_counts)
            summary.problem_count += result.output.problem_count
            summary.problems.extend(result.output.problems[:MAX_PROBLEMS - len(summary.problems)])
            usage.merge(result.utilization)
            if progress is not None:
                progress(result.count)
        abbreviation = pop.tables.abbreviation
        outputs.finish(world(abbreviation), usage.org_encounters, usage.clinician_encounters,
                       lambda: run_level_rows(usage, abbreviation))
    except OSError as exc:
        raise UserError(f"cannot write output to {config.output}: {exc.strerror or exc}") from None
    finally:
        outputs.close()
    summary.seconds = time.perf_counter() - began
    return summary
