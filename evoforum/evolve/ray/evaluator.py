"""``RayTuneEvaluator``: jobs evaluated in Ray Tune trials, many candidates per trial.

A Tune trial costs ~0.25 s even with ``reuse_actors=True``, far more than one cheap candidate, so
jobs are always batched. Two modes:

* ``persistent=True`` (default): one Tune experiment runs for the evaluator's lifetime with
  ``workers`` long-lived trials, each connected to the driver by a socket (``_channel``);
  each ``evaluate`` call hands batches to whichever trial is free. Overhead per batch is one
  write and one read (well under a millisecond), which cheap candidates need.
* ``persistent=False``: each ``evaluate`` call runs one Tune experiment whose trials each score
  one batch (``tune.with_parameters`` ships the batches through the object store).

Ray is started on first use (``num_cpus=workers``, no dashboard, quiet, files under a short
temporary folder) unless it is already running or ``address`` names a cluster. Workers import
``fn`` by its module name; ``by_value=True`` ships the module's code instead (scripts, tests).
Tune's verbose output and per-trial result loggers are switched off through its environment
variables. The evaluator shuts down only a Ray it started itself, never a cluster it joined.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from itertools import count
from pathlib import Path
from typing import Any

from evoforum.errors import BackendError, RunError, ServiceUnavailable
from evoforum.evolve.evaluate import ItemFn, ItemResult, Job, chunks
from evoforum.evolve.ray._channel import Hub
from evoforum.evolve.ray._trainables import batch_trial, decode, worker_trial

_QUIET = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:  # pragma: no cover - ray is a dependency
        raise BackendError("Ray is not installed: uv add 'ray[tune]'", cause=str(error)) from None
    return ray


class RayTuneEvaluator:
    """Evaluates jobs with ``fn`` in Ray Tune trials; see the module docstring.

    Each call is split into at most ``workers * batches_per_worker`` batches of at least
    ``min_batch`` jobs; a free trial takes the next batch, so ``batches_per_worker > 1`` evens
    out jobs of uneven cost, and a large ``min_batch`` saves exchanges on jobs of microseconds.
    """

    def __init__(
        self,
        fn: ItemFn,
        *,
        workers: int = 2,
        address: str | None = None,
        persistent: bool = True,
        batches_per_worker: int = 1,
        min_batch: int = 1,
        storage_path: Path | None = None,
        temp_dir: Path | None = None,
        by_value: bool = False,
    ) -> None:
        self.fn = fn
        self.workers = workers
        self.address = address
        self.persistent = persistent
        self.batches_per_worker = batches_per_worker
        self.min_batch = min_batch
        self.storage_path = storage_path
        self.temp_dir = temp_dir
        self.by_value = by_value
        self._names = count()
        self._hub: Hub | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._started_ray = False
        self._owned: list[Path] = []

    # -- setup ---------------------------------------------------------------------------------

    def _ray(self) -> Any:
        for key, value in _QUIET.items():
            os.environ.setdefault(key, value)
        ray = _import_ray()
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address is None:
                temp = self.temp_dir or self._own(Path(tempfile.mkdtemp(prefix="efray-")))
                options.update(num_cpus=self.workers, _temp_dir=str(temp))
            try:
                ray.init(address=self.address, **options)
            except Exception as error:  # vendor error, translated at the seam
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
                raise ServiceUnavailable(f"cannot start or reach {where}: {error}") from None
            self._started_ray = True
        if self.by_value:
            import sys

            from ray import cloudpickle

            cloudpickle.register_pickle_by_value(sys.modules[self.fn.__module__])  # type: ignore[no-untyped-call]
        if self.storage_path is None:
            self.storage_path = self._own(Path(tempfile.mkdtemp(prefix="eftune-")))
        return ray

    def _own(self, path: Path) -> Path:
        self._owned.append(path)
        return path

    def _tuner(self, trainable: Any, space: dict[str, Any], concurrent: int) -> Any:
        from ray import tune

        return tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=concurrent),
            run_config=tune.RunConfig(
                name=f"evaluate-{os.getpid()}-{next(self._names)}",
                storage_path=str(self.storage_path),
                verbose=0,
            ),
        )

    # -- evaluation ----------------------------------------------------------------------------

    async def evaluate(self, jobs: Sequence[Job]) -> list[ItemResult]:
        if not jobs:
            return []
        count = min(self.workers * self.batches_per_worker, -(-len(jobs) // max(1, self.min_batch)))
        parts = chunks(jobs, count)
        if self.persistent:
            return await self._via_workers(parts)
        return await asyncio.to_thread(self._via_trials, parts)

    def _via_trials(self, parts: list[list[Job]]) -> list[ItemResult]:
        self._ray()
        from ray import tune

        trainable = tune.with_parameters(batch_trial, fn=self.fn, batches=parts)
        space = {"batch": tune.grid_search(list(range(len(parts))))}
        grid = self._tuner(trainable, space, min(self.workers, len(parts))).fit()
        by_batch: dict[int, list[ItemResult]] = {}
        for result in grid:
            if result.error is not None:
                raise RunError(f"an evaluation trial failed: {result.error}")
            by_batch[int(result.config["batch"])] = decode(result.metrics["results"])
        return [item for index in range(len(parts)) for item in by_batch[index]]

    async def _via_workers(self, parts: list[list[Job]]) -> list[ItemResult]:
        hub = self._start_workers()
        found = await hub.run(parts, self._stopped)
        return [item for part in found for item in part]

    def _stopped(self) -> BaseException | None:
        """Why the worker trials ended, or ``None`` while they run."""
        if self._thread is not None and self._thread.is_alive():
            return None
        return self._failure or RunError("the Tune experiment of the worker trials ended")

    def _start_workers(self) -> Hub:
        if self._hub is not None:
            return self._hub
        ray = self._ray()
        from ray import tune

        hub = Hub(ray.util.get_node_ip_address())
        trainable = tune.with_parameters(worker_trial, fn=self.fn, address=hub.address, key=hub.key)
        space = {"worker": tune.grid_search(list(range(self.workers)))}
        tuner = self._tuner(trainable, space, self.workers)

        def fit() -> None:
            try:
                grid = tuner.fit()
                errors = [result.error for result in grid if result.error is not None]
                if errors:
                    self._failure = errors[0]
            except BaseException as error:  # reported by the waiting evaluate() call
                self._failure = error

        self._thread = threading.Thread(target=fit, name="evoforum-tune", daemon=True)
        self._thread.start()
        self._hub = hub
        return hub

    async def aclose(self) -> None:
        """Stop the worker trials and leave Ray if this evaluator joined it: a local Ray it
        started stops with that; a cluster given by ``address`` keeps running."""
        if self._hub is not None:
            self._hub.close()  # each trial sees its link close and ends
            if self._thread is not None:
                await asyncio.to_thread(self._thread.join, 120)
            self._hub, self._thread = None, None
        if self._started_ray:
            _import_ray().shutdown()
            self._started_ray = False
        if self.storage_path in self._owned:
            self.storage_path = None
        for path in self._owned:
            shutil.rmtree(path, ignore_errors=True)
        self._owned.clear()
