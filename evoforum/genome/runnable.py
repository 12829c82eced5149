"""``to_workflow(genome) -> runnable``: a genome on the workflow runtime (``evoforum.flow``).

LLM agents run as forum agents (``llm_agent``): a task renders its agent's prompt into a message
(sender: the task's path, ``metadata["event"] == ASKED``, the call-site seed in ``metadata["seed"]``)
and calls the agent on it, bound to the runtime's forum (``Depends(providers.forum)``). The call
is a ``MessagePromise``: the agent asks the runtime's ``LLMClient`` (``Depends(providers.llm)``)
through ``evoforum.llm.chat``, so the answer's tokens stream to the promise's readers as the model
writes them; the task awaits the answer. The prompt and the answer (or an error, or a
``cancelled`` marker) land in the forum as a branch of their own. A task that is cancelled (its
run timed out, its candidate was stopped) cancels the promise, and with it the model call in
flight. An agent's name is its spec's and its version a hash of the whole spec (prompt, system
prompt, model, temperature, token cap, schema), so two genomes' agents never share an identity.
The agents are not cached by branch in the forum (``cache=False``): the run's record of model
exchanges, keyed by the request's hash (prompt, parameters and seed, after the run's
``Sampling`` set its seed), is their cache, and it counts the tokens of a recorded answer as the
cost objective needs. An agent's exception is the task's (``AgentFailed``'s cause is re-raised).
Functions
of the genome's code (function agents, predicate guards) are never executed in this process: they
go through a ``CodeRunner`` (default ``UnconfinedRunner``), so every compiled task runs on the
asyncio executor whatever executor the genome names (the name is kept for exported code).
LLM tools are checked by validation but not offered to the model: the LLM layer has no tool calls.

Tasks of the runtime's kinds get its resources through ``Depends``: a memory task
(``RecallSpec``, ``RememberSpec``: ``evoforum.genome.memory_tasks``) the runtime's memory and model
client (its embedder); a dialogue task (``RequestSpec``, ``request`` below) the bus, the model and
the forum. A request is served by its responder, an LLM agent of the genome, subscribed on the
subject only while the request is open, under a fresh room (``dialogue.<room>.<subject>``) so
concurrent candidates sharing the run's NATS never answer each other; the responder's call is a
forum branch like any LLM call (asked by the subject), sampled with the requesting task's
call-site seed when it is above temperature 0.

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
import secrets
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, create_model

from evoforum.bus import Subject
from evoforum.errors import AgentFailed, LLMMisbehaved
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
from evoforum.forum import Agent, Message, MessagePromise, agent
from evoforum.genome.agents import (
    FunctionAgentSpec,
    LLMAgentSpec,
    RecallSpec,
    RememberSpec,
    RequestSpec,
    fill,
    placeholders,
)
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
from evoforum.genome.memory_tasks import recall, remember
from evoforum.genome.model import WorkflowGenome
from evoforum.hashing import digest
from evoforum.llm import LLMClient, chat, chat_request
from evoforum.llm.types import ChatRequest

__all__ = [
    "ASKED",
    "CallSites",
    "CodeRunner",
    "UnconfinedRunner",
    "ask",
    "call_seed",
    "call_sites",
    "llm_agent",
    "prompt_message",
    "render_prompt",
    "request",
    "to_workflow",
]

ASKED = "ask"
"""The ``metadata["event"]`` of the prompt message a compiled LLM call starts its forum branch with."""

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


def render_prompt(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with each ``{name}`` of ``values`` filled in (other braces are left alone);
    values the template does not mention are appended as ``name:`` sections."""
    used = placeholders(template) & set(values)
    text = fill(template, values)
    rest = [f"{name}:\n{value}" for name, value in values.items() if name not in used]
    return "\n\n".join(part for part in [text, *rest] if part)


def call_seed(path: str, attempt: int) -> int:
    """The sampling seed of a call site: the task ``path`` (``"state/task"``) and its ``attempt``
    in the run (0, 1, ...); 31 bits, so any server takes it."""
    return int(digest([path, attempt], domain="call-seed")[:8], 16) & 0x7FFFFFFF


