"""Tracking: lineage walks, MLflow logging of every candidate and experiment pictures."""

from evoforum.tracking._population import PopulationLineage
from evoforum.tracking.ancestry import ancestry, closure, generation_fitness, pareto_front
from evoforum.tracking.mlflow_sink import MlflowLineage
from evoforum.tracking.runs import WORKFLOWS, CandidateFiles

__all__ = [
    "WORKFLOWS",
    "CandidateFiles",
    "MlflowLineage",
    "PopulationLineage",
    "ancestry",
    "closure",
    "generation_fitness",
    "pareto_front",
]
