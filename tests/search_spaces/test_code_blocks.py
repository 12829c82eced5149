"""The code-writing space's evolvable blocks: selectors of k drafts (run in the real sandbox),
best-of-k end to end with the stub model, few-shot examples, and random genomes of every block."""

from __future__ import annotations

import random

import numpy as np
import pytest

import experiments
import search_spaces
from evoforum.codegen import export, parse
from evoforum.evolve.operators import OperatorContext
from evoforum.evolve.operators.structural import mut_add_task, mut_examples, mut_fan_out
from evoforum.flow import Runtime
from evoforum.genome import DagSpec, FromInputSpec, LLMAgentSpec, to_workflow
from evoforum.genome.library import library_files
from evoforum.genome.runnable import call_seed
from evoforum.llm import OpenAICompatible
from evoforum.llm.stub import StubServer
from evoforum.run.llm import Sampling
from evoforum.sandbox import Sandbox, SandboxLimits
from search_spaces._code_tools import code_for
from search_spaces.code_writing import SELECTORS, CodeWriting
from tests.genome.helpers import Scripted

FENCE = "`" * 3
PROBLEM = (
    "def double(x: int) -> int:\n"
    '    """Twice x.\n\n    >>> double(2)\n    4\n    >>> double(0)\n    0\n    >>> double(-3)\n    -6\n    """\n'
)
RIGHT = "def double(x):\n    return 2 * x\n"
ALSO_RIGHT = "def double(x):\n    return x + x\n"
SQUARE = "def double(x):\n    return x * x\n"  # passes double(2) and double(0): 2 of 3
ZERO = "def double(x):\n    return 0\n"  # passes double(0) only
LIMITS = SandboxLimits(cpu_s=20, memory_mb=256, wall_s=25.0)


def answer(code: str) -> str:
    return f"Here it is:\n{FENCE}python\n{code}{FENCE}\n"


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(LIMITS, files=library_files())


def select(sandbox: Sandbox, selector: str, *codes: str, **extra: str) -> str:
    source = code_for([selector])
    answers = {f"answer_{i}": answer(code) for i, code in enumerate(codes, 1)}
    chosen = sandbox.run(source, selector, [], {"problem": PROBLEM, **extra, **answers})
    assert isinstance(chosen, str)
    return chosen


def test_select_by_examples_keeps_the_draft_passing_most_examples_and_the_first_on_a_tie(
    sandbox: Sandbox,
) -> None:
    assert select(sandbox, "select_by_examples", ZERO, SQUARE, RIGHT, ZERO) == RIGHT
    assert select(sandbox, "select_by_examples", ZERO, SQUARE, ZERO) == SQUARE
    assert select(sandbox, "select_by_examples", ALSO_RIGHT, RIGHT) == ALSO_RIGHT
    assert select(sandbox, "select_by_examples", "def double(:\n", ZERO) == ZERO  # broken code ranks last


def test_select_by_vote_keeps_the_largest_group_of_drafts_that_behave_alike(sandbox: Sandbox) -> None:
    # RIGHT and ALSO_RIGHT return the same on every example input: two votes against one each
    assert select(sandbox, "select_by_vote", SQUARE, RIGHT, ZERO, ALSO_RIGHT) == RIGHT
    # two drafts that are alike but wrong outvote one right one: voting, not checking
    assert select(sandbox, "select_by_vote", RIGHT, ZERO, ZERO.replace("0", "0 * x")) == ZERO
    # code that does not run never votes, even as a majority
    broken = "def double(x):\n    return undefined_name\n"
    assert select(sandbox, "select_by_vote", "def double(:\n", "def double(:\n", SQUARE) == SQUARE
    assert select(sandbox, "select_by_vote", broken, broken, RIGHT) == broken  # raising is behaviour


def test_select_by_tests_breaks_ties_on_the_examples_with_model_written_asserts(sandbox: Sandbox) -> None:
    odd = "def double(x):\n    return 2 * x if x < 10 else 0\n"  # passes every example
    tests = (
        f"{FENCE}python\nassert double(1) == 2\nassert double(50) == 100\n"
        "assert double(7) == 14\nassert double(  # cut off\n"
        f"{FENCE}"
    )
    assert select(sandbox, "select_by_tests", odd, RIGHT, tests=tests) == RIGHT
    assert select(sandbox, "select_by_tests", SQUARE, odd, tests="no asserts at all") == odd
    # examples first: a draft passing more examples wins whatever the generated tests say
    assert select(sandbox, "select_by_tests", ZERO, odd, tests="assert double(5) == 0") == odd


def test_a_generated_test_that_hangs_is_cut_off_and_the_selection_goes_on(sandbox: Sandbox) -> None:
    hang = "assert double(1) == 2\nassert [0 for _ in iter(int, 1)]\nassert double(3) == 6"
    assert select(sandbox, "select_by_tests", ZERO, RIGHT, tests=hang) == RIGHT


