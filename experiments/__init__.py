"""Experiments: datasets with train/valid/test splits and scorers (or a genome of their own).

``get("quickstart", options, seed)`` returns a ready experiment; ``EXPERIMENTS`` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from experiments._base import Experiment, Problem, Splits, split

EXPERIMENTS: dict[str, str] = {
    "quickstart": "experiments.quickstart:Quickstart",
    "humaneval": "experiments.humaneval:HumanEval",
    "reasoning": "experiments.reasoning:Reasoning",
    "symbolic_regression": "experiments.symbolic_regression:SymbolicRegression",
    "sim_workflow": "experiments.sim_workflow:SimWorkflow",
}


def get(name: str, options: Mapping[str, Any] | None = None, seed: int = 0) -> Experiment:
    """The experiment called ``name``; ``ConfigError`` (with a hint) when there is none."""
    import importlib

    from evoforum.errors import ConfigError, did_you_mean

    if name not in EXPERIMENTS:
        known = ", ".join(sorted(EXPERIMENTS))
        raise ConfigError(
            f"unknown experiment {name!r}{did_you_mean(name, list(EXPERIMENTS))}; known: {known}"
        )
    module, _, cls = EXPERIMENTS[name].partition(":")
    experiment: Experiment = getattr(importlib.import_module(module), cls)(options, seed)
    return experiment


__all__ = ["EXPERIMENTS", "Experiment", "Problem", "Splits", "get", "split"]
