"""The LLM operators described as genomes: agents, prompts and a DAG, run through ``to_workflow``.

LMX and the LLM rewrite do not hold prompt strings: each is a ``WorkflowGenome`` whose inputs are
what the operator knows (the parents, the target, its score and the items behind it, an excerpt
of a failing item, the archive of the best genomes so far, remembered edits) and whose
output is the model's answer. Evolving those genomes (``coevolve``) evolves the operators.
``OPERATOR_SPACE`` is the small search space they live in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from evoforum.errors import EvoforumError, TaskFailed
from evoforum.genome import (
    Constraints,
    DagSpec,
    FromInputSpec,
    LLMAgentSpec,
    Metadata,
    TaskSpec,
    WireSpec,
    WorkflowGenome,
)
from evoforum.llm import ChatRequest, Completion, LLMClient, TokenSink
from evoforum.llm.protocol import Wrapper
from evoforum.llm.recording import exchange_messages

LMX = "lmx"
REWRITE = "rewrite"
PLACEHOLDER_MODEL = "operator-model"
"""The model named in operator genomes; ``run_operator_genome`` asks the context's model instead."""

LMX_MAX_TOKENS = 1536
REWRITE_MAX_TOKENS = 1024
"""Caps on an operator's answer: a module of two or three parents' size, one function or prompt.
A small model can otherwise repeat itself until its context is full (minutes of a busy server's
slot for an answer that does not parse)."""

LMX_INPUTS = ("parents", "examples", "count", "hint", "feedback", "archive")
REWRITE_INPUTS = ("kind", "target", "score", "feedback", "examples", "hint", "archive")


def _wire(name: str) -> WireSpec:
    return WireSpec(parameter=name, source=FromInputSpec(name=name))


def _one_agent(kind: str, task: str, agent: LLMAgentSpec, inputs: tuple[str, ...]) -> WorkflowGenome:
    """An operator genome of kind ``kind``: one task in which ``agent`` reads every input."""
    step = TaskSpec(name=task, agent=agent.name, inputs=tuple(_wire(n) for n in inputs))
    return WorkflowGenome(
        inputs=inputs,
        agents=(agent,),
        entry=DagSpec(tasks=(step,)),
        metadata=Metadata(name=f"{kind}-operator", origin={"operator_genome": kind}),
    )


def lmx_genome() -> WorkflowGenome:
    """The default LMX operator: one breeder agent reading k parents (best first, with their
    scores), a failing item, the archive of the best and remembered edits."""
    breeder = LLMAgentSpec(
        name="breeder",
        model=PLACEHOLDER_MODEL,
        system_prompt="You are a variation operator of an evolutionary search over Python programs.",
        prompt=(
            "Here are {count} parent programs, best first, each with its score.\n"
            "Write one new program that combines their strengths. Keep the same overall structure "
            "and the same function signatures. Reply with the complete program in one fenced "
            "Python code block. {hint}\n\nThe best programs so far:\n{archive}\n\n"
            "What went wrong on one input:\n{feedback}\n\n{examples}\n\n{parents}"
        ),
        temperature=0.7,
        max_tokens=LMX_MAX_TOKENS,
    )
    return _one_agent(LMX, "propose", breeder, LMX_INPUTS)


def rewrite_genome() -> WorkflowGenome:
    """The default rewrite operator: one rewriter agent that sees the score, a failing excerpt
    and the archive of the best."""
    rewriter = LLMAgentSpec(
        name="rewriter",
        model=PLACEHOLDER_MODEL,
        system_prompt="You improve one part of a workflow at a time.",
        prompt=(
            "The workflow scored {score}. What went wrong on one input:\n{feedback}\n\n"
            "The best workflows so far:\n{archive}\n\n"
            "Edits that helped before:\n{examples}\n\n"
            "Rewrite the {kind} below so the workflow does better. {hint} It serves every problem, "
            "not only the one shown: keep it general. Keep its name and signature (or its "
            "placeholders in braces). Reply with the rewritten {kind} only, in the same form as it "
            "is given.\n\n{target}"
        ),
        temperature=0.5,
        max_tokens=REWRITE_MAX_TOKENS,
    )
    return _one_agent(REWRITE, "rewrite", rewriter, REWRITE_INPUTS)


