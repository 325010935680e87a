"""What simulating people needs, built in one place: the compiled modules, the population, the
world they share, the built-in lifecycle and the keep rule, and the one method that lives a
person's life.

Every caller goes through a :class:`Worker`: a run's shards (:mod:`simulator.shard`), the
upload stream (:mod:`simulator.upload.stream`), module tests (:mod:`simulator.testing`), the
module author's trial (:mod:`simulator.authoring.trial`) and the benchmarks. So a choice about
how a life is run is made here once, not in each of them.

The pieces of a run are cached per process: a worker process runs many shards of the same run,
and compiling the modules, building the population's tables or the state's provider network
each time would cost more than simulating a shard. Forked worker processes inherit the parent's
compiled modules through :func:`preload`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.builtin.lifecycle import DEFAULT_LIFECYCLE
from simulator.cohort import KeepRule
from simulator.config import KeepSpec, RunConfig
from simulator.engine.person import Person
from simulator.engine.program import CompiledModule, Program, compile_program
from simulator.engine.simulation import PersonSim, World
from simulator.errors import RunFailed, UserError
from simulator.export.history import cutoff_time
from simulator.gmf.loader import load_modules
from simulator.payers import load_payers
from simulator.population.module_mortality import deleted_modules
from simulator.population.people import Population, PopulationOptions
from simulator.providers.network import provider_network
from simulator.record import HealthRecord

# A person who dies before the reference date is exported as a deceased record and the index
# is simulated again (new seed, same demographics) until someone is alive at the end, as in
# Synthea (engine-behaviour.md §2.1): the requested population counts living people. Natural
# death is drawn conditional on survival for the retries, so only module deaths can need more
# than two attempts.
# Formats written from CSV rows alone (no FHIR, NDJSON or C-CDA document of a record).
TABULAR_FORMATS = frozenset({"csv", "parquet"})
# Lives tried per index until one survives to the reference date: Synthea's default
# (generate.max_attempts_to_keep_patient). With 20, a million-person run stopped at a
# 96-year-old who needed 21 (module deaths come on top of the life table).
MAX_ATTEMPTS = 1000


@dataclass(frozen=True, eq=False)
class Worker:
    """Lives people's lives. ``world`` is what they share (a ``World()`` without a provider
    network or payers leaves encounters without organization, clinician and payer);
    ``lifecycle`` switches the built-in processes (insurance, life events, natural death, ...)
    on; a ``keep`` rule decides which records a run writes."""

    program: Program
    population: Population
    world: World
    lifecycle: bool = True
    keep: KeepRule | None = None
    engine: str = "reference"  # or "compiled" (simulator.compiled)
    # The export window's cut-off (a run's --years-of-history): the compiled engine's records
    # may leave out the observations made before it, which no export writes. None: whole.
    exported_since: int | None = None
    # Whether a record's observations may be CSV lines instead of objects (the compiled
    # engine, a run that writes only CSV or Parquet: Encounter.observation_lines).
    observation_text: bool = False

    def __post_init__(self) -> None:
        if self.engine == "compiled":
            keep = self.keep.module if self.keep is not None else None
            object.__setattr__(self, "_compiled",
                               compiled_engine(self.program, self.world, self.lifecycle, keep))

    @classmethod
    def for_run(cls, config: RunConfig, objects: bool = False) -> Worker:
        """A run's worker, from this process's caches (the parent's compiled modules when it
        was forked). ``objects``: records hold every entry as an object whatever the formats
        (a consumer other than the exporters reads them)."""
        program = program_for(config)
        keep = keep_rule(config.keep)
        pop = population(population_options(config, program))
        since = (cutoff_time(config.years_of_history, config.reference_time)
                 if config.years_of_history > 0 else None)
        return cls(program, pop, world(pop.tables.abbreviation), lifecycle=True, keep=keep,
                   engine=config.engine, exported_since=since,
                   observation_text=not objects and set(config.formats) <= TABULAR_FORMATS)

    @classmethod
    def for_modules(cls, program: Program, people: Population, lifecycle: bool = True,
                    engine: str = "reference") -> Worker:
        """Modules on their own (module tests, `simulate modules run`): no provider network or
        payers, and without the lifecycle no built-in processes and no vaccinations either (the
        population's ``natural_death`` option goes with it)."""
        return cls(program, people, World(immunizations=lifecycle), lifecycle, engine=engine)

    @property
    def leaves_cycles(self) -> bool:
        """Whether a finished life leaves reference cycles that only the garbage collector
        frees: the reference engine's SimPy processes and frames do; the compiled engine's
        records do not (tests/test_scale.py checks), so reference counting frees them."""
        return self.engine != "compiled"

    def live(self, person: Person, stats: Counter[str] | None = None,
             executors: dict[str, Callable[..., Any]] | None = None
             ) -> tuple[HealthRecord, PersonSim]:
        """One life from birth to the reference date (or death): the record, and the finished
        simulation (keep rules and the trial read the person's end state from it). Every
        simulation of a person goes through here. ``executors`` replaces the state executor
        table, which is how the trial observes visits."""
        if self.engine == "compiled":
            if executors is not None:
                raise UserError("the compiled engine cannot trace states: use --engine reference")
            life = self._compiled.live(person, self.population.options.reference_time, stats,  # type: ignore[attr-defined]
                                       self.exported_since, self.observation_text)
            return life.record, life  # type: ignore[return-value]
        sim = PersonSim(self.program, person, self.population.options.reference_time, stats,
                        DEFAULT_LIFECYCLE if self.lifecycle else (), self.world)
        if executors is not None:
            sim.executors = executors
        return sim.run(), sim

    def warm(self, notice: Callable[[str], None] | None = None) -> None:
        """The compiled engine's kernel loaded (or compiled, once per install) here, before
        workers are forked; nothing for the reference engine."""
        if self.engine == "compiled":
            self._compiled.warm(notice)  # type: ignore[attr-defined]

    def kernel_seconds(self) -> float:
        """CPU seconds this process's compiled engine has spent in its kernel (0 for the
        reference engine): the rest of a compiled life is building its record."""
        if self.engine != "compiled":
            return 0.0
        return self._compiled.kernel_seconds  # type: ignore[attr-defined]

    def lives(self, index: int, row: Any, floats: Any, stats: Counter[str] | None = None
              ) -> Iterator[tuple[HealthRecord, bool]]:
        """Person ``index`` of the population (``row``/``floats``: its row of
        ``population.draw``): deceased attempts first, then the living one, each with whether
        the keep rule keeps it (always True without one)."""
        pop, keep = self.population, self.keep
        deaths: Counter[str] = Counter()
        for attempt in range(MAX_ATTEMPTS):
            person = pop.person(index, 0, row, floats) if attempt == 0 else pop.make(index, attempt)
            record, sim = self.live(person, stats)
            yield record, keep is None or keep.keeps(sim, record)
            if record.patient.deathdate is None:
                return
            deaths[sim.death_source or "an unknown cause"] += 1
        causes = "; ".join(f"{count} by {source}" for source, count in deaths.most_common())
        raise RunFailed(
            f"cannot give the population asked for: person {index} died before the reference "
            f"date in all {MAX_ATTEMPTS} tries ({causes}). A module that kills (nearly) "
            "everyone, or ages and dates where nobody survives (--age, --reference-date), cannot "
            "make living people"
        )

    def records(self, index: int, row: Any, floats: Any, stats: Counter[str] | None = None
                ) -> list[HealthRecord]:
        """Every record of person ``index``, kept or not (tests, benchmarks)."""
        return [record for record, _ in self.lives(index, row, floats, stats)]


# ------------------------------------------------------------------ the pieces of a run


def population_options(config: RunConfig, program: Program) -> PopulationOptions:
    """The run's population; natural death leaves out the deaths of the program's modules
    when they are the project's own (simulator.population.module_mortality)."""
    deleted = (deleted_modules(config.modules_dir, [m.key for m in program.top_level])
               if config.natural_death else ())
    return PopulationOptions(
        seed=config.seed,
        reference_time=config.reference_time,
        state=config.state,
        city=config.city,
        gender=config.gender,
        min_age=config.min_age,
        max_age=config.max_age,
        natural_death=config.natural_death,
        deleted_causes=deleted,
    )


def compile_modules(root: Path | str, modules: Sequence[str] = (),
                    lookup_dir: Path | str | None = None) -> Program:
    """The module set under ``root`` loaded (validated: ModuleLoadError) and compiled, with the
    top-level modules ``modules`` picks (all when empty)."""
    return compile_program(load_modules(root, lookup_dir), list(modules))


def load_program(config: RunConfig) -> Program:
    """A run's modules, compiled here and now (the parent validates them with this before any
    output exists)."""
    program = compile_modules(config.modules_dir, config.modules)
    if config.modules and not program.top_level:
        raise UserError(
            f"option --module: no top-level module in {config.modules_dir} matches "
            f"{', '.join(config.modules)}"
        )
    return program


@functools.cache
def population(options: PopulationOptions) -> Population:
    return Population(options)


@functools.cache
def world(state_abbreviation: str) -> World:
    return World(network=provider_network(state_abbreviation), payers=load_payers())


def run_world(config: RunConfig) -> World:
    """The provider network and payers of a run's state."""
    return world(population(population_options(config, program_for(config))).tables.abbreviation)


_ENGINES: dict[tuple[int, int, bool, int], tuple[Any, ...]] = {}


def compiled_engine(program: Program, world: World, lifecycle: bool,
                    keep: CompiledModule | None) -> Any:
    """The compiled engine of a program, lowered once per process (lowering the corpus costs
    about 0.3 s, ten times what its 25-person shard takes to live). Forked workers inherit the
    one the parent built when it checked the run."""
    from simulator.compiled.engine import CompiledEngine

    key = (id(program), id(world), lifecycle, id(keep))
    found = _ENGINES.get(key)
    if found is None:
        engine = CompiledEngine(program, DEFAULT_LIFECYCLE if lifecycle else (), world, keep)
        if len(_ENGINES) >= 4:
            del _ENGINES[next(iter(_ENGINES))]
        # holding the keyed objects keeps their ids from being reused while cached
        found = _ENGINES[key] = (program, world, keep, engine)
    return found[-1]


@functools.lru_cache(maxsize=4)
def keep_rule(spec: KeepSpec) -> KeepRule | None:
    return KeepRule(spec) if spec else None


@functools.lru_cache(maxsize=4)
def _cached_program(modules_dir: Path, modules: tuple[str, ...]) -> Program:
    return load_program(RunConfig(modules_dir=modules_dir, modules=modules))


_PRELOADED: dict[tuple[Path, tuple[str, ...]], Program] = {}


def preload(config: RunConfig, program: Program) -> None:
    """Hands the parent's compiled modules to forked workers (they inherit this dict)."""
    _PRELOADED[(config.modules_dir, config.modules)] = program


def program_for(config: RunConfig) -> Program:
    key = (config.modules_dir, config.modules)
    return _PRELOADED.get(key) or _cached_program(*key)
