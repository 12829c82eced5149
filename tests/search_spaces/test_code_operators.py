"""The code-writing space's own mutation, ``mut_best_of_k``: one draft becomes best-of-k (the
greedy draft kept as the first candidate), or a selector another; the children are valid, round
trip through export, and run."""

from __future__ import annotations

import random

import search_spaces
from evoforum.codegen import export, parse
from evoforum.evolve.operators import OperatorContext
from evoforum.flow import Runtime
from evoforum.genome import DagSpec, FunctionAgentSpec, LLMAgentSpec, WorkflowGenome, to_workflow
from evoforum.genome.flows import bodies
from search_spaces._code_operators import mut_best_of_k
from search_spaces._code_tools import with_tools, without_tools
from tests.genome.helpers import Scripted
from tests.search_spaces.test_code_blocks import PROBLEM, RIGHT, SQUARE, ZERO, answer

SPACE = search_spaces.get("code_writing")
CONTEXT = OperatorContext(space=SPACE)


def _tasks(genome: WorkflowGenome) -> list:  # type: ignore[type-arg]
    return [t for _, body in bodies(genome.entry) if isinstance(body, DagSpec) for t in body.tasks]


def _selector(genome: WorkflowGenome) -> str:
    [function] = [
        a.function
        for a in genome.agents
        if isinstance(a, FunctionAgentSpec) and a.function.startswith("select")
    ]
    return function


async def _children(genome: WorkflowGenome, seeds: int = 24) -> list[WorkflowGenome]:
    found = []
    for seed in range(seeds):
        for child in await mut_best_of_k([genome], random.Random(seed), CONTEXT):
            assert SPACE.check(child) == []
            assert parse(export(child)).hash == child.hash
            found.append(child)
    return found


async def test_the_single_call_becomes_best_of_k_around_its_greedy_draft() -> None:
    single = SPACE.seeds()[2]
    children = await _children(single)
    assert {_selector(c) for c in children} == {"select_by_examples", "select_by_tests"}  # by the examples
    for child in children:
        writer, sampler = child.agent("writer"), child.agent("sampler")
        assert isinstance(writer, LLMAgentSpec)
        assert isinstance(sampler, LLMAgentSpec)
        assert writer == single.agent("writer")  # the greedy draft stays as it was
        assert sampler.temperature > 0
        assert sampler.prompt == writer.prompt
        select = next(t for t in _tasks(child) if t.name == "select")
        answers = [w.source.task for w in select.inputs if w.parameter.startswith("answer_")]  # type: ignore[union-attr]
        assert answers[0] == "draft"
        assert len(answers) in (3, 4, 5)
        assert select.output == "code"  # what the single call's extractor published
        assert "extractor" not in {a.name for a in child.agents}
    by_examples = next(c for c in children if _selector(c) == "select_by_examples")
    k = len([t for t in _tasks(by_examples) if t.agent in ("writer", "sampler")])
    for drafts, chosen in (
        ([ZERO] + [SQUARE] * (k - 2) + [RIGHT], RIGHT),
        ([RIGHT] + [SQUARE] * (k - 1), RIGHT),
    ):
        llm = Scripted(*(answer(code) for code in drafts))
        async with Runtime(llm=llm, transcripts=False) as runtime:
            result = await runtime.run(to_workflow(by_examples), {"problem": PROBLEM})
        assert result.output == chosen
        temperatures = sorted(r.params.temperature for r in llm.requests)
        assert temperatures[0] == 0.0
        assert temperatures[1] > 0


async def test_a_loops_draft_or_repair_becomes_best_of_k_and_its_reader_reads_the_selection() -> None:
    loop = SPACE.seeds()[0]
    sampled = set()
    for child in await _children(loop, 12):
        tasks = {t.name: t for t in _tasks(child)}
        reader = tasks["check"] if "extract_draft" not in tasks else tasks["keep"]
        assert "select" in {w.source.task for w in reader.inputs if hasattr(w.source, "task")}  # type: ignore[union-attr]
        sampled.add("draft" if "extract_draft" not in tasks else "repair")
        assert child.agent("extractor") is not None  # the other site still extracts
    assert sampled == {"draft", "repair"}


async def test_a_selector_gives_way_to_another_bringing_and_taking_its_tester() -> None:
    codet = SPACE.seeds()[4]  # select_by_tests, its tester and write_tests
    children = await _children(codet)
    assert {_selector(c) for c in children} == {"select_by_examples", "select_by_vote"}
    for child in children:
        assert "write_tests" not in {t.name for t in _tasks(child)}
        assert "tester" not in {a.name for a in child.agents}
        assert "def select_by_tests" not in child.code
        assert f"def {_selector(child)}" in child.code
    examples = SPACE.seeds()[3]
    tested = [c for c in await _children(examples) if _selector(c) == "select_by_tests"]
    assert tested
    select = next(t for t in _tasks(tested[0]) if t.agent.startswith("selector"))
    assert [w.parameter for w in select.inputs][:2] == ["problem", "tests"]


def test_with_tools_adds_what_a_tool_calls_and_keeps_an_evolved_tool() -> None:
    evolved = SPACE.seeds()[0].code.replace("attempts = int(", "attempts = 1 + int(")
    code = with_tools(evolved, ["select_by_vote"])
    assert "attempts = 1 + int(" in code  # the evolved keep_better stays
    namespace: dict[str, object] = {}
    exec(compile(code, "<genome>", "exec"), namespace)  # the space's own tools: this project's code
    assert {"select_by_vote", "example_calls", "behaviour", "keep_better"} <= set(namespace)
    assert with_tools(code, ["select_by_vote"]) == code
    assert "def select_by_vote" not in without_tools(code, ["select_by_vote"])


def test_a_child_naming_tools_its_code_lacks_is_repaired_not_counted_invalid() -> None:
    from evoforum.evolve.operators.base import accept

    loop = SPACE.seeds()[0]
    stripped = loop.code.replace("    failure_report,\n", "").replace("def keep_better", "def _unused")
    child = loop.model_copy(update={"code": stripped})  # as an LMX child that names them without them
    assert {what.split(":")[0] for _, what in SPACE.check(child)} == {
        "unknown function 'failure_report'",
        "unknown function 'keep_better'",
    }
    repaired = SPACE.repair(child)
    assert repaired is not None
    assert SPACE.check(repaired) == []
    assert "failure_report" in repaired.code
    assert "def keep_better" in repaired.code
    assert parse(export(repaired)).hash == repaired.hash
    context = OperatorContext(space=SPACE, repair=SPACE.repair)
    assert accept(child, context, "lmx_code") == repaired
    counts = context.stats.of("lmx_code")
    assert (counts.children, counts.repaired, counts.invalid) == (1, 1, 0)


def test_repair_gives_nothing_for_a_genome_that_lacks_no_tool_or_does_not_parse() -> None:
    loop = SPACE.seeds()[0]
    assert SPACE.repair(loop) is None
    assert SPACE.repair(loop.model_copy(update={"code": "def (:\n"})) is None
    unknown = loop.model_copy(
        update={"agents": (*loop.agents, FunctionAgentSpec(name="helper", function="no_such_tool"))}
    )
    assert SPACE.repair(unknown) is None  # neither a tool nor a library function: nothing to bring
