"""``to_workflow(genome) -> runnable``: a genome on the workflow runtime (``evoforum.flow``).

LLM agents are asked through the runtime's ``LLMClient`` (``Depends(providers.llm)``). Functions
of the genome's code (function agents, predicate guards) are never executed in this process: they
go through a ``CodeRunner`` (default ``UnconfinedRunner``), so every compiled task runs on the
asyncio executor whatever executor the genome names (the name is kept for exported code).
LLM tools are checked by validation but not offered to the model: the LLM layer has no tool calls.

Sampling seeds. An agent with a temperature above 0 asks with a *call-site* seed
(``call_seed``): a hash of the task's path (the states above it, then its name) and the attempt
(how often that task has asked in this run: a state machine's repeated visits to a state are
attempts). Two draft tasks of one prompt, or two attempts of one fix, thus send different
requests; the same run asks the same requests again. A model client may combine that seed with the
run's and the item's (``evoforum.run.llm.Sampling`` does). Greedy agents (temperature 0) send no
seed: their answer does not depend on it, and one request serves every genome that asks it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from evoforum.errors import LLMMisbehaved
from evoforum.flow import (
    CompiledFlow,
    CompiledMachine,
    Depends,
    StateMachine,
    Task,
    Transition,
    dag,
    providers,
)
from evoforum.flow.depends import provider
from evoforum.genome.agents import PLACEHOLDER, FunctionAgentSpec, LLMAgentSpec, placeholders
from evoforum.genome.code_runner import CodeRunner, UnconfinedRunner
from evoforum.genome.flows import (
    AlwaysSpec,
    CompareSpec,
    DagSpec,
    FromTaskSpec,
    GuardSpec,
    MachineSpec,
    TaskSpec,
)
from evoforum.genome.model import WorkflowGenome
from evoforum.hashing import digest
from evoforum.llm import LLMClient, chat_request

__all__ = ["CodeRunner", "UnconfinedRunner", "ask", "call_seed", "render_prompt", "to_workflow"]

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


def render_prompt(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with each ``{name}`` of ``values`` filled in (other braces are left alone);
    values the template does not mention are appended as ``name:`` sections."""
    used = placeholders(template) & set(values)
    text = PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], template)
    rest = [f"{name}:\n{value}" for name, value in values.items() if name not in used]
    return "\n\n".join(part for part in [text, *rest] if part)


def call_seed(path: str, attempt: int) -> int:
    """The sampling seed of a call site: the task ``path`` (``"state/task"``) and its ``attempt``
    in the run (0, 1, ...); 31 bits, so any server takes it."""
    return int(digest([path, attempt], domain="call-seed")[:8], 16) & 0x7FFFFFFF


async def ask(llm: LLMClient, agent: LLMAgentSpec, **values: Any) -> Any:
    """One call of an LLM agent: its answer text, or a dict when it has an output schema."""
    return await _ask(llm, agent, values, None)


async def _ask(llm: LLMClient, agent: LLMAgentSpec, values: Mapping[str, Any], seed: int | None) -> Any:
    """``ask`` with the call-site ``seed`` (None: the request names no seed)."""
    schema = agent.output_schema
    request = chat_request(
        agent.model,
        render_prompt(agent.prompt, values),
        system=agent.system_prompt or None,
        schema=schema.json_schema if schema is not None else None,
        temperature=agent.temperature,
        max_tokens=agent.max_tokens,
        seed=seed,
    )
    if schema is not None:
        request = request.model_copy(update={"schema_name": schema.name})
    completion = await llm.complete(request)
    if schema is None:
        return completion.text
    fenced = _FENCE.match(completion.text)
    try:
        return json.loads(fenced[1] if fenced else completion.text)
    except json.JSONDecodeError as error:
        raise LLMMisbehaved(
            f"agent {agent.name!r} did not answer JSON: {error}", raw=completion.text
        ) from None


def to_workflow(
    genome: WorkflowGenome, *, runner: CodeRunner | None = None
) -> CompiledFlow | CompiledMachine:
    """The runnable workflow of a valid ``genome``: ``await runtime.run(compiled, inputs)``."""
    genome.validate_all()
    return _Compiler(genome, runner or UnconfinedRunner()).body(genome.entry, ())


