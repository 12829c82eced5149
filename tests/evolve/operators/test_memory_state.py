"""The edit memory as checkpointed state: a restore gives back exactly the memory of the
checkpoint, in the process (numpy) and in a pgvector table that outlived the process."""

from __future__ import annotations

import pickle
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from evoforum.evolve.operators import Edit, EditMemory
from evoforum.llm import OpenAICompatible
from evoforum.memory import MemoryVectorStore, SemanticMemory
from evoforum.run.plan import EditStore, open_edit_memory, stored_ids

Opener = Callable[[], Awaitable[EditMemory]]


def edit(before: str, after: str, delta: float, operator: str = "llm_rewrite") -> Edit:
    return Edit(operator=operator, kind="prompt", before=before, after=after, delta=delta)


EARLY = [
    edit("Answer the question briefly.", "Answer the question briefly. Think step by step.", 0.1),
    edit(
        "def last_line(text): return text.splitlines()[-1]", "def last_line(text): return text.strip()", 0.2
    ),
    edit("Answer the question in one word.", "Answer.", -0.3),
    edit("Answer the question briefly.", "Reply briefly.", 0.05, operator="lmx_module"),  # same before
    edit("Summarise the answers of the solvers.", "Summarise the answers; pick the majority.", 0.4),
]
LATE = [
    edit("Answer the question carefully.", "Answer the question carefully and check it.", 0.9),
    edit("def first_line(text): return text.splitlines()[0]", "def first_line(text): return text", 0.7),
]
QUERIES = ["Answer the question carefully.", "def last_line(text):", "Summarise the solvers", "briefly"]


async def answers(memory: EditMemory) -> list[list[Edit]]:
    return [
        await memory.examples(q, k=3, improving=improving) for q in QUERIES for improving in (True, False)
    ]


@pytest.fixture(params=["memory", pytest.param("pgvector", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    if request.param == "memory":
        return ("memory", None)
    return ("pgvector", str(request.getfixturevalue("postgres_url")))


@pytest.fixture
async def opener(
    backend: tuple[str, str | None], stub_llm: OpenAICompatible
) -> AsyncIterator[tuple[str, Opener]]:
    """Opens memories on one backend; with pgvector, every memory of a test on the same table."""
    kind, url = backend
    if url is None:
        yield kind, lambda: _in_memory(stub_llm)
        return
    where = EditStore(url, table=f"edit_memory_test_{uuid.uuid4().hex[:12]}")
    yield kind, lambda: open_edit_memory(stub_llm, where)
    memory = await open_edit_memory(stub_llm, where)
    await memory.memory.store.drop()  # type: ignore[attr-defined]


async def _in_memory(client: OpenAICompatible) -> EditMemory:
    return EditMemory(SemanticMemory(client, MemoryVectorStore(dim=64)))


async def test_a_restored_memory_answers_like_the_one_checkpointed(opener: tuple[str, Opener]) -> None:
    _, open_memory = opener
    memory = await open_memory()
    for one in EARLY:
        await memory.record(one)
    state = pickle.loads(pickle.dumps(memory.state()))  # as the checkpoint keeps it
    expected = await answers(memory)
    fresh = await open_memory()
    fresh.restore(state)
    assert fresh.edits == EARLY
    assert await answers(fresh) == expected
    assert max(len(found) for found in expected) == 3


async def test_edits_recorded_after_the_checkpoint_are_gone_after_a_restore(
    opener: tuple[str, Opener],
) -> None:
    backend, open_memory = opener
    memory = await open_memory()
    for one in EARLY:
        await memory.record(one)
    state = memory.state()
    expected = await answers(memory)
    for one in LATE:  # recorded, then the process is killed before the next checkpoint
        await memory.record(one)
    assert (await memory.examples(LATE[0].before, k=1))[0] == LATE[0]
    resumed = await open_memory() if backend == "pgvector" else memory  # a table outlives a process
    resumed.restore(state)
    assert await answers(resumed) == expected
    assert all(one not in found for found in await answers(resumed) for one in LATE)
    if backend == "pgvector":
        assert await stored_ids(resumed.memory.store) == sorted(one.id for one in EARLY)  # type: ignore[arg-type]
    await resumed.record(LATE[1])  # the memory goes on from the checkpoint
    assert resumed.edits == [*EARLY, LATE[1]]


async def test_same_scores_come_back_in_recording_order(opener: tuple[str, Opener]) -> None:
    _, open_memory = opener
    memory = await open_memory()
    for one in reversed(EARLY):
        await memory.record(one)
    found = await memory.examples(EARLY[0].before, k=2)
    assert found == [EARLY[3], EARLY[0]]  # the same ``before``: the one recorded first comes first


async def test_an_edit_recorded_again_keeps_its_place(opener: tuple[str, Opener]) -> None:
    _, open_memory = opener
    memory = await open_memory()
    for one in [*EARLY, EARLY[0]]:
        await memory.record(one)
    assert memory.edits == EARLY
    assert memory.state()["edits"][0] == EARLY[0].model_dump(mode="json")
