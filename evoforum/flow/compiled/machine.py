"""``CompiledMachine``: a checked state machine, and the loop that runs it."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_type_hints

from evoforum.errors import FlowInvalid, RunError, StepLimitExceeded, TaskFailed, did_you_mean
from evoforum.flow._types import describe, fits
from evoforum.flow.compiled._transcript import SENDER, post
from evoforum.flow.compiled.flow import CompiledFlow
from evoforum.flow.result import MachineResult, RunResult
from evoforum.flow.runtime import Buildable, Runtime
from evoforum.graphs import reachable

if TYPE_CHECKING:
    from evoforum.flow._resolve import ScopeState
    from evoforum.flow.machine import StateMachine, Transition
    from evoforum.hashing import Hash

Path = tuple[str, ...]


def _compile(body: Any) -> CompiledFlow | CompiledMachine:
    if isinstance(body, CompiledFlow | CompiledMachine):
        return body
    if isinstance(body, Buildable):  # a flow, a task or a state machine
        built = body.build()
        if isinstance(built, CompiledFlow | CompiledMachine):
            return built
    raise FlowInvalid("state", [("body", f"a state's body must be a flow, task or machine, not {body!r}")])


def _guard_type(guard: Any) -> Any:
    try:
        params = list(inspect.signature(guard).parameters.values())
        hints = get_type_hints(guard)
    except (TypeError, ValueError, NameError):
        return Any
    return hints.get(params[0].name, Any) if params else Any


class CompiledMachine:
    """A state machine that passed its build checks; ``await machine.run(inputs)``."""

    def __init__(self, machine: StateMachine) -> None:
        self.machine = machine
        problems: list[tuple[str, str]] = []
        self.bodies: dict[str, CompiledFlow | CompiledMachine] = {}
        for name, state in machine.states.items():
            try:
                self.bodies[name] = _compile(state.body)
            except FlowInvalid as error:
                problems.extend((f"states.{name}.{p.path}".rstrip("."), p.what) for p in error.problems)
        names = list(machine.states)
        if machine.initial not in machine.states:
            problems.append(
                ("initial", f"unknown state {machine.initial!r}{did_you_mean(machine.initial, names)}")
            )
        self.outgoing: dict[str, list[Transition]] = {name: [] for name in names}
        for k, t in enumerate(machine.transitions):
            for end in ("source", "target"):
                ref = getattr(t, end)
                if ref not in machine.states:
                    problems.append(
                        (f"transitions[{k}].{end}", f"unknown state {ref!r}{did_you_mean(ref, names)}")
                    )
            if t.source in self.outgoing:
                self.outgoing[t.source].append(t)
            body = self.bodies.get(t.source)
            if t.when is not None and body is not None:
                wanted, given = _guard_type(t.when), body.output_type
                if not fits(given, wanted):
                    problems.append(
                        (
                            f"transitions[{k}].when",
                            f"the guard takes {describe(wanted)} but state {t.source!r} gives {describe(given)}",
                        )
                    )
        problems.extend(self._unreachable())
        if problems:
            raise FlowInvalid("state machine", problems)

    def _unreachable(self) -> list[tuple[str, str]]:
        initial = self.machine.initial
        if initial not in self.machine.states:
            return []
        targets = {
            name: [t.target for t in out if t.target in self.machine.states]
            for name, out in self.outgoing.items()
        }
        seen = reachable([initial], targets)
        return [
            (f"states.{name}", f"unreachable from the initial state {initial!r}")
            for name in self.machine.states
            if name not in seen
        ]

    @property
    def output_type(self) -> Any:
        return Any

    async def run(
        self, inputs: Mapping[str, Any] | None = None, *, runtime: Runtime | None = None
    ) -> MachineResult:
        """Run from the initial state until a final state; see ``evoforum.flow.machine``."""
        active = runtime or Runtime()
        scope = active.experiment.child("run")
        values = dict(inputs or {})
        try:
            leaf = None
            if active.transcripts:
                leaf = await post(active, {"inputs": values}, SENDER, None, event="machine")
            walk = _Walk(active, scope, values, leaf)
            output, final = await walk.machine(self, ())
        finally:
            await scope.close()
            if runtime is None:
                await active.aclose()
        return MachineResult(output, final, tuple(walk.trace), values, tuple(walk.runs), walk.leaf)


@dataclasses.dataclass
class _Walk:
    runtime: Runtime
    scope: ScopeState
    values: dict[str, Any]
    leaf: Hash | None
    trace: list[Path] = dataclasses.field(default_factory=list)
    runs: list[RunResult] = dataclasses.field(default_factory=list)

    async def machine(self, compiled: CompiledMachine, prefix: Path) -> tuple[Any, Path]:
        spec = compiled.machine
        name, steps = spec.initial, 0
        while True:
            steps += 1
            path = (*prefix, name)
            if steps > spec.max_steps:
                raise StepLimitExceeded(
                    f"state machine passed its limit of {spec.max_steps} steps at {path}",
                    path=path,
                    max_steps=spec.max_steps,
                    transcript=self.leaf,
                )
            state = spec.states[name]
            if state.on_enter is not None:
                state.on_enter(dict(self.values))
            output, final = await self.body(compiled.bodies[name], path)
            chosen = await _first_passing(compiled.outgoing[name], output)
            if state.on_exit is not None:
                state.on_exit(output)
            if not compiled.outgoing[name]:
                return output, final
            if chosen is None:
                raise RunError(
                    f"no transition from state {path} matched its output", path=path, transcript=self.leaf
                )
            if chosen.action is not None:
                self.values.update(chosen.action(output) or {})
            name = chosen.target

    async def body(self, body: CompiledFlow | CompiledMachine, path: Path) -> tuple[Any, Path]:
        if isinstance(body, CompiledMachine):
            return await self.machine(body, path)
        self.trace.append(path)
        if self.runtime.transcripts:
            self.leaf = await post(self.runtime, {"state": list(path)}, SENDER, self.leaf, event="enter")
        try:
            result = await body.run(
                self.values, runtime=self.runtime, scope=self.scope, strict=False, transcript_parent=self.leaf
            )
        except FlowInvalid as error:
            where = ".".join(path)
            raise FlowInvalid(
                f"inputs of state {where}", [(f"states.{where}.{p.path}", p.what) for p in error.problems]
            ) from None
        self.runs.append(result)
        self.leaf = result.transcript
        if not result.ok:
            first = next(iter(result.errors.values()))
            raise TaskFailed(
                f"state {path} failed: {first}",
                state=path,
                cause=first.details.get("cause"),
                transcript=self.leaf,
            )
        self.values.update(result.outputs)
        return result.output, path


async def _first_passing(transitions: Sequence[Transition], output: Any) -> Transition | None:
    """The first transition whose guard holds for ``output`` (a guard may be ``async``)."""
    for transition in transitions:
        if transition.when is None:
            return transition
        verdict = transition.when(output)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if verdict:
            return transition
    return None
