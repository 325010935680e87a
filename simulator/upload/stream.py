"""`simulate -p N --format fhir --upload URL`: people are simulated in worker processes and
their resources go straight to the server, never to disk.

Workers simulate small blocks of person indices and return each person's resources already
serialised as PUT entries; the parent only joins bytes and sends. At most a few blocks wait at
a time, so a slow server slows the simulation rather than filling memory. A person is one
journal unit: with ``--upload-state``, an interrupted upload started again skips the people the
server already has (person ``i`` is the same person on every run with the same options).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import hashlib
import multiprocessing
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson

from simulator.config import RunConfig
from simulator.errors import UserError
from simulator.upload.payload import Item, Unit, record_items
from simulator.upload.runner import BARRIER, Barrier

BLOCK = 4  # people per worker task: small, so the first requests start at once


@dataclass
class PersonPayload:
    index: int
    items: list[Item]
    alive: int
    dead: int
    usage: dict[str, dict[str, int]]  # encounters per organization and per clinician


@dataclass
class StreamSummary:
    people: int = 0
    skipped: int = 0  # uploaded by an earlier, interrupted upload: not simulated again
    alive: int = 0
    dead: int = 0
    cpu_seconds: float = 0.0
    state_counts: Counter[str] = field(default_factory=Counter)


def _simulate_block(config: RunConfig, indices: list[int], base: str
                    ) -> tuple[list[PersonPayload], float, Counter[str]]:
    """In a worker: each person's records as PUT items (shared resources embedded)."""
    from simulator.export.fhir import FhirContext
    from simulator.export.fhir.clinical import RecordResources, literal_reference
    from simulator.export.history import recent_history
    from simulator.shard import Utilization, automatic_collection, collect_person
    from simulator.worker import Worker

    began = time.process_time()
    worker = Worker.for_run(config, objects=True)  # no keep rule: check_config refuses one
    shared = worker.world
    ctx = FhirContext(shared.network, shared.payers)
    stats: Counter[str] = Counter()
    ints, floats = worker.population.draw(indices)
    out = []
    with automatic_collection(worker.leaves_cycles):
        for k, index in enumerate(indices):
            payload = PersonPayload(index, [], 0, 0, {})
            usage = Utilization()
            for record, _ in worker.lives(index, ints[k], floats[k], stats):
                usage.add_record(record, shared)
                exported = recent_history(record, config.years_of_history, config.reference_time)
                payload.items.extend(record_items(iter(RecordResources(exported, ctx,
                                                                       literal_reference)), base))
                if record.patient.deathdate is None:
                    payload.alive += 1
                else:
                    payload.dead += 1
            payload.usage = {"orgs": dict(usage.org_encounters),
                             "clinicians": dict(usage.clinician_encounters)}
            out.append(payload)
            collect_person(worker.leaves_cycles)
    return out, time.process_time() - began, stats


def source_identity(config: RunConfig) -> str:
    """What makes person i the same person: every option but where it runs, and the modules."""
    from simulator.runstate import PLACEMENT_OPTIONS, module_hashes, options_json

    options = {k: v for k, v in options_json(config).items() if k not in PLACEMENT_OPTIONS}
    raw = orjson.dumps({"options": options, "modules": module_hashes(config)},
                       option=orjson.OPT_SORT_KEYS)
    return "simulation:" + hashlib.sha256(raw).hexdigest()


def check_config(config: RunConfig) -> None:
    if config.keep:
        raise UserError("option --upload: targeted cohorts (-k/--keep, --keep-condition) are not "
                        "streamed; write the cohort to disk and run `simulate upload`")
    if config.cluster:
        raise UserError("option --upload: streams from local worker processes; --cluster is for "
                        "runs that write to disk")
    if config.formats != ("fhir",):
        raise UserError("option --upload: streams FHIR resources only (--format fhir); write "
                        "other formats in a run of their own")


def person_key(index: int) -> str:
    return f"person:{index}"


SHARED_UNIT = "shared"  # the run's organizations, locations and clinicians, sent last


def _count(usage: dict[str, Counter[str]], note: object) -> None:
    if isinstance(note, dict):
        for kind in ("orgs", "clinicians"):
            usage[kind].update(note.get(kind) or {})


async def simulated_units(config: RunConfig, base: str, done: set[str],
                          summary: StreamSummary, notes: dict[str, object] | None = None
                          ) -> AsyncIterator[Unit | Barrier]:
    """Every person as a unit, then (after a barrier) the run's shared resources with their
    encounter counts, as a file run writes them; people already done count from the journal's
    notes."""
    from simulator.executors import _init_local_worker
    from simulator.worker import load_program, preload

    program = load_program(config)
    preload(config, program)  # forked workers inherit the compiled modules
    workers = max(config.workers, 1)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_local_worker)
    todo = [i for i in range(config.population) if person_key(i) not in done]
    usage: dict[str, Counter[str]] = {"orgs": Counter(), "clinicians": Counter()}
    for key, note in (notes or {}).items():
        if key.startswith("person:"):
            _count(usage, note)
    summary.skipped += config.population - len(todo)
    blocks = [todo[k:k + BLOCK] for k in range(0, len(todo), BLOCK)]
    pending: list[asyncio.Future[tuple[list[PersonPayload], float, Counter[str]]]] = []
    window = 2 * workers
    try:
        while blocks or pending:
            while blocks and len(pending) < window:
                future = pool.submit(_simulate_block, config, blocks.pop(0), base)
                pending.append(asyncio.wrap_future(future))
            payloads, cpu, stats = await pending.pop(0)  # in order: units go out in index order
            summary.cpu_seconds += cpu
            summary.state_counts.update(stats)
            for payload in payloads:
                summary.people += 1
                summary.alive += payload.alive
                summary.dead += payload.dead
                _count(usage, payload.usage)
                yield Unit(person_key(payload.index), payload.items, note=payload.usage)
    finally:
        for future in pending:
            future.cancel()
        # Stopped early, workers finish the block they are on (a few people): a worker killed
        # while it writes a block's resources back would leave the pool's reader waiting for
        # the rest of them for ever.
        pool.shutdown(wait=True, cancel_futures=True)
    yield BARRIER  # every person's encounters are counted and on the server
    yield shared_unit(config, base, usage)


def shared_unit(config: RunConfig, base: str, usage: dict[str, Counter[str]]) -> Unit:
    from simulator.export.fhir import FhirContext
    from simulator.export.fhir.bundle import shared_resources
    from simulator.worker import run_world

    shared = run_world(config)
    ctx = FhirContext(shared.network, shared.payers)
    resources = shared_resources(ctx, usage["orgs"], usage["clinicians"], virtual=True)
    return Unit(SHARED_UNIT, record_items(((r, False) for r in resources), base))
