"""Function trainables run inside Ray Tune trials (importable, so workers find them by name)."""

from __future__ import annotations

import base64
import pickle
from typing import Any

from evoforum.evolve.evaluate import ItemFn, Job, run_jobs


def encode(value: Any) -> str:
    return base64.b64encode(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")


def decode(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def batch_trial(config: dict[str, Any], fn: ItemFn, batches: list[list[Job]]) -> None:
    """One trial scores one batch of jobs and reports the results (pickled) as a metric."""
    from ray import tune

    results = run_jobs(fn, batches[config["batch"]])
    tune.report({"jobs": len(results), "results": encode(results)})


def worker_trial(config: dict[str, Any], fn: ItemFn, inbox: Any, outbox: Any) -> None:
    """A long-lived trial: takes batches from ``inbox`` until it gets ``None``; results go to ``outbox``.

    This keeps per-generation overhead to two queue hops instead of a Tune experiment per call.
    """
    from ray import tune

    done = 0
    while True:
        message = inbox.get(block=True)
        if message is None:
            break
        ticket, jobs = message
        try:
            outbox.put((ticket, run_jobs(fn, jobs)))
        except Exception as error:  # handed to the waiting driver, which raises it
            outbox.put((ticket, error))
        done += len(jobs)
    tune.report({"jobs": done})
