"""The edit memory: edits stored by meaning, improving ones retrieved for similar targets."""

from __future__ import annotations

import random

import search_spaces
from evoforum.evolve.individual import FAILED
from evoforum.evolve.operators import Edit, EditMemory, OperatorContext
from evoforum.evolve.operators.edit_memory import EDIT_KEY
from evoforum.evolve.operators.llm_ops import llm_rewrite
from evoforum.genome import Metadata
from evoforum.llm import OpenAICompatible
from evoforum.memory import MemoryVectorStore, SemanticMemory

from .conftest import population


def _memory(client: OpenAICompatible) -> EditMemory:
    return EditMemory(SemanticMemory(client, MemoryVectorStore(dim=64)))


EDITS = [
    Edit(operator="llm_rewrite", kind="function", before="def last_line(text): return text.splitlines()[-1]",
         after="def last_line(text): return text.strip().splitlines()[-1]", delta=0.2),
    Edit(operator="llm_rewrite", kind="prompt", before="Answer the question briefly.",
         after="Answer the question briefly. Think step by step.", delta=0.1),
    Edit(operator="llm_rewrite", kind="prompt", before="Answer the question in one word.",
         after="Answer.", delta=-0.3),
]  # fmt: skip


async def test_similar_improving_edits_come_back_first(stub_llm: OpenAICompatible) -> None:
    memory = _memory(stub_llm)
    for edit in EDITS:
        await memory.record(edit)
    found = await memory.examples("Answer the question carefully.", k=2)
    assert found[0] == EDITS[1]
    assert all(edit.delta > 0 for edit in found)
    everything = await memory.examples("Answer the question in one word.", k=3, improving=False)
    assert everything[0] == EDITS[2]


async def test_children_of_llm_operators_are_remembered_and_offered(stub_llm: OpenAICompatible) -> None:
    memory = _memory(stub_llm)
    context = OperatorContext(space=search_spaces.get("qa_ensemble"), llm=stub_llm, memory=memory)
    parent = population("qa_ensemble")[0]
    rng = random.Random(2)
    child = None
    for _ in range(10):
        children = await llm_rewrite([parent], rng, context)
        if children:
            child = children[0]
            break
    assert child is not None
    assert await memory.record_child(child, parent_score=0.5, child_score=0.75) is not None
    edit = child.metadata.origin["edit"]
    [found] = await memory.examples(edit["before"], k=1)
    assert found.after == edit["after"]
    assert found.delta == 0.25
    assert found.operator == "llm_rewrite"
    assert await memory.record_child(parent, 0.0, 1.0) is None


async def test_an_edit_whose_child_or_parent_failed_is_not_remembered(stub_llm: OpenAICompatible) -> None:
    memory = _memory(stub_llm)
    parent = population("qa_ensemble")[0]
    edit = {"kind": "prompt", "before": "Answer.", "after": "Answer briefly."}
    metadata = Metadata(origin={"operator": "llm_rewrite", EDIT_KEY: edit})
    child = parent.model_copy(update={"metadata": metadata})
    assert await memory.record_child(child, parent_score=0.5, child_score=-FAILED) is None
    assert await memory.record_child(child, parent_score=-FAILED, child_score=0.5) is None
    assert memory.edits == []  # no delta of 1e300 either way
    assert await memory.record_child(child, parent_score=0.5, child_score=0.25) is not None
    assert [e.delta for e in memory.edits] == [-0.25]
