"""evoforum: evolve LLM multi-agent workflows.

The public surface, by layer (docs/design.md "Public names")::

    message trees   Message, MessagePromise, Forum, agent
    workflows       task, dag, Flow, StateMachine, State, Transition, Retry, Depends, Runtime, providers
    language models LLMClient, OpenAICompatible, chat
    genomes         WorkflowGenome, to_workflow, codegen (export, parse)
    experiments     ExperimentConfig, load_config, local_services
    errors          EvoforumError and its tree (evoforum.errors)

Names are imported on first use, so ``import evoforum`` stays cheap and loads no backend.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from evoforum.errors import (
    ConfigError,
    EvoforumError,
    GenomeInvalid,
    LLMError,
    RunError,
    UsageError,
)

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Message": "evoforum.forum",
    "MessagePromise": "evoforum.forum",
    "Forum": "evoforum.forum",
    "agent": "evoforum.forum",
    "task": "evoforum.flow",
    "dag": "evoforum.flow",
    "Flow": "evoforum.flow",
    "StateMachine": "evoforum.flow",
    "State": "evoforum.flow",
    "Transition": "evoforum.flow",
    "Retry": "evoforum.flow",
    "Depends": "evoforum.flow",
    "Runtime": "evoforum.flow",
    "RunResult": "evoforum.flow",
    "providers": "evoforum.flow",
    "LLMClient": "evoforum.llm",
    "OpenAICompatible": "evoforum.llm",
    "chat": "evoforum.llm",
    "WorkflowGenome": "evoforum.genome",
    "to_workflow": "evoforum.genome",
    "ExperimentConfig": "evoforum.config",
    "load_config": "evoforum.config",
    "local_services": "evoforum.services",
}
_SUBMODULES = {
    "codegen",
    "config",
    "errors",
    "evolve",
    "flow",
    "forum",
    "genome",
    "hashing",
    "llm",
    "tracking",
}

__all__ = [
    "ConfigError",
    "Depends",
    "EvoforumError",
    "ExperimentConfig",
    "Flow",
    "Forum",
    "GenomeInvalid",
    "LLMClient",
    "LLMError",
    "Message",
    "MessagePromise",
    "OpenAICompatible",
    "Retry",
    "RunError",
    "RunResult",
    "Runtime",
    "State",
    "StateMachine",
    "Transition",
    "UsageError",
    "WorkflowGenome",
    "__version__",
    "agent",
    "chat",
    "codegen",
    "dag",
    "load_config",
    "local_services",
    "providers",
    "task",
    "to_workflow",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"evoforum.{name}")
    raise AttributeError(f"module 'evoforum' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


if TYPE_CHECKING:
    from evoforum import codegen
    from evoforum.config import ExperimentConfig, load_config
    from evoforum.flow import (
        Depends,
        Flow,
        Retry,
        RunResult,
        Runtime,
        State,
        StateMachine,
        Transition,
        dag,
        providers,
        task,
    )
    from evoforum.forum import Forum, Message, MessagePromise, agent
    from evoforum.genome import WorkflowGenome, to_workflow
    from evoforum.llm import LLMClient, OpenAICompatible, chat
    from evoforum.services import local_services
