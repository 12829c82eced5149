"""The workflow genome: frozen, closed data that evolution works on, and its validation.

The data model and its validation depend on pydantic (and evoforum's errors and hashing) alone.
``to_workflow(genome)`` (``evoforum.genome.runnable``, imported on first use) turns a valid genome
into a runnable workflow of ``evoforum.flow``.
"""

from typing import Any

from evoforum.genome.agents import (
    AgentSpec,
    FunctionAgentSpec,
    LLMAgentSpec,
    OutputSchemaSpec,
    RecallSpec,
    RememberSpec,
    RequestSpec,
)
from evoforum.genome.constraints import Constraints
from evoforum.genome.flows import (
    AlwaysSpec,
    CompareSpec,
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    GuardSpec,
    MachineSpec,
    PredicateSpec,
    StateSpec,
    TaskSpec,
    TransitionSpec,
    WireSpec,
)
from evoforum.genome.model import HASHED_FIELDS, Metadata, WorkflowGenome

__all__ = [
    "HASHED_FIELDS",
    "AgentSpec",
    "AlwaysSpec",
    "CompareSpec",
    "Constraints",
    "DagSpec",
    "FromInputSpec",
    "FromTaskSpec",
    "FunctionAgentSpec",
    "GuardSpec",
    "LLMAgentSpec",
    "MachineSpec",
    "Metadata",
    "OutputSchemaSpec",
    "PredicateSpec",
    "RecallSpec",
    "RememberSpec",
    "RequestSpec",
    "StateSpec",
    "TaskSpec",
    "TransitionSpec",
    "WireSpec",
    "WorkflowGenome",
    "to_workflow",
]


def __getattr__(name: str) -> Any:
    if name == "to_workflow":
        from evoforum.genome.runnable import to_workflow

        return to_workflow
    raise AttributeError(f"module 'evoforum.genome' has no attribute {name!r}")
