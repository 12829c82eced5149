"""Running experiments: from an ``ExperimentConfig`` and an output folder to a reported winner.

::

    summary = await run_experiment(load_config("configs/quickstart.yaml"), Path("runs/quickstart"))
    summary = await resume_experiment(Path("runs/quickstart"))      # after a crash or a kill
    winner_source(Path("runs/quickstart"))                          # the winner as Python code

Modules, by what they hold: ``experiment`` (``run_experiment``), ``progress`` (the live
progress, ``progress.json`` and the wall-clock and LLM budgets) and ``display`` (how progress is
shown: live, plain, JSON or not at all), ``plan`` (what
the config asks for: ``design``, ``plan``, ``StopFlag``, the operators and the edit memory),
``algorithms`` (``ALGORITHMS`` and the baselines), ``scoring`` (the workflow item scorer, on the
driver or on Ray workers), ``resources`` (services, forum store, model client), ``llm`` (the
run's model layers and shared budget) and ``folder`` (``RunFolder``: the output folder's files,
``RunSummary``: what ``summary.json`` is).
"""

from __future__ import annotations

from evoforum.run.algorithms import ALGORITHMS
from evoforum.run.experiment import resume_experiment, run_experiment, winner_source
from evoforum.run.folder import RunFolder, RunSummary, lineage_rows
from evoforum.run.plan import Design, Plan, StopFlag, design, plan
from evoforum.run.resources import show_conversation

__all__ = [
    "ALGORITHMS",
    "Design",
    "Plan",
    "RunFolder",
    "RunSummary",
    "StopFlag",
    "design",
    "lineage_rows",
    "plan",
    "resume_experiment",
    "run_experiment",
    "show_conversation",
    "winner_source",
]
