"""Question answering ensembles: solvers, verifiers and voters in DAG or retry-machine topologies.

An LLM judge may hear the solvers' answers over the bus: its call becomes a request on the
subject ``answers.vote`` (the question and each answer, as text) that the judge serves.

Inputs: ``question``. Output: the answer text.
"""

from __future__ import annotations

import numpy as np

from evoforum.genome import (
    CompareSpec,
    Constraints,
    DagSpec,
    FunctionAgentSpec,
    LLMAgentSpec,
    MachineSpec,
    Metadata,
    StateSpec,
    TaskSpec,
    TransitionSpec,
    WireSpec,
    WorkflowGenome,
)
from evoforum.genome.edits import over_bus
from search_spaces._base import BuildingBlocks, SearchSpace, chance, code_of, pick, system_prompt, wire

MODEL = "qwen2.5-coder-0.5b-instruct"

TOOLS = {
    "majority_vote": '''
def majority_vote(**answers: str) -> str:
    """The most common answer (after trimming and lower-casing); ties go to the first."""
    counts = Counter(answer.strip().lower() for answer in answers.values())
    best = max(counts.values())
    trimmed = [answer.strip() for answer in answers.values()]
    return next(answer for answer in trimmed if counts[answer.lower()] == best)
''',
    "first_line": '''
def first_line(text: str) -> str:
    """The first non-empty line of a reply."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""
''',
    "last_line": '''
def last_line(text: str) -> str:
    """The last non-empty line of a reply (where a final answer usually is)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
''',
}

BLOCKS = BuildingBlocks(
    models=(MODEL,),
    system_prompts=(
        "You answer questions accurately.",
        "You are a patient expert who reasons step by step.",
        "You are a concise assistant.",
    ),
    prompt_fragments=(
        "End with the final answer on its own line.",
        "Think step by step.",
        "If unsure, say which answer is most likely.",
        "Answer briefly.",
        "Give only the final answer, with no explanation.",
    ),
    tools=TOOLS,
    agent_templates=(
        LLMAgentSpec(name="solver", model=MODEL, prompt="{question}"),
        LLMAgentSpec(
            name="verifier",
            model=MODEL,
            prompt="Question: {question}\nProposed answer: {answer}\n"
            "Check the answer. Reply with the corrected final answer on the last line.",
        ),
        LLMAgentSpec(name="judge", model=MODEL, system_prompt="You pick the best answer."),
    ),
    task_templates=(
        TaskSpec(name="solve", agent="solver", inputs=(wire("question", "question"),)),
        TaskSpec(
            name="verify",
            agent="verifier",
            inputs=(wire("question", "question"), wire("answer", "solve", task=True)),
        ),
        TaskSpec(name="short", agent="shorten", inputs=(wire("text", "solve", task=True),)),
        TaskSpec(name="decide", agent="voter"),
        TaskSpec(name="final", agent="first", inputs=(wire("text", "decide"),)),
    ),
)

SOLVE_PROMPTS = ("{question}", "Question: {question}\nAnswer:")


class QAEnsemble(SearchSpace):
    """One to four solvers, optional verifiers, a voting function or an LLM judge; optionally in a
    machine that asks again when the judge is not confident."""

    name = "qa_ensemble"
    blocks = BLOCKS
    constraints = Constraints(
        max_tasks=12, max_states=4, allowed_models=BLOCKS.models, allowed_imports=("collections", "re")
    )

    def seeds(self) -> tuple[WorkflowGenome, ...]:
        base = BLOCKS.system_prompts[0]
        return (
            _genome([(base, 0.0)], SOLVE_PROMPTS[0], verify=False, judge=False, retry=False, seed=0),
            _genome(
                [(base, 0.2), (base, 0.5), (base, 0.8)],
                SOLVE_PROMPTS[1],
                verify=True,
                judge=False,
                retry=False,
                seed=1,
            ),
            _genome(
                [(base, 0.2), (base, 0.8)], SOLVE_PROMPTS[1], verify=False, judge=True, retry=True, seed=2
            ),
        )

    def _generate(self, rng: np.random.Generator) -> WorkflowGenome:
        count = int(rng.integers(1, 5))
        solvers = [
            (system_prompt(rng, BLOCKS, pick(rng, BLOCKS.system_prompts)), pick(rng, BLOCKS.temperatures))
            for _ in range(count)
        ]
        judge = chance(rng, 0.4)
        return _genome(
            solvers,
            pick(rng, SOLVE_PROMPTS),
            verify=chance(rng, 0.4) and count <= 3,
            judge=judge,
            retry=judge and chance(rng, 0.5),
            seed=None,
            dialogue=judge and chance(rng, 0.5),
        )


