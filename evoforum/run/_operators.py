"""Variation of workflow genomes: structural operators, and LLM operators that rewrite prompts.

Every child is checked against the search space; an invalid child (or an LLM operator whose model
answered nothing usable) gives way to a structural mutation, so a bad answer never stops a run.
The operator actually applied is written into the child's ``metadata.origin`` (not hashed).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evoforum.errors import EvoforumError, LLMMisbehaved
from evoforum.genome import LLMAgent, Metadata, WorkflowGenome
from evoforum.llm import LLMClient, charged_to, chat_request
from evoforum.run._llm import Sampling

MUTATIONS = ("mutate", "rewrite")
CROSSOVERS = ("crossover", "lmx")
REWRITE = (
    "Improve this system prompt of an AI agent in a code-writing workflow (its role: {role}). "
    "Keep it to one or two sentences. Reply with the new system prompt only.\n\nPrompt: {prompt}"
)
LMX = (
    "Here are two system prompts for the same AI agent (role: {role}).\n\n1. {first}\n\n2. {second}\n\n"
    "Write one new system prompt that combines their best ideas, in one or two sentences. "
    "Reply with the new system prompt only."
)


class WorkflowOperators:
    """``init``, ``mutate`` and ``crossover`` over the genomes of ``space`` (a ``SearchSpace``).

    ``weights`` name operators (``mutate``, ``rewrite``, ``crossover``, ``lmx``) and their chance;
    without ``llm`` the LLM operators (``rewrite``, ``lmx``) are left out.
    """

    def __init__(
        self,
        space: Any,
        *,
        seeds: Sequence[int] | None,
        weights: Mapping[str, float],
        llm: LLMClient | None,
        model: str | None = None,
        random_init: bool = False,
    ) -> None:
        self.space = space
        all_seeds = space.seeds()
        self.seeds: list[WorkflowGenome] = (
            [all_seeds[i] for i in seeds] if seeds is not None else list(all_seeds)
        )
        self.llm = llm
        self.model = model
        self.random_init = random_init
        usable = {
            k: float(v)
            for k, v in weights.items()
            if v > 0 and (llm is not None or k not in ("rewrite", "lmx"))
        }
        self.mutations = {k: w for k, w in usable.items() if k in MUTATIONS} or {"mutate": 1.0}
        self.crossovers = {k: w for k, w in usable.items() if k in CROSSOVERS} or {"crossover": 1.0}
        self._made = 0

    # -- the Operators functions ----------------------------------------------------------------

    def init(self, rng: random.Random) -> WorkflowGenome:
        """The seeds in turn; past them, random genomes (``random_init``) or mutated seeds."""
        index, self._made = self._made, self._made + 1
        if self.random_init:
            return self.random_genome(rng)
        if index < len(self.seeds):
            return self.seeds[index]
        return self._structural(self.seeds[index % len(self.seeds)], rng)

    def random_genome(self, rng: random.Random) -> WorkflowGenome:
        genome: WorkflowGenome = self.space.random_genome(_np(rng))
        return _tag(genome, "random")

    async def mutate(self, genome: WorkflowGenome, rng: random.Random) -> WorkflowGenome:
        kind = _choose(self.mutations, rng)
        if kind == "rewrite":
            agent = _pick_agent(genome, rng)
            if agent is not None:
                prompt = REWRITE.format(role=agent.name, prompt=agent.system_prompt or "(empty)")
                text = await self._ask(prompt, rng, "rewrite")
                if text is not None:
                    return self._checked(_with_prompt(genome, agent.name, text, "rewrite"), genome, rng)
        return self._structural(genome, rng)

    async def crossover(
        self, a: WorkflowGenome, b: WorkflowGenome, rng: random.Random
    ) -> tuple[WorkflowGenome, WorkflowGenome]:
        kind = _choose(self.crossovers, rng)
        shared = [x for x in a.agents if isinstance(x, LLMAgent) and isinstance(b.agent(x.name), LLMAgent)]
        if not shared:
            return a, b
        agent = shared[rng.randrange(len(shared))]
        other = b.agent(agent.name)
        assert isinstance(other, LLMAgent)
        if kind == "lmx":
            prompt = LMX.format(role=agent.name, first=agent.system_prompt, second=other.system_prompt)
            text = await self._ask(prompt, rng, "lmx")
            if text is not None:
                return self._checked(_with_prompt(a, agent.name, text, "lmx"), a, rng), b
        one = _with_agent(a, agent.name, system_prompt=other.system_prompt, temperature=other.temperature)
        two = _with_agent(b, agent.name, system_prompt=agent.system_prompt, temperature=agent.temperature)
        return self._checked(_tag(one, "crossover"), a, rng), self._checked(_tag(two, "crossover"), b, rng)

    # -- helpers --------------------------------------------------------------------------------

    def _structural(self, genome: WorkflowGenome, rng: random.Random) -> WorkflowGenome:
        agent = _pick_agent(genome, rng)
        if agent is None:
            return genome
        blocks = self.space.blocks
        if rng.random() < 0.5 and blocks.temperatures:
            temperatures = [t for t in blocks.temperatures if t != agent.temperature] or list(
                blocks.temperatures
            )
            child = _with_agent(genome, agent.name, temperature=rng.choice(temperatures))
        else:
            base = rng.choice(blocks.system_prompts)
            count = rng.randint(1, min(2, len(blocks.prompt_fragments)))
            fragments = rng.sample(list(blocks.prompt_fragments), count)
            child = _with_agent(genome, agent.name, system_prompt=" ".join([base, *fragments]))
        child = _tag(child, "mutate")
        return child if not self.space.check(child) else genome

    def _checked(self, child: WorkflowGenome, parent: WorkflowGenome, rng: random.Random) -> WorkflowGenome:
        return child if not self.space.check(child) else self._structural(parent, rng)

    async def _ask(self, prompt: str, rng: random.Random, operator: str) -> str | None:
        """The model's answer, cleaned; None when it answered nothing usable or failed."""
        assert self.llm is not None
        model = self.model or self.space.blocks.models[0]
        client = Sampling(self.llm, seed=rng.randrange(2**31), max_tokens=96)
        try:
            with charged_to(operator=operator):
                completion = await client.complete(chat_request(model, prompt, temperature=0.7))
            return clean_prompt(completion.text)
        except EvoforumError:
            return None


