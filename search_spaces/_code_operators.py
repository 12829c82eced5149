"""The code-writing space's own mutation: sampling and selection as a block evolution adds and
tunes (``CodeWriting.operators``; a run draws it in the ``mutate`` group).

``mut_best_of_k`` finds one of two sites. A draft that an extractor reads (``extract_code`` of a
writer's answer: the single call, a loop's first draft or its repair) becomes the first of k candidates: the
draft itself, then k - 1 samples of the same prompt at a temperature above 0 by a ``sampler`` (the
writer's twin), and a selector that ranks by the docstring examples keeps one of them
(``KEEPERS``). The greedy draft stays a candidate and wins ties, so the answer changes only for
code that passes more of the examples. Or a selector already there gives way to another, voting
included (``select_by_tests`` brings its tester, and takes it away again). ``mut_fan_out`` then
grows and shrinks k.

Voting is not added to a draft directly: it may outvote a greedy draft that passes every example
(with the local model, samples at temperature 1.0 that agree on a wrong answer did so in the
quickstart).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from evoforum.evolve.operators import OperatorContext, operator
from evoforum.genome import (
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    FunctionAgentSpec,
    LLMAgentSpec,
    TaskSpec,
    WireSpec,
    WorkflowGenome,
)
from evoforum.genome.edits import fresh, prune_agents, rewired, used_names
from evoforum.genome.flows import bodies, replaced
from search_spaces._code_genomes import BLOCKS, DRAW_TEMPERATURES, DRAWS, SELECTORS, TEST_PROMPT
from search_spaces._code_tools import with_tools, without_tools

EXTRACTOR = "extract_code"
KEEPERS = ("select_by_examples", "select_by_tests")
"""The selectors a new best-of-k starts with: both rank by the examples first."""


@operator("mut_best_of_k")
def mut_best_of_k(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> list[WorkflowGenome]:
    """One draft becomes best-of-k, or one selector another; see the module docstring."""
    del context
    genome = parents[0]
    if "problem" not in genome.inputs:
        return []
    functions = {a.name: a.function for a in genome.agents if isinstance(a, FunctionAgentSpec)}
    writers = {a.name: a for a in genome.agents if isinstance(a, LLMAgentSpec) and a.output_schema is None}
    drafts, selections = [], []
    for trail, body in bodies(genome.entry):
        if not isinstance(body, DagSpec):
            continue
        for task in body.tasks:
            read = _whole_reads(task)
            if functions.get(task.agent) == EXTRACTOR and len(read) == 1:
                draft = next(t for t in body.tasks if t.name == read[0])
                if draft.agent in writers:
                    drafts.append((trail, body, draft, task))
            elif functions.get(task.agent) in SELECTORS:
                selections.append((trail, body, task))
    if drafts and (not selections or rng.random() < 0.5):
        trail, body, draft, extract = drafts[rng.randrange(len(drafts))]
        new = _sample(genome, body, draft, extract, writers[draft.agent], rng)
    elif selections:
        trail, body, select = selections[rng.randrange(len(selections))]
        new = _swap(genome, body, select, functions[select.agent], rng)
    else:
        return []
    child, dag = new
    child = child.model_copy(update={"entry": replaced(child.entry, trail, dag)})
    return [prune_agents(child)]


def _whole_reads(task: TaskSpec) -> list[str]:
    """The upstream tasks ``task`` reads whole (not a field of)."""
    return [
        w.source.task for w in task.inputs if isinstance(w.source, FromTaskSpec) and w.source.field is None
    ]


def _sample(
    genome: WorkflowGenome,
    dag: DagSpec,
    draft: TaskSpec,
    extract: TaskSpec,
    writer: LLMAgentSpec,
    rng: random.Random,
) -> tuple[WorkflowGenome, DagSpec]:
    """``draft`` and k - 1 samples, read by a selector in ``extract``'s place."""
    taken = used_names(genome)
    temperature = DRAW_TEMPERATURES[rng.randrange(len(DRAW_TEMPERATURES))]
    sampler = writer.model_copy(update={"name": fresh("sampler", taken), "temperature": temperature})
    samples = [
        draft.model_copy(update={"name": fresh("sample", taken), "agent": sampler.name, "output": None})
        for _ in range(DRAWS[rng.randrange(len(DRAWS))] - 1)
    ]
    selector = KEEPERS[rng.randrange(len(KEEPERS))]
    agents: list[LLMAgentSpec | FunctionAgentSpec] = [
        sampler,
        FunctionAgentSpec(name=fresh("selector", taken), function=selector),
    ]
    sink = not any(_reads(t, extract.name) for t in dag.tasks)
    inputs = [_problem(), *(_answer(i, t.name) for i, t in enumerate([draft, *samples], 1))]
    added = list(samples)
    if selector == "select_by_tests":
        tester, tests = _tester(writer, draft, taken)
        agents.append(tester)
        added.append(tests)
        inputs.insert(1, WireSpec(parameter="tests", source=FromTaskSpec(task=tests.name)))
    select = TaskSpec(
        name=fresh("select", taken),
        agent=agents[1].name,
        inputs=tuple(inputs),
        output=extract.output_name if extract.output is not None or sink else None,
    )
    tasks: list[TaskSpec] = []
    for task in dag.tasks:
        if task.name == extract.name:
            tasks += [*added, select]
        else:
            tasks.append(rewired(task, extract.name, select.name))
    child = genome.model_copy(
        update={"agents": (*genome.agents, *agents), "code": with_tools(genome.code, [selector])}
    )
    return child, DagSpec(tasks=tuple(tasks))


