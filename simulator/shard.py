"""One shard of a run: a range of person indices simulated and exported by one worker.

Everything here runs in a worker process (a local process pool, a Dask worker, or the parent
itself with one worker). A shard writes only into its own part folder and returns a small,
picklable :class:`ShardResult`; the parent merges part folders in shard order
(:mod:`simulator.run`). Person ``i`` is the same in any shard, so the output does not depend on
the shard size, the number of workers or where they run. The people themselves are lived by
:class:`simulator.worker.Worker`.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from simulator.config import RunConfig
from simulator.engine import timeutil as tu
from simulator.engine.simulation import World
from simulator.export.pipeline import ShardExport
from simulator.payers import PayerStats
from simulator.record import HealthRecord
from simulator.worker import Worker

PARTS = ".parts"  # inside the output folder
META = "meta.json"  # written last into a part folder: the shard is complete
# The collector's default thresholds make it walk the compiled modules and the young records
# over and over; a larger first generation (and freezing what was loaded before the first
# person) cuts about 30% of the simulation time, and one full collection per person
# (collect_person) keeps memory at one person's worth.
GC_THRESHOLDS = (10_000, 20, 100)

MONTH_MS = 30.436875 * tu.DAY  # an average month, for member months


@dataclass
class Utilization:
    """Counts over a run that feed the once-per-run files; shards' counts are summed in shard
    order (the sums of money are floats, so the order is part of determinism)."""

    org_encounters: Counter[str] = field(default_factory=Counter)
    org_revenue: Counter[str] = field(default_factory=Counter)
    clinician_encounters: Counter[str] = field(default_factory=Counter)
    clinician_procedures: Counter[str] = field(default_factory=Counter)
    payers: dict[str, PayerStats] = field(default_factory=dict)

    def add_record(self, record: HealthRecord, world: World) -> None:
        no_insurance = world.payers.no_insurance.id if world.payers is not None else ""
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
        for payer_id in {period.payer_id for period in record.coverage}:
            self.payers.setdefault(payer_id, PayerStats()).customers += 1
        covered: dict[str, int] = {}  # ms of coverage per payer (periods are plan years)
        for period in record.coverage:
            stats = self.payers.setdefault(period.payer_id, PayerStats())
            span = max(period.end - period.start, 0)
            covered[period.payer_id] = covered.get(period.payer_id, 0) + span
            months = span / MONTH_MS
            plan = plans.get(period.plan_id)
            if plan is not None and period.payer_id != no_insurance:
                stats.revenue += months * plan.premium_in(tu.year_of(period.start))
        for payer_id, span in covered.items():
            self.payers[payer_id].member_months += int(span / MONTH_MS)

    def merge(self, other: Utilization) -> None:
        self.org_encounters.update(other.org_encounters)
        self.org_revenue.update(other.org_revenue)
        self.clinician_encounters.update(other.clinician_encounters)
        self.clinician_procedures.update(other.clinician_procedures)
        for payer_id, stats in other.payers.items():
            self.payers.setdefault(payer_id, PayerStats()).merge(stats)

    def to_json(self) -> dict[str, Any]:
        return {
            "org_encounters": self.org_encounters, "org_revenue": self.org_revenue,
            "clinician_encounters": self.clinician_encounters,
            "clinician_procedures": self.clinician_procedures,
            "payers": {k: asdict(v) for k, v in self.payers.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Utilization:
        return cls(
            Counter(data["org_encounters"]), Counter(data["org_revenue"]),
            Counter(data["clinician_encounters"]), Counter(data["clinician_procedures"]),
            {k: PayerStats(**v) for k, v in data["payers"].items()},
        )


@dataclass(frozen=True)
class ShardTask:
    """Indices ``start .. start+count-1``. ``limit`` stops the shard after that many kept
    living people (the last shard of a targeted cohort)."""

    number: int
    start: int
    count: int
    limit: int | None = None

    @property
    def folder(self) -> str:
        suffix = "" if self.limit is None else f"-first{self.limit}"
        return f"shard-{self.number:07d}{suffix}"


@dataclass
class ShardResult:
    number: int
    start: int
    count: int  # indices simulated
    alive: int = 0  # living people written (kept, with a keep rule)
    dead: int = 0  # deceased records written
    simulated: int = 0  # people simulated, retries after death included
    written: int = 0
    problem_count: int = 0
    problems: list[str] = field(default_factory=list)
    state_counts: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0
    # CPU seconds by phase: setup, engine, records (compiled engine), export, gc
    phase_seconds: Counter[str] = field(default_factory=Counter)
    utilization: Utilization = field(default_factory=Utilization)

    def to_json(self) -> bytes:
        data = {k: v for k, v in self.__dict__.items() if k != "utilization"}
        data["utilization"] = self.utilization.to_json()
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes) -> ShardResult:
        data = orjson.loads(raw)
        data["state_counts"] = Counter(data["state_counts"])
        data["phase_seconds"] = Counter(data.get("phase_seconds", {}))
        data["utilization"] = Utilization.from_json(data["utilization"])
        return cls(**data)


def parts_dir(output: Path) -> Path:
    return output / PARTS


_FROZEN = False
_SINCE = 0  # people since the last full collection
# Without cycles, a full collection only every this many people: a safety net for a person
# the reference engine lives again after a compiled fault.
COLLECT_EVERY = 64


def collect_person(leaves_cycles: bool = True) -> None:
    """After each person. A finished person's objects form reference cycles (SimPy processes,
    frames, entries) that, with the raised thresholds, only a full collection frees; one per
    person keeps a worker at one person's worth of memory. It is cheap once what the first
    person loaded (provider network, caches) is frozen out of the collector's sight. Lives
    that leave no cycles (`Worker.leaves_cycles`) are freed as they go, so those workers
    collect only every COLLECT_EVERY people."""
    global _FROZEN, _SINCE
    _SINCE += 1
    if _FROZEN and not leaves_cycles and _SINCE < COLLECT_EVERY:
        return
    _SINCE = 0
    gc.collect()
    if not _FROZEN:
        gc.freeze()
        _FROZEN = True


@contextmanager
def automatic_collection(wanted: bool) -> Iterator[None]:
    """The collector's automatic passes off when a worker's lives leave no cycles: they find
    nothing, and cost about 8% of a compiled corpus run (collect_person still collects)."""
    was = gc.isenabled()
    if not wanted:
        gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def unfreeze() -> None:
    """Back to normal collection (a run in a process that goes on to do other things)."""
    global _FROZEN
    gc.unfreeze()
    _FROZEN = False


def tune_gc() -> tuple[int, int, int]:
    """Raised collector thresholds for running shards; returns the old ones (see
    :func:`collect_person` for the freezing)."""
    old = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    return old  # type: ignore[return-value]


def run_shard(config: RunConfig, task: ShardTask) -> ShardResult:
    """Simulates and exports one shard into its part folder; returns what the parent needs."""
    began = time.process_time()
    clock = time.process_time
    worker = Worker.for_run(config)
    shared = worker.world
    folder = parts_dir(config.output) / task.folder
    if folder.exists():
        shutil.rmtree(folder)
    export = ShardExport(config.formats, folder, shared, config.fhir_bundle, config.validate,
                         config.csv_files, config.years_of_history, config.reference_time)
    result = ShardResult(task.number, task.start, 0)
    usage = result.utilization
    ints, floats = worker.population.draw(list(range(task.start, task.start + task.count)))
    phases = result.phase_seconds
    kernel_before = worker.kernel_seconds()
    phases["setup"] = clock() - began
    cycles = worker.leaves_cycles
    with automatic_collection(cycles):
        try:
            for k, index in enumerate(range(task.start, task.start + task.count)):
                if task.limit is not None and result.alive >= task.limit:
                    break
                result.count += 1
                for record, kept in worker.lives(index, ints[k], floats[k], result.state_counts):
                    result.simulated += 1
                    if not kept:
                        continue
                    if record.patient.deathdate is None:
                        result.alive += 1
                    else:
                        result.dead += 1
                    mark = clock()
                    usage.add_record(record, shared)
                    export.add(record)
                    phases["export"] += clock() - mark
                mark = clock()
                collect_person(cycles)
                phases["gc"] += clock() - mark
        finally:
            mark = clock()
            out = export.close()
            phases["export"] += clock() - mark
    result.written = out.written
    result.problem_count = out.problem_count
    result.problems = out.problems
    result.cpu_seconds = clock() - began
    # what is left is living the lives: the kernel, and building the records from its journal
    # (the reference engine builds them as it goes: all of it is "engine" there)
    phases["engine"] = worker.kernel_seconds() - kernel_before
    lives = result.cpu_seconds - phases["setup"] - phases["export"] - phases["gc"]
    if config.engine == "compiled":
        phases["records"] = max(lives - phases["engine"], 0.0)
    else:
        phases["engine"] = lives
    tmp = folder / (META + ".tmp")
    tmp.write_bytes(result.to_json())
    os.replace(tmp, folder / META)
    return result