class CallSites:
    """The sampling seeds of one workflow run: ``seed(path)`` is the call-site seed of the next
    model call of the task at ``path`` (``"state/task"``), its attempt the task's calls so far."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def seed(self, path: str) -> int:
        attempt = self._counts[path] = self._counts.get(path, -1) + 1
        return call_seed(path, attempt)


@provider(scope="run")
def call_sites() -> CallSites:
    """A fresh ``CallSites`` per workflow run: compiled genomes and exported modules
    (``sites=Depends(call_sites)``) count their calls alike, so both send the same seeds."""
    return CallSites()


async def ask(llm: LLMClient, agent: LLMAgentSpec, *, seed: int | None = None, **values: Any) -> Any:
    """One call of an LLM agent: its answer text, or a dict when it has an output schema.
    ``seed``: the call-site seed (``CallSites.seed``), sent only when the agent samples above
    temperature 0 (a greedy answer does not depend on it)."""
    return await _ask(agent, values, llm=llm, seed=_sampling(agent, seed))


def _sampling(agent: LLMAgentSpec, seed: int | None) -> int | None:
    return seed if agent.temperature > 0 else None


def llm_agent(spec: LLMAgentSpec) -> Agent:
    """The forum agent of ``spec``, called on a branch whose last message is the prompt (see the
    module doc); its answer streams the model's tokens and is the model's text."""

    @agent(name=spec.name, version=agent_version(spec), cache=False)
    async def answer(
        branch: list[Message], *, llm: Annotated[LLMClient, Depends(providers.llm)]
    ) -> MessagePromise:
        prompt = branch[-1]
        seed = prompt.metadata.get("seed")
        return chat(llm, request_of(spec, prompt.text, seed if isinstance(seed, int) else None))

    return answer


def prompt_message(
    spec: LLMAgentSpec, values: Mapping[str, Any], *, asker: str = "user", seed: int | None = None
) -> Message:
    """The message a call of ``spec``'s agent starts with: the rendered prompt from ``asker`` (a
    compiled task: its path), marked ``ASKED``, with the call-site ``seed`` when there is one."""
    meta: dict[str, Any] = {"event": ASKED} | ({"seed": seed} if seed is not None else {})
    return Message(render_prompt(spec.prompt, values), asker, metadata=meta)


def agent_version(spec: LLMAgentSpec) -> str:
    """The version of ``spec``'s agent: a hash of the whole spec."""
    return digest(spec.model_dump(mode="json"), domain="llm-agent")[:16]


def request_of(spec: LLMAgentSpec, prompt: str, seed: int | None) -> ChatRequest:
    """The request ``spec`` sends with ``prompt`` (``seed``: the call-site seed, or None)."""
    schema = spec.output_schema
    request = chat_request(
        spec.model,
        prompt,
        system=spec.system_prompt or None,
        schema=schema.json_schema if schema is not None else None,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        seed=seed,
    )
    if schema is not None:
        request = request.model_copy(update={"schema_name": schema.name})
    return request


async def _ask(
    spec: LLMAgentSpec,
    values: Mapping[str, Any],
    *,
    llm: LLMClient | None = None,
    seed: int | None = None,
    forum: Any = None,
    asker: str = "user",
    answerer: Agent | None = None,
) -> Any:
    """Call ``spec``'s agent (``answerer``, else a fresh one) on its rendered prompt, from
    ``asker``, bound to ``forum`` (None: nothing is posted); ``llm`` None: the agent resolves the
    runtime's. A cancelled caller cancels the call."""
    prompt = prompt_message(spec, values, asker=asker, seed=seed)
    given = {"llm": llm} if llm is not None else {}
    promise = (answerer or llm_agent(spec))([prompt], forum=forum, **given)
    failure: Exception | None = None
    try:
        message = await promise
    except asyncio.CancelledError:
        promise.cancel()
        raise
    except AgentFailed as failed:
        cause = failed.details.get("cause")
        if not isinstance(cause, Exception):
            raise
        failure = cause
    if failure is not None:
        raise failure  # the model's error as it was raised (the run tells a down server by it)
    return _value(spec, message.text)


class DialogueReply(BaseModel):
    """The reply schema of every dialogue subject: the responder's answer as text."""

    text: str


@cache
def dialogue_schema(subject: str, fields: tuple[str, ...]) -> type[BaseModel]:
    """The request schema of a dialogue ``subject``: one text field per name in ``fields``."""
    title = "".join(part.title() for part in re.split(r"[._]", subject)) or "Request"
    return create_model(title, **{name: (str, ...) for name in fields})  # type: ignore[call-overload,no-any-return]


