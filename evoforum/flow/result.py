"""What a flow run gives back: each task's state, output or error, and the transcript hash."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from evoforum.errors import TaskFailed
from evoforum.hashing import Hash


class TaskState(enum.Enum):
    """Where a task ended up. ``UPSTREAM_FAILED``: it never ran because a parent failed."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"


@dataclasses.dataclass(frozen=True, slots=True)
class TaskOutcome:
    """One task of a run: its state, its output (when it succeeded) or its error."""

    name: str
    state: TaskState
    output: Any = None
    error: TaskFailed | None = None
    attempts: int = 0


@dataclasses.dataclass(frozen=True)
class RunResult:
    """The outcome of one flow run.

    ``tasks`` maps task names to outcomes in the order they were scheduled; ``outputs`` maps
    output names of succeeded tasks to their values; ``output`` is the single leaf's output, or a
    dict of leaf outputs when there are several. ``transcript`` is the leaf hash of the run's
    branch in the forum (None when the runtime keeps no transcript).
    """

    tasks: Mapping[str, TaskOutcome]
    leaves: tuple[str, ...]
    output_names: Mapping[str, str]
    transcript: Hash | None = None

    @property
    def ok(self) -> bool:
        """Whether every task succeeded."""
        return all(o.state is TaskState.SUCCEEDED for o in self.tasks.values())

    @property
    def errors(self) -> dict[str, TaskFailed]:
        """The error of each task that did not succeed."""
        return {name: o.error for name, o in self.tasks.items() if o.error is not None}

    @property
    def outputs(self) -> dict[str, Any]:
        """Outputs of succeeded tasks, by output name (later tasks win on equal names)."""
        return {
            self.output_names[name]: o.output
            for name, o in self.tasks.items()
            if o.state is TaskState.SUCCEEDED
        }

    @property
    def output(self) -> Any:
        """The leaf output (or a dict of them); raises the first leaf's ``TaskFailed`` if any."""
        for name in self.leaves:
            error = self.tasks[name].error
            if error is not None:
                raise error
        if len(self.leaves) == 1:
            return self.tasks[self.leaves[0]].output
        return {self.output_names[name]: self.tasks[name].output for name in self.leaves}

    def raise_for_failure(self) -> RunResult:
        """This result when every task succeeded; otherwise the first failure's ``TaskFailed``."""
        for outcome in self.tasks.values():
            if outcome.state is TaskState.FAILED and outcome.error is not None:
                raise outcome.error
        for outcome in self.tasks.values():
            if outcome.error is not None:
                raise outcome.error
        return self


@dataclasses.dataclass(frozen=True)
class MachineResult:
    """The outcome of a state-machine run.

    ``output`` is the final state's output, ``state`` its path, ``trace`` the path of every step
    in order, ``values`` the named values at the end, ``runs`` each step's flow result, and
    ``transcript`` the leaf hash of the run's forum branch.
    """

    output: Any
    state: tuple[str, ...]
    trace: tuple[tuple[str, ...], ...]
    values: Mapping[str, Any]
    runs: tuple[RunResult, ...] = ()
    transcript: Hash | None = None

    @property
    def steps(self) -> int:
        """How many states were run (nested states included)."""
        return len(self.trace)
