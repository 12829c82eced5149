"""``StateMachine``: states that are flows (or nested machines), joined by guarded transitions.

A machine is data: ``states`` maps names to ``State``s (or bare flows/machines), ``transitions``
is a list of ``Transition(source, target, when=guard, action=fn)`` naming states by name.
``build()`` checks it once (unknown names, unreachable states, guards whose parameter type does
not fit the state's output, every body flow) and returns a runnable ``CompiledMachine``.

**Values.** A run keeps one dictionary of named values, started from the run inputs. Each state's
body takes its flow inputs from it by name, and after the body ran every output it produced is
written back under its output name; a transition's ``action`` may return more values. So when a
loop comes back to a state (write → run → fix → run), that state reads the *newest* values.

**One step, in order** (the order callbacks run in)::

    1. state.on_enter(values)        the values the body is about to read
    2. the body runs                 its output: the leaf's output, or {leaf output name: value}
    3. guards, in declaration order  when(output) for each transition leaving the state, until
                                     one passes (a transition without ``when`` always passes)
    4. state.on_exit(output)
    5. transition.action(output)     its returned mapping (if any) is merged into the values
    6. the target's on_enter …       next step

A state without outgoing transitions is final: the machine ends there with that state's output.
A non-final state whose guards all fail raises ``RunError``. More than ``max_steps`` steps raise
``StepLimitExceeded``. A nested machine runs as one state of its parent (its steps count toward
its own limit); paths of states are tuples, outermost first: ``("review", "draft")``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evoforum.flow.compiled import CompiledMachine

if TYPE_CHECKING:
    from evoforum.flow.result import MachineResult
    from evoforum.flow.runtime import Runtime

Body = Union["StateMachine", Any]
"""A state's body: a ``Flow``, a ``CompiledFlow``, a single ``Task``, or a ``StateMachine``."""

Guard = Callable[[Any], "bool | Awaitable[bool]"]
"""A transition guard: told the state's output, says whether to move (may be ``async``)."""
Action = Callable[[Any], Mapping[str, Any] | None]


class State(BaseModel):
    """One state: its body and optional entry/exit callbacks."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    body: Any
    on_enter: Callable[[Mapping[str, Any]], None] | None = None
    on_exit: Callable[[Any], None] | None = None


class Transition(BaseModel):
    """A move from ``source`` to ``target`` when ``when(output)`` holds; ``action`` may add values."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    source: str
    target: str
    when: Guard | None = None
    action: Action | None = None

    def __init__(
        self,
        source: str,
        target: str,
        *,
        when: Guard | None = None,
        action: Action | None = None,
    ) -> None:
        super().__init__(source=source, target=target, when=when, action=action)


class StateMachine(BaseModel):
    """States, transitions, the initial state (the first state when omitted) and a step limit."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    states: dict[str, State]
    transitions: tuple[Transition, ...] = ()
    initial: str = ""
    max_steps: int = Field(default=20, ge=1)
    """The step limit; the genome's ``MachineSpec.max_steps`` has the same default (a safe bound
    for evolved workflows)."""

    @model_validator(mode="before")
    @classmethod
    def _wrap_bodies(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("states"), Mapping):
            states = {
                name: value if isinstance(value, State | dict) else State(body=value)
                for name, value in data["states"].items()
            }
            data = {**data, "states": states}
            if not data.get("initial") and states:
                data["initial"] = next(iter(states))
        return data

    def build(self) -> CompiledMachine:
        """Check the machine once; ``FlowInvalid`` lists every problem with its path."""
        return CompiledMachine(self)

    async def run(
        self, inputs: Mapping[str, Any] | None = None, *, runtime: Runtime | None = None
    ) -> MachineResult:
        """Build and run once (build once and reuse the ``CompiledMachine`` to run many times)."""
        return await self.build().run(inputs, runtime=runtime)