async def request(
    bus: Any,
    llm: LLMClient,
    spec: RequestSpec,
    responder: LLMAgentSpec,
    *,
    forum: Any = None,
    seed: int | None = None,
    **values: Any,
) -> str:
    """One request of ``spec`` on ``bus``: ``responder`` (an LLM agent) serves the subject while
    the request is open, answering it with ``llm`` (its call bound to ``forum``, sampled with
    ``seed``), and its answer (as text) is returned. The subject on the wire is
    ``dialogue.<room>.<spec.subject>``, the room a fresh token (``seed`` is sent only when the
    responder samples above temperature 0), so concurrent runs sharing one
    bus never answer each other's requests; a bus with a forum hook lands both messages there."""
    subject: Subject[BaseModel, DialogueReply] = Subject(
        f"dialogue.{secrets.token_hex(6)}.{spec.subject}",
        dialogue_schema(spec.subject, spec.fields),
        DialogueReply,
    )

    async def serve(envelope: Any) -> DialogueReply:
        asked = envelope.data.model_dump()
        answer = await _ask(
            responder, asked, llm=llm, seed=_sampling(responder, seed), forum=forum, asker=spec.subject
        )
        return DialogueReply(text=answer if isinstance(answer, str) else json.dumps(answer))

    text = {name: value if isinstance(value, str) else str(value) for name, value in values.items()}
    subscription = await bus.subscribe(subject, serve)
    try:
        reply = await bus.request(subject, text, timeout=spec.timeout_s)
    finally:
        await subscription.close()
    return str(reply.data.text)


def _value(spec: LLMAgentSpec, text: str) -> Any:
    """The answer ``text``, or its JSON when ``spec`` has an output schema."""
    if spec.output_schema is None:
        return text
    fenced = _FENCE.match(text)
    try:
        return json.loads(fenced[1] if fenced else text)
    except json.JSONDecodeError as error:
        raise LLMMisbehaved(f"agent {spec.name!r} did not answer JSON: {error}", raw=text) from None


def to_workflow(
    genome: WorkflowGenome, *, runner: CodeRunner | None = None
) -> CompiledFlow | CompiledMachine:
    """The runnable workflow of a valid ``genome``: ``await runtime.run(compiled, inputs)``."""
    genome.validate_all()
    return _Compiler(genome, runner or UnconfinedRunner()).body(genome.entry, ())


_INJECTED: dict[str, dict[str, Callable[..., Any]]] = {
    "llm": {"_forum": providers.forum, "_sites": call_sites},
    "recall": {"_memory": providers.memory, "_llm": providers.llm},
    "remember": {"_memory": providers.memory, "_llm": providers.llm},
    "request": {
        "_bus": providers.bus,
        "_llm": providers.llm,
        "_forum": providers.forum,
        "_sites": call_sites,
    },
}
"""Per agent kind, the resources a compiled task of it is given (parameter name -> provider)."""


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
        answerer = llm_agent(agent) if isinstance(agent, LLMAgentSpec) else None
        responder = self.genome.agent(agent.responder) if isinstance(agent, RequestSpec) else None

        async def run(**values: Any) -> Any:
            kwargs = {parameter: _field(values[source], key) for parameter, source, key in wires}
            if isinstance(agent, LLMAgentSpec):
                seed = _sampling(agent, values["_sites"].seed(path))
                forum = values["_forum"]
                return await _ask(agent, kwargs, seed=seed, forum=forum, asker=path, answerer=answerer)
            if isinstance(agent, RecallSpec):
                return await recall(values["_memory"], values["_llm"], agent, **kwargs)
            if isinstance(agent, RememberSpec):
                return await remember(values["_memory"], values["_llm"], agent, **kwargs)
            if isinstance(agent, RequestSpec):
                assert isinstance(responder, LLMAgentSpec)
                seed = values["_sites"].seed(path)
                return await request(
                    values["_bus"],
                    values["_llm"],
                    agent,
                    responder,
                    forum=values["_forum"],
                    seed=seed,
                    **kwargs,
                )
            assert isinstance(agent, FunctionAgentSpec)
            return await asyncio.to_thread(runner.run, code, agent.function, [], kwargs)

        parameters = [
            inspect.Parameter(source, inspect.Parameter.KEYWORD_ONLY)
            for source in dict.fromkeys(source for _, source, _ in wires)
        ]
        for name, given in _INJECTED.get(agent.kind if agent is not None else "", {}).items():
            parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=Depends(given)))
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__name__ = run.__qualname__ = spec.name
        return run


def _field(value: Any, key: str | None) -> Any:
    if key is None:
        return value
    return value[key] if isinstance(value, Mapping) else getattr(value, key)
