"""Tracking: lineage walks, MLflow logging of every candidate (and its conversations as traces) and
experiment pictures."""

from evoforum.tracking._population import PopulationLineage
from evoforum.tracking.ancestry import ancestry
from evoforum.tracking.mlflow_sink import MlflowLineage
from evoforum.tracking.runs import CandidateFiles
from evoforum.tracking.traces import ConversationTraces

__all__ = [
    "CandidateFiles",
    "ConversationTraces",
    "MlflowLineage",
    "PopulationLineage",
    "ancestry",
]
