"""Tracking: lineage walks, MLflow logging of every candidate and experiment pictures."""

from evoforum.tracking._population import PopulationLineage
from evoforum.tracking.ancestry import ancestry
from evoforum.tracking.mlflow_sink import MlflowLineage
from evoforum.tracking.runs import CandidateFiles

__all__ = [
    "CandidateFiles",
    "MlflowLineage",
    "PopulationLineage",
    "ancestry",
]
