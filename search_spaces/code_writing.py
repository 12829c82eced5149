"""Code writing: a single call, best-of-k sampling with a selector, or write -> test -> fix state
machines with LLM and tool agents.

Inputs: ``problem`` (a function signature with a docstring and examples). Output: Python code.

The machines keep the best code so far: the draft is checked against the docstring's examples,
and a fix (or a fresh attempt) replaces it only when it passes more of them (``keep_better``),
so a loop never ends with code worse than its first draft, and it stops after a few attempts.
Best-of-k samples k drafts of one prompt (each call its own sampling seed) and keeps one: the one
passing most examples, the largest group of drafts that behave alike, or (CodeT-style) the one
passing most examples and then most model-written tests. A writer prompt may begin with one or
two solved train problems (``examples``: given by the experiment, see ``few_shot``), or, when the
experiment gives solved train problems, with the ones nearest to the problem at hand, recalled
from the run's memory (``add_recall``: a recall task feeds the writer's ``{examples}``). A draft
may be reviewed by a critic that serves a bus subject, then revised (``reviewed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from evoforum.genome import (
    Constraints,
    FunctionAgentSpec,
    GuardSpec,
    LLMAgentSpec,
    PredicateSpec,
    WorkflowGenome,
)
from evoforum.genome.edits import add_recall
from search_spaces._base import SearchSpace, chance, pick, system_prompt
from search_spaces._code_genomes import (
    BLOCKS,
    BUILT_IN_EXAMPLES,
    DRAW_TEMPERATURES,
    DRAWS,
    FIX_PROMPT,
    MODEL,
    PLAN_PROMPT,
    PLANNED_PROMPT,
    RETRY_PROMPT,
    SELECTORS,
    SINGLE_CALL,
    TEST_PROMPT,
    WRITE_PROMPTS,
    _genome,
    _passed,
    few_shot,
    reviewed,
    sampled,
    single_call,
    with_examples,
)
from search_spaces._code_tools import LIBRARY, lacking, with_tools

if TYPE_CHECKING:
    from evoforum.evolve.operators import Operator

__all__ = [
    "BLOCKS",
    "FIX_PROMPT",
    "MODEL",
    "PLANNED_PROMPT",
    "PLAN_PROMPT",
    "RETRY_PROMPT",
    "SELECTORS",
    "SINGLE_CALL",
    "TEST_PROMPT",
    "WRITE_PROMPTS",
    "CodeWriting",
    "few_shot",
    "reviewed",
    "sampled",
    "single_call",
]

REVIEW_CHANCE = 0.15
"""How often a random genome has its draft reviewed by a critic over the bus (``reviewed``; the
option ``review_chance`` changes it)."""
RECALL_CHANCE = 0.3
"""How often a random genome's writer recalls solved train problems, when the experiment has some
(the option ``recall_chance`` changes it)."""
RECALLED = (1, 2, 3)
"""How many it recalls."""


class CodeWriting(SearchSpace):
    """A single call, best-of-k, or a write -> fix loop that keeps the best code, optionally after
    a plan; ``examples`` (solved train problems, ``(problem, solution)``) are the few-shot blocks a
    writer prompt may begin with (``BuildingBlocks.examples``; ``mut_examples`` adds or drops one);
    None: two small built-in ones. Given solved train problems, a random genome may also recall the
    nearest of them from the run's memory for its writer (the run stores them there).

    Options (``search_space.options``): ``review_chance`` and ``recall_chance``, how often a random
    genome is ``reviewed`` and recalls (probabilities, default ``REVIEW_CHANCE`` and
    ``RECALL_CHANCE``)."""

    name = "code_writing"
    constraints = Constraints(
        max_tasks=16,
        max_states=10,
        max_agents=12,
        max_code_lines=480,
        allowed_models=BLOCKS.models,
        allowed_imports=("ast", "doctest", "re", "json", "math", "signal", LIBRARY),
    )

    option_names = ("review_chance", "recall_chance")

    def __init__(
        self, examples: Sequence[tuple[str, str]] | None = None, options: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(examples, options)
        chosen = BUILT_IN_EXAMPLES if examples is None else examples
        self.blocks = BLOCKS.model_copy(update={"examples": few_shot(chosen)})
        self.recalls = bool(examples)
        self.review_chance = self.probability("review_chance", REVIEW_CHANCE)
        self.recall_chance = self.probability("recall_chance", RECALL_CHANCE)

    def _generate(self, rng: np.random.Generator) -> WorkflowGenome:
        genome = self._write(rng)
        if chance(rng, self.review_chance):
            writer = genome.agent("writer")
            assert isinstance(writer, LLMAgentSpec)
            genome = reviewed(writer.system_prompt, writer.temperature, pick(rng, WRITE_PROMPTS))
        if self.recalls and chance(rng, self.recall_chance):
            genome = add_recall(genome, "writer", "problem", k=pick(rng, RECALLED)) or genome
        return genome

    def operators(self) -> tuple[Operator, ...]:
        """``mut_best_of_k``: a draft becomes best-of-k, or a selector another."""
        from search_spaces._code_operators import mut_best_of_k

        return (mut_best_of_k,)

    def repair(self, genome: WorkflowGenome) -> WorkflowGenome | None:
        """``genome`` with the tools and library functions that its function agents name but its
        code lacks (an LMX child names them without bringing them along); None when it lacks none
        or its code does not parse."""
        named = [a.function for a in genome.agents if isinstance(a, FunctionAgentSpec)]
        try:
            missing = lacking(genome.code, named)
        except SyntaxError:
            return None
        return genome.model_copy(update={"code": with_tools(genome.code, missing)}) if missing else None

    def seeds(self) -> tuple[WorkflowGenome, ...]:
        """0: write, then repair twice at most; 1: write, then two fresh attempts told which
        examples the best code gets wrong; 2: the single call (the experiments' baseline);
        3: best-of-4 at temperature 0.8, kept by the docstring examples; 4: the same drafts kept by
        examples, then by five model-written asserts (CodeT-style).

        The loops' first draft is the single call's own request, and they keep it unless a later
        code passes more examples: on the examples they never end below it."""
        return (
            _genome(
                SINGLE_CALL, 0.0, WRITE_PROMPTS[0], fix="repair", attempts=2, fix_temperature=0.2, seed=0
            ),
            _genome(SINGLE_CALL, 0.0, WRITE_PROMPTS[0], fix="retry", attempts=2, fix_temperature=0.7, seed=1),
            single_call(seed=2),
            sampled(draws=4, temperature=0.8, selector="select_by_examples", seed=3),
            sampled(draws=4, temperature=0.8, selector="select_by_tests", seed=4),
        )

    def _write(self, rng: np.random.Generator) -> WorkflowGenome:
        prompt = system_prompt(rng, BLOCKS, pick(rng, BLOCKS.system_prompts))
        write_prompt = pick(rng, WRITE_PROMPTS)
        examples = self.blocks.examples
        if examples and chance(rng, 0.3):
            count = int(rng.integers(1, min(2, len(examples)) + 1))
            write_prompt = with_examples(write_prompt, examples[:count])
        draws = pick(rng, DRAWS) if chance(rng, 0.4) else 1
        selector = pick(rng, SELECTORS)
        draw_temperature = pick(rng, DRAW_TEMPERATURES)
        if chance(rng, 0.2):
            if draws == 1:
                return single_call(prompt, pick(rng, BLOCKS.temperatures), write_prompt)
            return sampled(prompt, write_prompt, draws=draws, temperature=draw_temperature, selector=selector)
        guard: GuardSpec = _passed() if chance(rng, 0.5) else PredicateSpec(function="has_passed")
        return _genome(
            prompt,
            pick(rng, BLOCKS.temperatures),
            write_prompt,
            fix=pick(rng, ("repair", "retry")),
            attempts=int(rng.integers(1, 4)),
            fix_temperature=pick(rng, BLOCKS.temperatures),
            plan=chance(rng, 0.3),
            nested=chance(rng, 0.3),
            guard=guard,
            draws=draws,
            selector=selector,
            draw_temperature=draw_temperature,
        )