def _swap(
    genome: WorkflowGenome, dag: DagSpec, select: TaskSpec, old: str, rng: random.Random
) -> tuple[WorkflowGenome, DagSpec]:
    """``select`` calling another selector: a tester's asserts are added for ``select_by_tests``
    and dropped with it (the tester task goes when nothing else reads it)."""
    options = [s for s in SELECTORS if s != old]
    new = options[rng.randrange(len(options))]
    taken = used_names(genome)
    selector = FunctionAgentSpec(name=fresh("selector", taken), function=new)
    agents: list[LLMAgentSpec | FunctionAgentSpec] = [selector]
    inputs = list(select.inputs)
    dropped: set[str] = set()
    if old == "select_by_tests":
        wired = next((w for w in inputs if w.parameter == "tests"), None)
        if wired is not None:
            inputs.remove(wired)
            if isinstance(wired.source, FromTaskSpec):
                source = wired.source.task
                if not any(_reads(t, source) for t in dag.tasks if t.name != select.name):
                    dropped.add(source)
    added: list[TaskSpec] = []
    if new == "select_by_tests":
        first = next((t for t in dag.tasks if t.name in _whole_reads(select)), None)
        writer = genome.agent(first.agent) if first is not None else None
        if first is None or not isinstance(writer, LLMAgentSpec):
            return genome, dag
        tester, tests = _tester(writer, first, taken)
        agents.append(tester)
        added.append(tests)
        inputs.insert(1, WireSpec(parameter="tests", source=FromTaskSpec(task=tests.name)))
    chosen = select.model_copy(update={"agent": selector.name, "inputs": tuple(inputs)})
    tasks: list[TaskSpec] = []
    for task in dag.tasks:
        if task.name in dropped:
            continue
        tasks += [*added, chosen] if task.name == select.name else [task]
    code = without_tools(with_tools(genome.code, [new]), [old])
    child = genome.model_copy(update={"agents": (*genome.agents, *agents), "code": code})
    return child, DagSpec(tasks=tuple(tasks))


def _tester(writer: LLMAgentSpec, like: TaskSpec, taken: set[str]) -> tuple[LLMAgentSpec, TaskSpec]:
    """A tester (the writer's system prompt, ``TEST_PROMPT``) and its task, reading ``problem``
    where ``like`` reads it."""
    tester = BLOCKS.agent(
        "tester", name=fresh("tester", taken), system_prompt=writer.system_prompt, prompt=TEST_PROMPT
    )
    problem = next((w for w in like.inputs if w.parameter == "problem"), _problem())
    return tester, TaskSpec(name=fresh("write_tests", taken), agent=tester.name, inputs=(problem,))


def _problem() -> WireSpec:
    return WireSpec(parameter="problem", source=FromInputSpec(name="problem"))


def _answer(index: int, task: str) -> WireSpec:
    return WireSpec(parameter=f"answer_{index}", source=FromTaskSpec(task=task))


def _reads(task: TaskSpec, source: str) -> bool:
    return any(isinstance(w.source, FromTaskSpec) and w.source.task == source for w in task.inputs)