@dataclass(frozen=True)
class _OperatorBlocks:
    models: tuple[str, ...] = (PLACEHOLDER_MODEL,)
    temperatures: tuple[float, ...] = (0.2, 0.5, 0.7, 1.0)
    system_prompts: tuple[str, ...] = (
        "You are a variation operator of an evolutionary search over Python programs.",
        "You are an expert programmer who improves programs by small, careful edits.",
        "You improve one part of a workflow at a time.",
    )
    prompt_fragments: tuple[str, ...] = (
        "Make one small, targeted change.",
        "Prefer edits that fix the failure shown.",
        "Do not remove working parts.",
        "Be bold: try a different approach.",
        "Learn from the edits that helped before.",
    )
    agent_templates: tuple[LLMAgentSpec, ...] = ()


@dataclass
class OperatorSpace:
    """The search space of operator genomes (for mutating them with the same operators)."""

    name: str = "operators"
    blocks: Any = field(default_factory=_OperatorBlocks)
    constraints: Constraints = field(default_factory=lambda: Constraints(max_tasks=4, max_agents=3))

    def check(self, genome: WorkflowGenome) -> list[tuple[str, str]]:
        problems = [*genome.problems(), *self.constraints.check(genome)]
        if not problems and set(genome.inputs) - set(LMX_INPUTS) - set(REWRITE_INPUTS):
            problems.append(("inputs", "an operator genome takes only the inputs the operators give"))
        return problems


OPERATOR_SPACE = OperatorSpace()


class TokenCount(Wrapper):
    """Counts the tokens of every completion that passes through."""

    def __init__(self, inner: LLMClient) -> None:
        super().__init__(inner)
        self.tokens = 0
        self.calls = 0

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        completion = await self.inner.complete(request, on_token=on_token)
        self.tokens += completion.usage.total_tokens
        self.calls += 1
        return completion


_EXCHANGES: ContextVar[list[str] | None] = ContextVar("evoforum_exchanges", default=None)


class Transcribed(Wrapper):
    """Notes the message-tree hash of each exchange that passes through (the hash of its answer,
    the branch ``Recording`` stores) in the list of the innermost ``noting_exchanges()`` around
    the call. It belongs right above the recording client, below anything that rewrites requests,
    so that the hash names the exchange as it was stored."""

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        completion = await self.inner.complete(request, on_token=on_token)
        found = _EXCHANGES.get()
        if found is not None:
            found.append(exchange_messages(request, completion)[-1].hash)
        return completion

    async def aclose(self) -> None:
        return None  # the client below is closed by its owner


@contextmanager
def noting_exchanges() -> Iterator[list[str]]:
    """The message-tree hashes of the model calls made (through ``Transcribed``) in this context
    and the tasks it starts, filled as they are answered."""
    found: list[str] = []
    token = _EXCHANGES.set(found)
    try:
        yield found
    finally:
        _EXCHANGES.reset(token)


def with_model(genome: WorkflowGenome, model: str) -> WorkflowGenome:
    """``genome`` with every LLM agent asking ``model``."""
    agents = tuple(
        a.model_copy(update={"model": model}) if isinstance(a, LLMAgentSpec) else a for a in genome.agents
    )
    return genome.model_copy(update={"agents": agents})


async def run_operator_genome(
    genome: WorkflowGenome, inputs: Mapping[str, str], llm: LLMClient, model: str
) -> tuple[str, int]:
    """Run an operator genome (compiled with ``evoforum.genome.to_workflow``) on ``inputs``: the
    answer text and the tokens it cost. Inputs the genome does not take are left out. When a
    task fails, the evoforum error that made it fail (an unavailable model…) is raised."""
    from evoforum.flow import Runtime
    from evoforum.genome import to_workflow

    counter = TokenCount(llm)
    runnable = to_workflow(with_model(genome, model))
    given = {name: inputs.get(name, "") for name in genome.inputs}
    async with Runtime(llm=counter, transcripts=False) as runtime:
        result = await runtime.run(runnable, given)
    try:
        output = result.output
    except TaskFailed as failed:
        cause = failed.details.get("cause")
        raise cause if isinstance(cause, EvoforumError) else failed from None
    return (output if isinstance(output, str) else str(output)), counter.tokens


def default_genomes() -> dict[str, WorkflowGenome]:
    return {LMX: lmx_genome(), REWRITE: rewrite_genome()}


def operator_genome(genomes: Mapping[str, WorkflowGenome], kind: str) -> WorkflowGenome:
    return genomes.get(kind) or default_genomes()[kind]


__all__ = [
    "LMX",
    "OPERATOR_SPACE",
    "REWRITE",
    "OperatorSpace",
    "TokenCount",
    "Transcribed",
    "default_genomes",
    "lmx_genome",
    "noting_exchanges",
    "operator_genome",
    "rewrite_genome",
    "run_operator_genome",
    "with_model",
]