@provider(scope="run")
def call_counts() -> dict[str, int]:
    """How often each task path has asked the model so far in this run (its next attempt)."""
    return {}


class _Compiler:
    def __init__(self, genome: WorkflowGenome, runner: CodeRunner) -> None:
        self.genome = genome
        self.runner = runner

    def body(self, body: DagSpec | MachineSpec, trail: tuple[str, ...]) -> CompiledFlow | CompiledMachine:
        return self.dag(body, trail) if isinstance(body, DagSpec) else self.machine(body, trail).build()

    def machine(self, spec: MachineSpec, trail: tuple[str, ...]) -> StateMachine:
        states = {
            state.name: self.machine(state.body, (*trail, state.name))
            if isinstance(state.body, MachineSpec)
            else self.dag(state.body, (*trail, state.name))
            for state in spec.states
        }
        transitions = [Transition(t.source, t.target, when=self.guard(t.guard)) for t in spec.transitions]
        return StateMachine(
            states=states, transitions=tuple(transitions), initial=spec.initial, max_steps=spec.max_steps
        )

    def guard(self, guard: GuardSpec) -> Callable[[Any], bool | Awaitable[bool]] | None:
        if isinstance(guard, AlwaysSpec):
            return None
        if isinstance(guard, CompareSpec):
            return guard
        code, function, runner = self.genome.code, guard.function, self.runner

        async def predicate(output: Any) -> bool:
            # The runner blocks (a subprocess); the event loop goes on meanwhile.
            return bool(await asyncio.to_thread(runner.run, code, function, [output], {}))

        return predicate

    def dag(self, spec: DagSpec, trail: tuple[str, ...]) -> CompiledFlow:
        outputs = {task.name: task.output_name for task in spec.tasks}
        tasks: dict[str, Task[Any]] = {
            t.name: Task(self.function(t, outputs, "/".join((*trail, t.name))), t.name, t.output_name)
            for t in spec.tasks
        }
        edges = {
            (w.source.task, t.name)
            for t in spec.tasks
            for w in t.inputs
            if isinstance(w.source, FromTaskSpec)
        }
        children = {v for _, v in edges}
        declared = {
            w.source.name
            for t in spec.tasks
            if t.name in children
            for w in t.inputs
            if not isinstance(w.source, FromTaskSpec)
        }
        flow = dag(*tasks.values(), edges=[(tasks[u], tasks[v]) for u, v in sorted(edges)])
        return flow.build(inputs=sorted(declared))

    def function(self, spec: TaskSpec, outputs: Mapping[str, str], path: str) -> Callable[..., Any]:
        agent = self.genome.agent(spec.agent)
        wires = [
            (w.parameter, outputs[w.source.task], w.source.field)
            if isinstance(w.source, FromTaskSpec)
            else (w.parameter, w.source.name, None)
            for w in spec.inputs
        ]
        code, runner = self.genome.code, self.runner

        async def run(**values: Any) -> Any:
            kwargs = {parameter: _field(values[source], key) for parameter, source, key in wires}
            if isinstance(agent, LLMAgentSpec):
                seed = None
                if agent.temperature > 0:
                    counts = values["_call_counts"]
                    attempt = counts[path] = counts.get(path, -1) + 1
                    seed = call_seed(path, attempt)
                return await _ask(values["llm"], agent, kwargs, seed)
            assert isinstance(agent, FunctionAgentSpec)
            return await asyncio.to_thread(runner.run, code, agent.function, [], kwargs)

        parameters = [
            inspect.Parameter(source, inspect.Parameter.KEYWORD_ONLY)
            for source in dict.fromkeys(source for _, source, _ in wires)
        ]
        if isinstance(agent, LLMAgentSpec):
            default = Depends(providers.llm)
            parameters.append(inspect.Parameter("llm", inspect.Parameter.KEYWORD_ONLY, default=default))
            counted = Depends(call_counts)
            parameters.append(
                inspect.Parameter("_call_counts", inspect.Parameter.KEYWORD_ONLY, default=counted)
            )
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__name__ = run.__qualname__ = spec.name
        return run


def _field(value: Any, key: str | None) -> Any:
    if key is None:
        return value
    return value[key] if isinstance(value, Mapping) else getattr(value, key)
