"""to_workflow(): genomes on the workflow runtime, code run through the CodeRunner (a subprocess)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

import search_spaces
from evoforum.errors import GenomeInvalid, LLMMisbehaved, SandboxFailure
from evoforum.flow import Runtime
from evoforum.genome import (
    DagSpec,
    LLMAgentSpec,
    OutputSchemaSpec,
    PredicateSpec,
    TaskSpec,
    TransitionSpec,
    to_workflow,
)
from evoforum.genome.runnable import UnconfinedRunner, ask, render_prompt
from tests.genome.helpers import Scripted, machine, pipeline, wire

PROBLEM = 'def add(a, b):\n    """Add.\n\n    >>> add(1, 2)\n    3\n    """\n'


class Counting:
    """A CodeRunner that counts calls and delegates to the subprocess runner."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.inner = UnconfinedRunner()

    def run(self, code: str, function: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        self.calls.append(function)
        return self.inner.run(code, function, args, kwargs)


async def test_dag_runs_llm_and_function_agents() -> None:
    llm = Scripted("hello there")
    runner = Counting()
    async with Runtime(llm=llm, transcripts=False) as runtime:
        result = await runtime.run(to_workflow(pipeline(), runner=runner), {"topic": "cats"})
    assert result.output == "HELLO THERE!"
    assert runner.calls == ["shout"]
    request = llm.requests[0]
    assert [m.content for m in request.messages] == ["Be brief.", "About cats"]


async def test_machine_loops_until_the_guard_holds() -> None:
    async with Runtime(transcripts=False) as runtime:
        result = await runtime.run(to_workflow(machine()), {"topic": "hi"})
    # yell: "HI!" (3 chars, short) -> measure -> write again: "HI!!" ... until longer than 5
    assert result.output == "HI!!!!!"
    assert [path[-1] for path in result.trace][:3] == ["write", "measure", "write"]


async def test_predicate_guards_run_through_the_runner() -> None:
    spec = machine().entry
    transitions = list(spec.transitions)  # type: ignore[union-attr]
    transitions[1] = TransitionSpec(source="measure", target="done", guard=PredicateSpec(function="is_long"))
    genome = machine(transitions=tuple(transitions))
    runner = Counting()
    async with Runtime(transcripts=False) as runtime:
        result = await runtime.run(to_workflow(genome, runner=runner), {"topic": "hi"})
    assert result.output == "HI!!!!!"
    assert "is_long" in runner.calls


async def test_code_writing_seed_runs_write_test_done() -> None:
    genome = search_spaces.get("code_writing").seeds()[0]
    llm = Scripted("```python\ndef add(a, b):\n    return a + b\n```")
    async with Runtime(llm=llm, transcripts=False) as runtime:
        result = await runtime.run(to_workflow(genome), {"problem": PROBLEM})
    assert result.output == "def add(a, b):\n    return a + b\n"
    assert [path[-1] for path in result.trace] == ["write", "done"]


async def test_code_writing_seed_fixes_failing_code() -> None:
    genome = search_spaces.get("code_writing").seeds()[0]
    llm = Scripted("def add(a, b):\n    return a - b", "```python\ndef add(a, b):\n    return b + a\n```")
    async with Runtime(llm=llm, transcripts=False) as runtime:
        result = await runtime.run(to_workflow(genome), {"problem": PROBLEM})
    assert [path[-1] for path in result.trace] == ["write", "fix", "done"]
    assert "return b + a" in result.output
    fix_prompt = llm.requests[1].messages[-1].content
    assert "return a - b" in fix_prompt
    assert "add(1, 2) returned -1 instead of 3" in fix_prompt


async def test_qa_seed_votes() -> None:
    genome = search_spaces.get("qa_ensemble").seeds()[1]
    llm = Scripted("x", "y", "z", "think\n42", "hmm\n41", "so\n 42 ")
    async with Runtime(llm=llm, transcripts=False) as runtime:
        result = await runtime.run(to_workflow(genome), {"question": "6 times 7?"})
    assert result.output == "42"
    assert len(llm.requests) == 6


def test_invalid_genomes_do_not_build() -> None:
    with pytest.raises(GenomeInvalid):
        to_workflow(pipeline(inputs=()))


def test_code_failures_become_sandbox_failures() -> None:
    with pytest.raises(SandboxFailure, match=r"shout\(\) failed: .*AttributeError"):
        UnconfinedRunner().run(pipeline().code, "shout", [], {"text": 3})


def test_code_does_not_run_in_this_process() -> None:
    code = "import os\n\ndef pid() -> int:\n    return os.getpid()\n"
    import os

    assert UnconfinedRunner().run(code, "pid", [], {}) != os.getpid()


def test_render_prompt_fills_placeholders_and_appends_the_rest() -> None:
    assert (
        render_prompt("Q: {question} {keep}", {"question": "why", "extra": 1}) == "Q: why {keep}\n\nextra:\n1"
    )
    assert render_prompt("", {"a": "x"}) == "a:\nx"


async def test_output_schema_answers_are_json_and_fields_can_be_wired() -> None:
    writer = LLMAgentSpec(
        name="writer",
        model="m",
        prompt="About {topic}",
        output_schema=OutputSchemaSpec(name="Draft", json_schema={"type": "object"}),
    )
    genome = pipeline(
        agents=(writer, pipeline().agents[1]),
        entry=DagSpec(
            tasks=(
                TaskSpec(name="draft", agent="writer", inputs=(wire("topic", "topic"),)),
                TaskSpec(
                    name="final", agent="loud", inputs=(wire("text", "draft", task=True, field="text"),)
                ),
            )
        ),
    )
    llm = Scripted('```json\n{"text": "fine"}\n```')
    async with Runtime(llm=llm, transcripts=False) as runtime:
        result = await runtime.run(to_workflow(genome), {"topic": "cats"})
    assert result.output == "FINE!"
    assert llm.requests[0].output_schema == {"type": "object"}
    assert llm.requests[0].schema_name == "Draft"


async def test_an_agents_token_cap_goes_into_its_requests() -> None:
    writer, loud = pipeline().agents
    capped = writer.model_copy(update={"max_tokens": 256})
    llm = Scripted("short", "long")
    async with Runtime(llm=llm, transcripts=False) as runtime:
        await runtime.run(to_workflow(pipeline(agents=(capped, loud))), {"topic": "cats"})
        await runtime.run(to_workflow(pipeline()), {"topic": "cats"})
    assert [request.params.max_tokens for request in llm.requests] == [256, None]


async def test_an_answer_that_is_not_json_is_an_llm_misbehaviour() -> None:
    writer = LLMAgentSpec(name="writer", model="m", output_schema=OutputSchemaSpec(name="Draft"))
    with pytest.raises(LLMMisbehaved) as caught:
        await ask(Scripted("no json here"), writer, topic="x")
    assert caught.value.raw == "no json here"  # type: ignore[attr-defined]


@pytest.mark.llm
async def test_write_test_fix_genome_runs_on_the_local_model_and_leaves_its_transcript(
    llm_url: str, llm_model: str
) -> None:
    from evoforum.forum import Forum
    from evoforum.genome import LLMAgentSpec
    from evoforum.llm import OpenAICompatible

    genome = search_spaces.get("code_writing").seeds()[0]  # an LLM agent, code tasks, write -> test -> fix
    agents = tuple(
        a.model_copy(update={"model": llm_model}) if isinstance(a, LLMAgentSpec) else a for a in genome.agents
    )
    genome = genome.model_copy(update={"agents": agents})
    forum = Forum()
    client = OpenAICompatible(llm_url, llm_model, timeout=300)
    try:
        async with Runtime(llm=client, forum=forum) as runtime:
            result = await runtime.run(to_workflow(genome), {"problem": PROBLEM})
    finally:
        await client.aclose()
    steps = [path[-1] for path in result.trace]
    assert steps[0] == "write"
    assert steps[-1] == "done"
    assert "def add" in result.output
    branch = await forum.branch(result.transcript)
    senders = {message.sender for message in branch}
    assert len(branch) >= 4
    assert any("def add" in str(message.content) for message in branch)
    assert {"draft", "check"} <= senders  # the LLM task and the code task both left their messages
