"""``CompiledFlow``: a checked, immutable, runnable flow (made by ``Flow.build()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

from evoforum.errors import FlowInvalid
from evoforum.flow._resolve import injecting
from evoforum.flow._types import describe
from evoforum.flow.compiled._outputs import output_check
from evoforum.flow.compiled._scheduler import Execution, mode
from evoforum.flow.compiled._transcript import write_transcript
from evoforum.flow.compiled._validate import analyze
from evoforum.flow.result import RunResult
from evoforum.flow.runtime import Runtime

if TYPE_CHECKING:
    from evoforum.flow._resolve import ScopeState
    from evoforum.flow.task import Flow, Task
    from evoforum.hashing import Hash


def _validator(kind: Any) -> Callable[[Any], Any]:
    """Validation (and coercion) of a flow input by pydantic; an ``isinstance`` check for types
    pydantic has no schema for."""
    try:
        return TypeAdapter(kind).validate_python
    except PydanticSchemaGenerationError:
        pass

    def check(value: Any) -> Any:
        if isinstance(kind, type) and not isinstance(value, kind):
            raise TypeError(f"expected {describe(kind)}, got {type(value).__name__}")
        return value

    return check


class CompiledFlow:
    """A flow that passed every build check; ``await compiled.run(inputs)`` runs it.

    ``inputs`` maps each flow input name to its type; ``output_type`` is the leaf's output type
    (a dict of leaf outputs when there are several leaves).
    """

    def __init__(self, flow: Flow, declared: frozenset[str] = frozenset()) -> None:
        self.flow = flow
        self.topology = topology = analyze(flow, declared)
        self.inputs: Mapping[str, Any] = dict(topology.inputs)
        self._modes = tuple(mode(t) for t in topology.tasks)
        self._checks = tuple(output_check(t) for t in topology.tasks)
        self._adapters = {name: _validator(kind) for name, kind in topology.inputs.items()}
        self._leaf_names = tuple(topology.tasks[i].name for i in topology.leaves)
        self._output_names = {t.name: t.output_name for t in topology.tasks}

    @property
    def tasks(self) -> tuple[Task[Any], ...]:
        return self.topology.tasks

    @property
    def output_type(self) -> Any:
        """The type of ``RunResult.output``."""
        leaves = [self.topology.tasks[i] for i in self.topology.leaves]
        return leaves[0].signature.output if len(leaves) == 1 else dict[str, Any]

    def __repr__(self) -> str:
        return f"<compiled flow {len(self.topology.tasks)} tasks>"

    def bind(self, inputs: Mapping[str, Any], *, strict: bool = True) -> list[dict[str, Any]]:
        """Keyword arguments of each task from the flow inputs; ``FlowInvalid`` lists every
        missing, unknown (when ``strict``) or ill-typed input."""
        problems: list[tuple[str, str]] = []
        checked: dict[str, Any] = {}
        for key, value in inputs.items():
            name = key.rpartition(".")[2]
            adapter = self._adapters.get(name)
            if adapter is None:
                if strict:
                    problems.append(
                        (f"inputs.{key}", f"no task takes this input; inputs: {sorted(self.inputs)}")
                    )
                continue
            try:
                checked[key] = adapter(value)
            except ValidationError as error:
                problems.append(
                    (f"inputs.{key}", f"not a {describe(self.inputs[name])}: {error.errors()[0]['msg']}")
                )
            except TypeError as error:
                problems.append((f"inputs.{key}", str(error)))
        kwargs: list[dict[str, Any]] = []
        for t, free in zip(self.topology.tasks, self.topology.free, strict=True):
            own: dict[str, Any] = {}
            for port in free:
                specific = f"{t.name}.{port.name}"
                if specific in checked:
                    own[port.name] = checked[specific]
                elif port.name in checked:
                    own[port.name] = checked[port.name]
                elif port.required:
                    problems.append((f"inputs.{port.name}", f"missing: task {t.name!r} needs it"))
            kwargs.append(own)
        if problems:
            raise FlowInvalid("flow inputs", problems)
        return kwargs

    async def run(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        runtime: Runtime | None = None,
        scope: ScopeState | None = None,
        strict: bool = True,
        transcript_parent: Hash | None = None,
    ) -> RunResult:
        """Run once. Failures are in the result (``result.ok``, ``.errors``), not raised.

        ``scope`` is an open run scope to share (a state machine's); ``strict=False`` ignores
        inputs no task takes; ``transcript_parent`` continues an existing forum branch.
        """
        kwargs = self.bind(inputs or {}, strict=strict)
        own_runtime = runtime is None
        active = Runtime() if runtime is None else runtime
        if scope is not None and scope.kind == "run":
            run_scope = scope
        else:
            run_scope = (scope or active.experiment).child("run")
        try:
            with injecting(active, run_scope):
                outcomes = await Execution(
                    self.topology, self._modes, self._checks, kwargs, active, run_scope
                ).run()
        finally:
            if run_scope is not scope:
                await run_scope.close()
            if own_runtime:
                await active.aclose()
        result = RunResult({o.name: o for o in outcomes}, self._leaf_names, self._output_names)
        if active.transcripts:
            used = {k: v for k, v in (inputs or {}).items() if k.rpartition(".")[2] in self.inputs}
            return await write_transcript(active, result, used, transcript_parent)
        return result
