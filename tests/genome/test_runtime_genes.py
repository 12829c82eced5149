"""Genes that use the runtime: memory tasks (remember an item, recall the nearest stored ones) and
dialogue over a typed bus subject (a request a responder agent answers). They compile, run on the
in-process bus and memory, land their messages in the forum, round-trip through export and parse,
and a malformed one is refused with its path."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

import pytest

import search_spaces
from evoforum.bus import ForumHook, MemoryBus
from evoforum.codegen import export, parse
from evoforum.errors import GenomeInvalid, TaskFailed
from evoforum.flow import Runtime, TaskState
from evoforum.forum import Forum
from evoforum.genome import (
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    FunctionAgentSpec,
    LLMAgentSpec,
    TaskSpec,
    WireSpec,
    WorkflowGenome,
    to_workflow,
)
from evoforum.genome.agents import SOLVED, RecallSpec, RememberSpec, RequestSpec
from evoforum.genome.edits import add_recall, drop_recall
from evoforum.genome.memory_tasks import recall, store_items
from evoforum.genome.runnable import ASKED
from evoforum.llm import ChatRequest, Completion, OpenAICompatible, TokenSink
from evoforum.llm.protocol import Wrapper
from evoforum.llm.stub import StubServer
from evoforum.memory import Memory

WORDS = ("sort", "string", "prime", "sum")


class Keywords(Wrapper):
    """A model client whose embeddings count a few keywords (so "nearest" has a meaning here)."""

    def __init__(self, inner: object = None) -> None:
        super().__init__(inner)  # type: ignore[arg-type]
        self.embedded: list[str] = []

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        self.embedded.extend(texts)
        return [[float(text.count(word)) + 0.01 for word in WORDS] for text in texts]


SOLVED_ITEMS = [
    {"problem": "sort a list of numbers", "solution": "sorted(xs)"},
    {"problem": "reverse a string", "solution": "s[::-1]"},
    {"problem": "is n prime", "solution": "all(n % d for d in range(2, n))"},
]


def wire(parameter: str, source: str, *, task: bool = False) -> WireSpec:
    found = FromTaskSpec(task=source) if task else FromInputSpec(name=source)
    return WireSpec(parameter=parameter, source=found)


def recalling(k: int = 1) -> WorkflowGenome:
    """recall the k solved items nearest to the problem, then echo them (a function agent)."""
    return WorkflowGenome(
        inputs=("problem",),
        agents=(RecallSpec(name="solved_examples", k=k), FunctionAgentSpec(name="echoer", function="echo")),
        code="def echo(text):\n    return text\n",
        entry=DagSpec(
            tasks=(
                TaskSpec(name="find", agent="solved_examples", inputs=(wire("query", "problem"),)),
                TaskSpec(name="shown", agent="echoer", inputs=(wire("text", "find", task=True),)),
            )
        ),
    )


def remembering() -> WorkflowGenome:
    return WorkflowGenome(
        inputs=("problem", "solution"),
        agents=(RememberSpec(name="notes", collection="notes", key="problem"),),
        entry=DagSpec(
            tasks=(
                TaskSpec(
                    name="keep",
                    agent="notes",
                    inputs=(wire("problem", "problem"), wire("solution", "solution")),
                ),
            )
        ),
    )


def reviewing(*, temperature: float = 0.0) -> WorkflowGenome:
    """A writer drafts; the draft goes as a request on ``code.review``, which a critic serves."""
    return WorkflowGenome(
        inputs=("problem",),
        agents=(
            LLMAgentSpec(name="writer", model="stub", prompt="Solve: {problem}"),
            LLMAgentSpec(
                name="critic",
                model="stub",
                prompt="Review this solution of {problem}:\n\n{code}",
                temperature=temperature,
            ),
            RequestSpec(name="review", subject="code.review", fields=("problem", "code"), responder="critic"),
        ),
        entry=DagSpec(
            tasks=(
                TaskSpec(name="draft", agent="writer", inputs=(wire("problem", "problem"),)),
                TaskSpec(
                    name="critique",
                    agent="review",
                    inputs=(wire("problem", "problem"), wire("code", "draft", task=True)),
                ),
            )
        ),
    )


async def test_recall_finds_the_stored_items_nearest_in_meaning_and_shows_them_through_the_template() -> None:
    memory, embedder = Memory.in_process("test"), Keywords()
    ids = await store_items(memory, embedder, SOLVED, SOLVED_ITEMS, "problem")
    assert len(set(ids)) == 3
    again = await store_items(memory, embedder, SOLVED, SOLVED_ITEMS[:1], "problem")
    assert again == ids[:1]  # the same item stored again replaces its row
    spec = RecallSpec(name="examples", k=2, template="{problem} -> {solution}")
    shown = await recall(memory, embedder, spec, query="sort these strings")
    first, second = shown.split("\n\n")[:2]
    assert {first, second} == {"sort a list of numbers -> sorted(xs)", "reverse a string -> s[::-1]"}
    assert "prime" not in shown
    assert shown.endswith("\n\n")
    assert await recall(memory, embedder, RecallSpec(name="e", collection="empty"), query="x") == ""


async def test_a_compiled_recall_task_reads_the_runtimes_memory_with_the_runtimes_model() -> None:
    memory, embedder = Memory.in_process("test"), Keywords()
    await store_items(memory, embedder, SOLVED, SOLVED_ITEMS, "problem")
    async with Runtime(llm=embedder, memory=memory) as runtime:
        result = await runtime.run(to_workflow(recalling(k=1)), {"problem": "is 7 prime?"})
    assert (
        result.output == "A solved example:\n\nis n prime\n\nSolution:\n\nall(n % d for d in range(2, n))\n\n"
    )
    assert embedder.embedded[-1] == "is 7 prime?"


async def test_a_compiled_remember_task_stores_the_item_by_its_key_and_a_recall_finds_it() -> None:
    memory, embedder = Memory.in_process("test"), Keywords()
    async with Runtime(llm=embedder, memory=memory) as runtime:
        result = await runtime.run(
            to_workflow(remembering()), {"problem": "sum of primes", "solution": "sum(filter(prime, xs))"}
        )
    assert embedder.embedded == ["sum of primes"]
    spec = RecallSpec(name="back", collection="notes", k=1, template="{solution}")
    assert await recall(memory, embedder, spec, query="a sum") == "sum(filter(prime, xs))\n\n"
    [hit] = await (await memory.vectors("notes", len(WORDS))).query([0.0, 0.0, 1.0, 1.0], 1)
    assert hit.id == result.output


async def test_a_request_on_a_subject_is_answered_by_its_responder_and_the_dialogue_lands_in_the_forum() -> (
    None
):
    forum = Forum()
    bus = MemoryBus(forum=ForumHook.into(forum))
    async with StubServer(seed=3) as stub:
        client = OpenAICompatible(stub.url, "stub")
        try:
            async with Runtime(llm=client, bus=bus, forum=forum) as runtime:
                result = await runtime.run(to_workflow(reviewing()), {"problem": "add two numbers"})
        finally:
            await client.aclose()
        assert stub.stats.answered == 2  # the writer's draft and the critic's review
    messages = [await forum.get(h) for h in await _all(forum)]
    [asked] = [m for m in messages if m.metadata.get("subject", "").endswith(".code.review")]
    [replied] = [m for m in messages if m.metadata.get("subject", "").endswith(".code.review.reply")]
    assert asked.metadata["subject"].startswith("dialogue.")
    assert set(asked.content) == {"problem", "code"}
    assert asked.content["problem"] == "add two numbers"
    assert replied.parent == asked.hash
    assert replied.content == {"text": result.output}
    [critic_prompt] = [m for m in messages if m.metadata.get("event") == ASKED and m.sender == "code.review"]
    assert critic_prompt.text.startswith("Review this solution of add two numbers:")
    [critic_answer] = await forum.children(critic_prompt.hash)
    assert critic_answer.sender == "critic"
    assert critic_answer.text == result.output


async def test_a_request_that_nobody_can_serve_in_time_fails_its_task() -> None:
    genome = reviewing()
    review = genome.agent("review")
    assert isinstance(review, RequestSpec)
    slow = review.model_copy(update={"timeout_s": 0.05})
    genome = genome.model_copy(update={"agents": (*genome.agents[:2], slow)})

    class Silent(Wrapper):
        async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
            if "Review" in request.messages[-1].content:
                await asyncio.sleep(5)
            return await self.inner.complete(request, on_token=on_token)

    async with StubServer(seed=3) as stub:
        client = Silent(OpenAICompatible(stub.url, "stub"))
        try:
            async with Runtime(llm=client, bus=MemoryBus(), forum=Forum()) as runtime:
                result = await runtime.run(to_workflow(genome), {"problem": "add"})
            assert result.tasks["draft"].state == TaskState.SUCCEEDED
            error = result.tasks["critique"].error
            assert isinstance(error, TaskFailed)
            assert re.search(r"Timeout: no reply on 'dialogue\.\w+\.code\.review' within 0\.05 s", str(error))
        finally:
            await client.aclose()


async def _all(forum: Forum) -> list[str]:
    store = forum.store
    return [str(h) for h in store._messages]  # type: ignore[attr-defined]


@pytest.mark.parametrize("make", [recalling, remembering, reviewing])
def test_genomes_with_runtime_genes_round_trip_through_export_and_parse(make: object) -> None:
    genome = make()  # type: ignore[operator]
    source = export(genome)
    back = parse(source)
    assert back.hash == genome.hash
    assert back == genome
    assert export(back) == source


def test_an_edited_export_that_calls_a_recall_agent_with_ask_is_rejected_with_its_line() -> None:
    source = export(recalling()).replace("recall(memory, llm, solved_examples,", "ask(llm, solved_examples,")
    with pytest.raises(
        Exception, match=r"line \d+: task 'find': expected recall\(memory, llm, solved_examples"
    ):
        parse(source)


def test_every_seed_of_code_writing_takes_a_recall_step_and_gives_it_back() -> None:
    for seed in search_spaces.get("code_writing").seeds():
        recalled = add_recall(seed, "writer", "problem", k=2)
        assert recalled is not None
        writer = recalled.agent("writer")
        assert isinstance(writer, LLMAgentSpec)
        assert writer.prompt.startswith("{examples}")
        assert parse(export(recalled)).hash == recalled.hash
        back = drop_recall(recalled, "recall_examples")
        assert back is not None
        assert back.hash == seed.hash
    assert add_recall(recalled, "writer", "problem") is None  # its prompt reads examples already


def test_malformed_runtime_genes_are_refused_naming_each_path() -> None:
    genome = reviewing().model_copy(
        update={
            "agents": (
                *reviewing().agents[:2],
                RequestSpec(
                    name="review", subject="code.review", fields=("problem", "cod"), responder="critc"
                ),
                RememberSpec(name="keep", collection=SOLVED),
                RecallSpec(name="examples"),
            )
        }
    )
    problems = dict(genome.problems())
    assert "unknown responder 'critc'" in problems["agents[2].responder"]
    assert "did you mean 'critic'" in problems["agents[2].responder"]
    assert "only recalls from it" in problems["agents[3].collection"]
    assert "sends the fields (problem, cod); wired: problem, code" in problems["entry.tasks[1].inputs"]
    two = recalling().model_copy(
        update={
            "entry": DagSpec(
                tasks=(
                    TaskSpec(
                        name="find",
                        agent="solved_examples",
                        inputs=(wire("query", "problem"), wire("again", "problem")),
                    ),
                    TaskSpec(name="shown", agent="echoer", inputs=(wire("text", "find", task=True),)),
                )
            )
        }
    )
    assert ("entry.tasks[0].inputs", "recall 'solved_examples' takes one input, the query; 2 are wired") in (
        two.problems()
    )
    data = recalling().model_dump(mode="json")
    data["agents"][0]["collection"] = "Solved Items"
    with pytest.raises(GenomeInvalid) as caught:
        WorkflowGenome.load(data)
    assert "agents[0].recall.collection" in str(caught.value)


async def test_the_spaces_dialogue_genomes_run_on_the_stub_model_with_their_messages_in_the_forum() -> None:
    from search_spaces._code_genomes import reviewed
    from search_spaces.qa_ensemble import VOTE_SUBJECT, _genome

    judged = _genome(
        [("Answer.", 0.2), ("Answer.", 0.8)],
        "{question}",
        verify=False,
        judge=True,
        retry=False,
        seed=None,
        dialogue=True,
    )
    cases = [
        (reviewed(), {"problem": "def one():\n    'One.'\n"}, ".code.review"),
        (judged, {"question": "What is 2 + 2?"}, "." + VOTE_SUBJECT),
    ]
    async with StubServer(seed=8) as stub:
        client = OpenAICompatible(stub.url, "stub")
        try:
            for genome, inputs, subject in cases:
                forum = Forum()
                async with Runtime(
                    llm=client, bus=MemoryBus(forum=ForumHook.into(forum)), forum=forum
                ) as runtime:
                    result = await runtime.run(to_workflow(genome), inputs)
                assert isinstance(result.output, str)
                subjects = [(await forum.get(h)).metadata.get("subject", "") for h in await _all(forum)]
                assert [s for s in subjects if s.endswith(subject)], subjects
                assert [s for s in subjects if s.endswith(subject + ".reply")]
                assert parse(export(genome)).hash == genome.hash
        finally:
            await client.aclose()
