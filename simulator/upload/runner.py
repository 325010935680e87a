"""Drives units through the sender: a producer (files or the simulation) feeds a bounded
queue that ``concurrency`` tasks drain, one unit at a time each. A barrier between groups
(shared resources before patients; one NDJSON resource type before the next) waits until
everything before it is on the server."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import UserError
from simulator.upload.client import Sender, UploadOptions
from simulator.upload.journal import Journal
from simulator.upload.payload import (
    Item,
    PayloadError,
    Unit,
    bundle_items,
    ndjson_items,
    type_rank,
)
from simulator.upload.report import UploadStats

NDJSON_BLOCK = 100  # lines per unit
SIDE_BUNDLES = ("hospitalInformation", "practitionerInformation")


class Barrier:
    """In a unit stream: wait until every unit before it has finished."""


BARRIER = Barrier()
Source = AsyncIterator["Unit | Barrier"]


@dataclass
class Plan:
    """What `simulate upload DIR` will send."""

    kind: str  # "bundles" or "ndjson"
    files: list[Path]
    total_units: int
    identity: str  # names and sizes of the files, for the journal


def plan_folder(folder: Path, prefer: str | None = None) -> Plan:
    """Bundle files (``fhir/`` of a run, or a folder of them) or NDJSON (``fhir_ndjson/``)."""
    if not folder.exists():
        raise UserError(f"upload: {folder} does not exist")
    candidates = {"bundles": [], "ndjson": []}
    roots = [folder / "fhir", folder / "fhir_ndjson", folder] if folder.is_dir() else [folder]
    for root in roots:
        if root.is_file():
            kind = "ndjson" if root.suffix == ".ndjson" else "bundles"
            candidates[kind].append(root)
        elif root.is_dir():
            candidates["bundles"].extend(p for p in root.glob("*.json") if p.name != "parameters.json"
                                         and p.name != "run.json")
            candidates["ndjson"].extend(root.glob("*.ndjson"))
    for kind in candidates:
        candidates[kind] = sorted(set(candidates[kind]))
    kinds = [prefer] if prefer is not None else [k for k in ("bundles", "ndjson") if candidates[k]]
    if not kinds or not candidates[kinds[0]]:
        what = {"bundles": "FHIR bundle files (*.json)", "ndjson": "NDJSON files (*.ndjson)"}
        wanted = what[prefer] if prefer else "FHIR bundles (*.json) or NDJSON (*.ndjson)"
        raise UserError(f"upload: no {wanted} in {folder} (or its fhir/ and fhir_ndjson/ folders)")
    kind = kinds[0]
    files = candidates[kind]
    if kind == "bundles":
        side = [p for p in files if p.name.startswith(SIDE_BUNDLES)]
        files = side + [p for p in files if p not in side]
        total = len(files)
    else:
        files.sort(key=lambda p: (type_rank(p.stem), p.name))
        total = sum(-(-_count_lines(p) // NDJSON_BLOCK) for p in files)
    digest = hashlib.sha256()
    for p in files:
        digest.update(f"{p.resolve()}:{p.stat().st_size}\n".encode())
    return Plan(kind, files, total, digest.hexdigest())


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            n += bool(line.strip())
    return n


async def file_units(plan: Plan, base: str) -> Source:
    if plan.kind == "bundles":
        side = True
        for path in plan.files:
            if side and not path.name.startswith(SIDE_BUNDLES):
                side = False
                yield BARRIER  # organizations and clinicians before the patients that cite them
            items = await asyncio.to_thread(_read_bundle, path, base)
            yield Unit(f"bundle:{path.name}", items)
        return
    current = None
    for path in plan.files:
        if current is not None and current != path.stem:
            yield BARRIER
        current = path.stem
        for first, lines in _blocks(path):
            items = ndjson_items(lines, first, str(path))
            yield Unit(f"ndjson:{path.name}:{first}", items, single=True)


def _read_bundle(path: Path, base: str) -> list[Item]:
    import orjson

    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise PayloadError(f"{path}: cannot read: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"{path}: not JSON ({exc})") from None
    return bundle_items(data, base, str(path))


def _blocks(path: Path) -> Iterator[tuple[int, list[bytes]]]:
    block: list[bytes] = []
    first = 1
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            if not block:
                first = n
            block.append(line)
            if len(block) == NDJSON_BLOCK:
                yield first, block
                block = []
    if block:
        yield first, block


class Upload:
    """One upload: sender, journal, stats, and the rules for stopping early."""

    def __init__(self, options: UploadOptions, journal: Journal,
                 progress: Callable[[int], None] | None = None,
                 transport: Any = None) -> None:
        self.options = options
        self.transport = transport  # an httpx transport in place of the network (tests)
        self.journal = journal
        self.stats = UploadStats(options.url, dry_run=options.dry_run)
        self.progress = progress
        self.confirmed: set[str] = set()  # shared resources the server has stored
        self._deadline = (time.monotonic() + options.duration) if options.duration else None

    def stopping(self) -> bool:
        stats, options = self.stats, self.options
        if stats.stopped:
            return True
        if self._deadline is not None and time.monotonic() >= self._deadline:
            stats.stopped = f"--duration {options.duration:g} s reached"
        elif options.max_requests is not None and stats.requests >= options.max_requests:
            stats.stopped = f"--max-requests {options.max_requests} reached"
        return stats.stopped is not None

    async def run(self, source: Source) -> UploadStats:
        sender = Sender(self.options, self.stats, self.transport)
        queue: asyncio.Queue[Unit | None] = asyncio.Queue(maxsize=max(self.options.concurrency, 1))
        workers = [asyncio.create_task(self._worker(sender, queue))
                   for _ in range(max(self.options.concurrency, 1))]
        try:
            async for unit in source:
                if self.stopping():
                    break
                if isinstance(unit, Barrier):
                    await queue.join()
                    continue
                if unit.key in self.journal.done:
                    self.stats.units_skipped += 1
                    self._advance()
                    continue
                await queue.put(unit)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()  # stops the producer (and a simulation's worker processes)
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await sender.close()
            self.journal.close()
            self.stats.finished = time.monotonic()
        return self.stats

    def _advance(self) -> None:
        if self.progress is not None:
            self.progress(1)

    async def _worker(self, sender: Sender, queue: asyncio.Queue[Unit | None]) -> None:
        while True:
            unit = await queue.get()
            try:
                if unit is None:
                    return
                if self.stopping():
                    continue  # left for a resumed upload
                complete = await self._unit(sender, unit)
                if complete is None:
                    continue
                if complete:
                    self.stats.units_done += 1
                    self.journal.finished(unit.key, unit.note)
                else:
                    self.stats.units_failed += 1
                self._advance()
            finally:
                queue.task_done()

    async def _unit(self, sender: Sender, unit: Unit) -> bool | None:
        """True: all stored; False: some failed; None: stopped part-way (sent again on resume)."""
        ok = True
        if unit.single:
            for item in unit.items:
                if self.stopping():
                    return None
                ok = await sender.put(unit.key, item) and ok
            return ok
        items = []
        for item in unit.items:
            if item.shared and item.key in self.confirmed:
                self.stats.shared_skipped += 1
            else:
                items.append(item)
        size = max(self.options.bundle_size, 1)
        for start in range(0, len(items), size):
            if self.stopping():
                return None
            chunk = items[start:start + size]
            stored = await sender.bundle(unit.key, chunk)
            if len(stored) < len(chunk):
                ok = False
            shared = {item.key for item in chunk if item.shared}
            self.confirmed.update(key for key in stored if key in shared)
        return ok