VOTE_SUBJECT = "answers.vote"
"""The subject a judge hears the answers on when it is asked over the bus."""


def _genome(
    solvers: list[tuple[str, float]],
    prompt: str,
    *,
    verify: bool,
    judge: bool,
    retry: bool,
    seed: int | None,
    dialogue: bool = False,
) -> WorkflowGenome:
    agents: list[LLMAgentSpec | FunctionAgentSpec] = []
    tasks: list[TaskSpec] = []
    finals: list[str] = []
    for index, (system, temperature) in enumerate(solvers):
        solver = f"solver_{index}"
        agents.append(
            BLOCKS.agent("solver", name=solver, system_prompt=system, prompt=prompt, temperature=temperature)
        )
        tasks.append(BLOCKS.task("solve", name=f"solve_{index}", agent=solver))
        last = f"solve_{index}"
        if verify:
            inputs = (wire("question", "question"), wire("answer", last, task=True))
            tasks.append(BLOCKS.task("verify", name=f"verify_{index}", inputs=inputs))
            last = f"verify_{index}"
        finals.append(last)
    if verify:
        agents.append(BLOCKS.agent("verifier", system_prompt=solvers[0][0]))
    tools = ["last_line"]
    shortened = []
    for index, name in enumerate(finals):
        tasks.append(BLOCKS.task("short", name=f"short_{index}", inputs=(wire("text", name, task=True),)))
        shortened.append(f"short_{index}")
    agents.append(FunctionAgentSpec(name="shorten", function="last_line"))
    votes: tuple[WireSpec, ...] = tuple(
        wire(f"answer_{i}", name, task=True) for i, name in enumerate(shortened)
    )
    if judge:
        listing = "\n".join(f"Answer {i + 1}: {{answer_{i}}}" for i in range(len(shortened)))
        ask = f"Question: {{question}}\n{listing}\nReply with the best answer, then CONFIDENT or UNSURE."
        agents.append(BLOCKS.agent("judge", prompt=ask))
        tasks.append(BLOCKS.task("decide", agent="judge", inputs=(wire("question", "question"), *votes)))
    else:
        tools.append("majority_vote")
        agents.append(FunctionAgentSpec(name="voter", function="majority_vote"))
        tasks.append(BLOCKS.task("decide", inputs=votes))
    header = "from collections import Counter" if "majority_vote" in tools else ""
    entry: DagSpec | MachineSpec = DagSpec(tasks=tuple(tasks))
    if retry:
        tools.append("first_line")
        agents.append(FunctionAgentSpec(name="first", function="first_line"))
        final = BLOCKS.task("final")
        entry = MachineSpec(
            states=(
                StateSpec(name="answer", body=entry),
                StateSpec(name="done", body=DagSpec(tasks=(final,))),
            ),
            transitions=(
                TransitionSpec(
                    source="answer", target="done", guard=CompareSpec(op="contains", value="CONFIDENT")
                ),
                TransitionSpec(source="answer", target="answer"),
            ),
            initial="answer",
            max_steps=3,
        )
    origin: dict[str, object] = {"space": "qa_ensemble"}
    origin.update({"seed_genome": seed} if seed is not None else {"operator": "random"})
    genome = WorkflowGenome(
        inputs=("question",),
        agents=tuple(agents),
        code=code_of(BLOCKS, tools, header),
        entry=entry,
        metadata=Metadata(name="qa-ensemble", origin=origin),
    )
    return (over_bus(genome, "decide", VOTE_SUBJECT) or genome) if dialogue and judge else genome