async def test_best_of_k_runs_end_to_end_with_the_stub_model(sandbox: Sandbox) -> None:
    space = search_spaces.get("code_writing")
    genome = space.seeds()[3]
    drafts = [t for t in genome.entry.tasks if t.agent == "writer"]  # type: ignore[union-attr]
    assert len(drafts) == 4
    async with StubServer(seed=2) as server:
        client = OpenAICompatible(server.url, "stub")
        try:
            sampling = Sampling(client, seed=0, item="double")
            async with Runtime(llm=sampling, transcripts=False) as runtime:
                result = await runtime.run(to_workflow(genome, runner=sandbox), {"problem": PROBLEM})
                again = await runtime.run(to_workflow(genome, runner=sandbox), {"problem": PROBLEM})
        finally:
            await client.aclose()
    assert sampling.calls == 8  # four drafts, twice
    assert result.output == again.output  # the same seeds: the same drafts, the same choice
    tools: dict[str, object] = {}
    exec(compile(genome.code, "<tools>", "exec"), tools)  # the space's own tools: this project's code
    check, extract = tools["check_code"], tools["extract_code"]
    drafted = [extract(result.outputs[t.name]) for t in drafts]  # type: ignore[operator]
    assert len(set(drafted)) > 1  # the drafts differ: each asked with its own seed
    scores = [check(PROBLEM, code)["score"] for code in drafted]  # type: ignore[operator]
    assert result.output == drafted[scores.index(max(scores))]


async def test_each_draft_of_the_codet_seed_asks_with_its_own_seed() -> None:
    genome = search_spaces.get("code_writing").seeds()[4]
    llm = Scripted(*(answer(c) for c in (ZERO, SQUARE, RIGHT, ZERO)), "assert double(1) == 2")
    async with Runtime(llm=llm, transcripts=False) as runtime:
        result = await runtime.run(to_workflow(genome), {"problem": PROBLEM})
    assert result.output == RIGHT
    seeds = {r.params.seed for r in llm.requests if r.params.temperature}
    assert seeds == {call_seed(f"draft_{i}", 0) for i in range(1, 5)}


def test_random_genomes_of_every_block_are_valid_and_round_trip() -> None:
    space = CodeWriting()
    seen: set[str] = set()
    for seed in range(80):
        genome = space.random_genome(np.random.default_rng(seed))
        assert space.check(genome) == []
        assert parse(export(genome)).hash == genome.hash
        for agent in genome.agents:
            seen.add(getattr(agent, "function", "llm"))
        if any(
            example in getattr(a, "prompt", "") for a in genome.agents for example in space.blocks.examples
        ):
            seen.add("few-shot")
        seen |= {t.executor for _, body in _dags(genome) for t in body.tasks}
    assert set(SELECTORS) | {"few-shot", "failure_report", "failure_hints"} <= seen
    assert "process" not in seen  # the executor is no gene: compiled tasks all run on asyncio


def _dags(genome: object) -> list[tuple[object, DagSpec]]:
    from evoforum.evolve.operators import _edit as e

    return e.dags(genome)  # type: ignore[arg-type]


def test_the_experiments_train_items_are_the_few_shot_examples() -> None:
    experiment = experiments.get("humaneval", {"train": 4, "valid": 2, "test": 2}, 0)
    solved = experiment.examples()
    assert len(solved) == 2
    train = [experiment.problems[i] for i in experiment.splits().train]  # type: ignore[attr-defined]
    assert solved[0] == (train[0].prompt, train[0].prompt + train[0].canonical_solution)
    space = search_spaces.get("code_writing", solved)
    assert space.blocks.examples[0].startswith("A solved example:\n\n" + train[0].prompt.strip())


async def test_mut_examples_adds_a_solved_example_to_a_prompt_and_drops_it_again() -> None:
    space = search_spaces.get("code_writing")
    context = OperatorContext(space=space)
    genome = space.seeds()[2]
    [child] = await mut_examples([genome], random.Random(0), context)
    writer = child.agent("writer")
    assert isinstance(writer, LLMAgentSpec)
    assert any(writer.prompt.startswith(x + "\n\n") for x in space.blocks.examples)
    assert writer.prompt.endswith(genome.agent("writer").prompt)  # type: ignore[union-attr]
    children = []
    for seed in range(8):
        children += await mut_examples([child], random.Random(seed), context)
    assert genome.hash in {c.hash for c in children}  # dropped again
    assert any(
        len([x for x in space.blocks.examples if x in c.agent("writer").prompt]) == 2 for c in children
    )  # type: ignore[union-attr]


async def test_mut_fan_out_grows_and_shrinks_k_and_the_child_runs() -> None:
    space = search_spaces.get("code_writing")
    context = OperatorContext(space=space)
    genome = space.seeds()[3]
    sizes = set()
    grown = []
    for seed in range(12):
        for child in await mut_fan_out([genome], random.Random(seed), context):
            assert space.check(child) == []
            sizes.add(sum(t.agent == "writer" for t in child.entry.tasks))  # type: ignore[union-attr]
            grown += [child] if len(child.entry.tasks) == 6 else []  # type: ignore[union-attr]
    assert sizes == {3, 5}
    llm = Scripted(*(answer(c) for c in (ZERO, SQUARE, ZERO, ZERO, RIGHT)))
    async with Runtime(llm=llm, transcripts=False) as runtime:
        result = await runtime.run(to_workflow(grown[0]), {"problem": PROBLEM})
    assert result.output == RIGHT  # the fifth draft is read by the selector


async def test_an_added_refiner_can_read_the_problem() -> None:
    space = search_spaces.get("code_writing")
    context = OperatorContext(space=space)
    reads = set()
    for seed in range(10):
        for child in await mut_add_task([space.seeds()[2]], random.Random(seed), context):
            refine = next(t for t in child.entry.tasks if t.name.startswith("refine"))  # type: ignore[union-attr]
            reads.add(tuple(w.source.name for w in refine.inputs if isinstance(w.source, FromInputSpec)))
            assert parse(export(child)).hash == child.hash
    assert reads == {(), ("problem",)}
