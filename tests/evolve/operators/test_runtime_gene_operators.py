"""The operators that add and take out runtime genes: a recall step before a writer, an LLM call
moved onto a bus subject its agent serves; each edit can be undone by the same operator."""

from __future__ import annotations

import random

import search_spaces
from evoforum.evolve.operators import OperatorContext
from evoforum.evolve.operators.runtime_genes import mut_dialogue, mut_recall
from evoforum.genome import RecallSpec, RequestSpec, WorkflowGenome
from search_spaces.code_writing import CodeWriting

SINGLE_CALL = search_spaces.get("code_writing").seeds()[2]


def _kinds(genome: WorkflowGenome) -> list[str]:
    return [agent.kind for agent in genome.agents]


async def test_mut_recall_adds_a_recall_step_before_the_writer_and_takes_it_out_again() -> None:
    context = OperatorContext(space=CodeWriting(examples=[("def f():", "def f():\n    return 1\n")]))
    [child] = await mut_recall([SINGLE_CALL], random.Random(0), context)
    assert context.check(child) == []
    assert "recall" in _kinds(child)
    writer = child.agent("writer")
    assert writer is not None
    assert writer.prompt.startswith("{examples}")
    back: list[WorkflowGenome] = []
    for seed in range(10):
        back += [
            c for c in await mut_recall([child], random.Random(seed), context) if "recall" not in _kinds(c)
        ]
    assert back
    assert back[0].hash == SINGLE_CALL.hash


async def test_mut_recall_leaves_a_space_without_solved_examples_alone() -> None:
    context = OperatorContext(space=CodeWriting(examples=()))
    assert await mut_recall([SINGLE_CALL], random.Random(0), context) == []


async def test_mut_dialogue_moves_an_llm_call_onto_a_subject_and_back() -> None:
    context = OperatorContext(space=search_spaces.get("code_writing"))
    [child] = await mut_dialogue([SINGLE_CALL], random.Random(0), context)
    assert context.check(child) == []
    [request] = [a for a in child.agents if isinstance(a, RequestSpec)]
    assert (request.subject, request.responder, request.fields) == ("writer.asked", "writer", ("problem",))
    back: list[WorkflowGenome] = []
    for seed in range(10):
        back += [
            c for c in await mut_dialogue([child], random.Random(seed), context) if "request" not in _kinds(c)
        ]
    assert back
    assert back[0].hash == SINGLE_CALL.hash
    assert not any(isinstance(a, RecallSpec) for a in child.agents)
