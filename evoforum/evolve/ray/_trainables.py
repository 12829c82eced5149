"""Function trainables run inside Ray Tune trials (importable, so workers find them by name)."""

from __future__ import annotations

import base64
import pickle
from typing import Any

from evoforum.evolve.evaluate import ItemFn, Job, run_jobs
from evoforum.evolve.ray._channel import serve


def encode(value: Any) -> str:
    return base64.b64encode(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")


def decode(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def batch_trial(config: dict[str, Any], fn: ItemFn, batches: list[list[Job]]) -> None:
    """One trial scores one batch of jobs and reports the results (pickled) as a metric."""
    from ray import tune

    results = run_jobs(fn, batches[config["batch"]])
    tune.report({"jobs": len(results), "results": encode(results)})


def worker_trial(config: dict[str, Any], fn: ItemFn, address: tuple[str, int], key: bytes) -> None:
    """A long-lived trial: connects to the driver at ``address`` and scores the batches it sends
    until the driver closes the link (see ``_channel``), then reports how many jobs it ran."""
    from ray import tune

    tune.report({"jobs": serve(address, key, fn)})
