"""Tracking: lineage walks, MLflow logging of every candidate and experiment pictures."""

from evoforum.tracking.ancestry import ancestry, closure, generation_fitness, pareto_front
from evoforum.tracking.mlflow_sink import CandidateFiles, MlflowLineage

__all__ = ["CandidateFiles", "MlflowLineage", "ancestry", "closure", "generation_fitness", "pareto_front"]
