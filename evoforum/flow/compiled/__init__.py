"""Checked, immutable, runnable workflows: what ``Flow.build()`` and ``StateMachine.build()`` return.

``CompiledFlow`` runs a task graph through the scheduler; ``CompiledMachine`` runs a state machine
whose states are compiled flows or machines. Nothing here imports the specs of
``evoforum.flow.task`` and ``evoforum.flow.machine``: they are read, never built, here.
"""

from evoforum.flow.compiled.flow import CompiledFlow
from evoforum.flow.compiled.machine import CompiledMachine

__all__ = ["CompiledFlow", "CompiledMachine"]