def clean_prompt(text: str) -> str:
    """A model's reply as a system prompt: its first paragraph, quotes and labels stripped, at most
    400 characters; ``LLMMisbehaved`` when nothing is left."""
    paragraph = next((p.strip() for p in text.strip().split("\n\n") if p.strip()), "")
    for label in ("New system prompt:", "System prompt:", "Prompt:"):
        if paragraph.lower().startswith(label.lower()):
            paragraph = paragraph[len(label) :].strip()
    paragraph = paragraph.strip().strip("\"'`").strip()
    if len(paragraph) < 8:
        raise LLMMisbehaved("the model gave no usable prompt", raw=text)
    return paragraph[:400]


def _np(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def _choose(weights: Mapping[str, float], rng: random.Random) -> str:
    names = sorted(weights)
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def _pick_agent(genome: WorkflowGenome, rng: random.Random) -> LLMAgent | None:
    agents = [a for a in genome.agents if isinstance(a, LLMAgent)]
    return agents[rng.randrange(len(agents))] if agents else None


def _with_agent(genome: WorkflowGenome, name: str, **changes: Any) -> WorkflowGenome:
    agents = tuple(a.model_copy(update=changes) if a.name == name else a for a in genome.agents)
    return genome.model_copy(update={"agents": agents})


def _with_prompt(genome: WorkflowGenome, name: str, text: str, operator: str) -> WorkflowGenome:
    return _tag(_with_agent(genome, name, system_prompt=text), operator)


def _tag(genome: WorkflowGenome, operator: str) -> WorkflowGenome:
    origin = {**genome.metadata.origin, "operator": operator}
    origin.pop("seed_genome", None)
    metadata = Metadata(name=genome.metadata.name, notes=genome.metadata.notes, origin=origin)
    return genome.model_copy(update={"metadata": metadata})
