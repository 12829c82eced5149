"""Workflows: typed tasks, flows built with ``>>``, state machines, dependency injection.

``@task`` makes a function a task; ``a >> [b, c] >> d`` (or ``dag(...)``) makes a ``Flow``;
``flow.build()`` checks it once and returns a ``CompiledFlow`` to ``run``. ``StateMachine`` joins
flows with guarded transitions. ``Depends`` injects resources that a ``Runtime`` holds.
"""

from evoforum.flow import providers
from evoforum.flow.compiled import CompiledFlow, CompiledMachine
from evoforum.flow.depends import Depends, Scope, provider
from evoforum.flow.machine import State, StateMachine, Transition
from evoforum.flow.result import MachineResult, RunResult, TaskOutcome, TaskState
from evoforum.flow.runtime import Runtime
from evoforum.flow.task import Flow, Retry, Task, dag, task

__all__ = [
    "CompiledFlow",
    "CompiledMachine",
    "Depends",
    "Flow",
    "MachineResult",
    "Retry",
    "RunResult",
    "Runtime",
    "Scope",
    "State",
    "StateMachine",
    "Task",
    "TaskOutcome",
    "TaskState",
    "Transition",
    "dag",
    "provider",
    "providers",
    "task",
]
