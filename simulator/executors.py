"""Where shards run: in the parent (one worker), in local worker processes, or on a Dask cluster.

All three take :class:`~simulator.shard.ShardTask` s and give back futures of
:class:`~simulator.shard.ShardResult` s; the run merges them in shard order, so the output is
the same wherever the shards ran.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import multiprocessing
import signal
from collections.abc import Callable
from typing import Any, Protocol

from simulator.config import RunConfig
from simulator.engine.program import Program
from simulator.errors import UserError
from simulator.shard import ShardResult, ShardTask, run_shard, tune_gc, unfreeze
from simulator.worker import preload


class ShardFuture(Protocol):
    def result(self) -> ShardResult: ...
    def cancel(self) -> bool: ...


class Executor(Protocol):
    slots: int  # shards worth keeping in flight

    def submit(self, task: ShardTask) -> ShardFuture: ...
    def close(self, abort: bool = False) -> None: ...


class _Deferred:
    """Runs the shard when its result is asked for: one worker, in the parent."""

    def __init__(self, work: Callable[[], ShardResult]) -> None:
        self._work = work

    def result(self) -> ShardResult:
        return self._work()

    def cancel(self) -> bool:
        return True


class InlineExecutor:
    slots = 1

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self._old_thresholds = tune_gc()

    def submit(self, task: ShardTask) -> ShardFuture:
        return _Deferred(lambda: run_shard(self.config, task))

    def close(self, abort: bool = False) -> None:
        gc.set_threshold(*self._old_thresholds)
        unfreeze()


def _init_local_worker() -> None:
    # Ctrl-C is the parent's to handle: it stops the workers and records how far the run got.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_gc()


class LocalExecutor:
    """Worker processes on this machine. Forked workers inherit the parent's compiled modules."""

    def __init__(self, config: RunConfig, program: Program, workers: int) -> None:
        self.config = config
        self.slots = 2 * workers
        preload(config, program)
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.pool = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_local_worker)

    def submit(self, task: ShardTask) -> ShardFuture:
        return self.pool.submit(run_shard, self.config, task)

    def close(self, abort: bool = False) -> None:
        if abort:
            # Workers may be mid-shard: stop them now; their part folders are never merged.
            processes = list(getattr(self.pool, "_processes", {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in processes:
                p.terminate()
            for p in processes:
                p.join(5)
        else:
            self.pool.shutdown(wait=True)


def _dask_shard(config: RunConfig, task: ShardTask) -> ShardResult:
    tune_gc()  # idempotent: a Dask worker process only runs shards
    return run_shard(config, task)


CONNECT_TIMEOUT = "20s"  # to reach the scheduler


class DaskExecutor:
    """Shards as tasks on a Dask distributed cluster. Every worker writes into the run's output
    folder, so it must be a path all of them can reach (a shared filesystem). A worker that dies
    mid-shard has its shard re-run elsewhere by the scheduler."""

    def __init__(self, config: RunConfig, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - distributed is a dependency
            raise UserError("option --cluster: dask.distributed is not installed "
                            "(pip install distributed)") from None
        self.config = config
        try:
            self.client: Any = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"option --cluster: cannot connect to a Dask scheduler at "
                            f"{address!r}: {exc}") from None
        threads = sum(self.client.nthreads().values()) or 1
        self.slots = 2 * threads

    def submit(self, task: ShardTask) -> ShardFuture:
        return self.client.submit(_dask_shard, self.config, task, pure=False,  # type: ignore[no-any-return]
                                  key=f"shard-{task.folder}-{id(self)}")

    def close(self, abort: bool = False) -> None:
        self.client.close()


def executor_for(config: RunConfig, program: Program, shards: int | None) -> Executor:
    if config.cluster:
        return DaskExecutor(config, config.cluster)
    workers = max(1, config.workers)
    if shards is not None:
        workers = min(workers, shards)
    if workers <= 1:
        return InlineExecutor(config)
    return LocalExecutor(config, program, workers)
