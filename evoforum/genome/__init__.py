"""The workflow genome: frozen, closed data that evolution works on, and its validation.

The data model and its validation depend on pydantic (and evoforum's errors and hashing) alone.
``compile(genome)`` (``evoforum.genome.runnable``, imported on first use) turns a valid genome
into a runnable workflow of ``evoforum.flow``.
"""

from typing import Any

from evoforum.genome.agents import Agent, FunctionAgent, LLMAgent, OutputSchema
from evoforum.genome.constraints import Constraints
from evoforum.genome.flows import (
    Always,
    Compare,
    DagSpec,
    FromInput,
    FromTask,
    Guard,
    MachineSpec,
    Predicate,
    StateSpec,
    TaskSpec,
    Transition,
    Wire,
)
from evoforum.genome.model import HASHED_FIELDS, Metadata, WorkflowGenome
from evoforum.genome.validate import EXPORT_NAMES, find_problems

__all__ = [
    "EXPORT_NAMES",
    "HASHED_FIELDS",
    "Agent",
    "Always",
    "Compare",
    "Constraints",
    "DagSpec",
    "FromInput",
    "FromTask",
    "FunctionAgent",
    "Guard",
    "LLMAgent",
    "MachineSpec",
    "Metadata",
    "OutputSchema",
    "Predicate",
    "StateSpec",
    "TaskSpec",
    "Transition",
    "Wire",
    "WorkflowGenome",
    "compile",
    "find_problems",
]


def __getattr__(name: str) -> Any:
    if name == "compile":
        from evoforum.genome.runnable import compile

        return compile
    raise AttributeError(f"module 'evoforum.genome' has no attribute {name!r}")
