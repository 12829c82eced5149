"""The genomes of the code-writing space: its building blocks, prompts and genome builders.

A genome writes code in one of two ways: one draft (the single call), or k drafts sampled at a
temperature above 0 (each task its own sampling seed) of which a selector tool keeps one (by the
docstring examples, by behavioural vote, or by examples then model-written tests). Either may be
followed by a write -> fix loop that keeps the best code so far, optionally after a plan. Or a
draft is reviewed over the bus (``reviewed``: a critic serves the subject ``code.review``), revised
after the review, and the better of draft and revision kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from evoforum.genome import (
    AlwaysSpec,
    CompareSpec,
    DagSpec,
    FunctionAgentSpec,
    GuardSpec,
    LLMAgentSpec,
    MachineSpec,
    Metadata,
    PredicateSpec,
    RequestSpec,
    StateSpec,
    TaskSpec,
    TransitionSpec,
    WireSpec,
    WorkflowGenome,
)
from evoforum.genome.agents import PLACEHOLDER
from search_spaces._base import BuildingBlocks, wire
from search_spaces._code_tools import TOOLS, code_for

MODEL = "qwen2.5-coder-0.5b-instruct"

BLOCKS = BuildingBlocks(
    models=(MODEL,),
    system_prompts=(
        "You are a careful Python programmer.",
        "You write correct, simple Python functions.",
        "You are an expert software engineer who writes tested code.",
    ),
    prompt_fragments=(
        "Answer with one fenced Python code block and nothing else.",
        "Keep the given function signature exactly.",
        "Think about edge cases before you write the code.",
        "Use only the standard library.",
        "Prefer clear code over clever code.",
    ),
    tools=TOOLS,
    agent_templates=(
        LLMAgentSpec(name="writer", model=MODEL, prompt="Complete this Python function:\n\n{problem}"),
        LLMAgentSpec(name="fixer", model=MODEL),
        LLMAgentSpec(name="planner", model=MODEL),
        LLMAgentSpec(name="tester", model=MODEL),
    ),
    task_templates=(
        TaskSpec(name="draft", agent="writer", inputs=(wire("problem", "problem"),)),
        TaskSpec(
            name="extract_draft", agent="extractor", inputs=(wire("text", "draft", task=True),), output="code"
        ),
        TaskSpec(
            name="check",
            agent="checker",
            inputs=(wire("problem", "problem"), wire("code", "extract_draft", task=True)),
            output="best",
        ),
        TaskSpec(name="brief", agent="explainer", inputs=(wire("report", "best"),), output="failure"),
        TaskSpec(
            name="repair",
            agent="fixer",
            inputs=(wire("problem", "problem"), wire("failure", "brief", task=True)),
        ),
        TaskSpec(
            name="parse_fix", agent="extractor", inputs=(wire("text", "repair", task=True),), output="code"
        ),
        TaskSpec(
            name="keep",
            agent="keeper",
            inputs=(
                wire("problem", "problem"),
                wire("code", "parse_fix", task=True),
                wire("best", "best"),
            ),
            output="best",
        ),
        TaskSpec(name="answer", agent="picker", inputs=(wire("report", "best"),)),
        TaskSpec(name="outline", agent="planner", inputs=(wire("problem", "problem"),), output="plan"),
    ),
)

WRITE_PROMPTS = (
    "Complete this Python function:\n\n{problem}",
    "Write the full implementation of the following function.\n\n{problem}",
)
PLAN_PROMPT = "Explain in a few short steps how to solve this problem:\n\n{problem}"
PLANNED_PROMPT = "Complete this Python function:\n\n{problem}\n\nFollow this plan:\n{plan}"
FIX_PROMPT = (
    "{problem}\n\nThis implementation of the function above is wrong:\n\n{failure}\n\n"
    "Write the corrected function in full."
)
"""A repair (``fix="repair"``): the best code so far and the examples it gets wrong, one a line."""
RETRY_PROMPT = "Complete this Python function:\n\n{problem}\n\nA first attempt was wrong. {failure}"
"""A fresh attempt (``fix="retry"``): the problem again and the examples the best code gets wrong
(not the code: a small model shown code tends to copy it back)."""
SINGLE_CALL = BLOCKS.system_prompts[0] + " " + BLOCKS.prompt_fragments[0]
"""The system prompt of the single-call seed (and of the seeds' first draft)."""


TEST_PROMPT = (
    "Write five assert statements that test the function below: calls on literal inputs, "
    "compared with the right results. One assert a line, nothing else.\n\n{problem}"
)
"""The tester's prompt (model-written tests for ``select_by_tests``)."""
SELECTORS = ("select_by_examples", "select_by_vote", "select_by_tests")
"""The tools that pick one of k drafts (see ``search_spaces._code_tools``)."""
DRAWS = (3, 4, 5)
"""How many drafts a sampled write takes (k of best-of-k)."""
DRAW_TEMPERATURES = (0.5, 0.8, 1.0)
"""The temperatures drafts are sampled at."""
EXAMPLE_INTRO = "A solved example:\n\n"
BUILT_IN_EXAMPLES = (
    (
        'def count_vowels(text: str) -> int:\n    """The number of vowels (a, e, i, o, u) in text, any case.\n\n'
        '    >>> count_vowels("Hello")\n    2\n    """\n',
        'def count_vowels(text: str) -> int:\n    return sum(1 for c in text.lower() if c in "aeiou")\n',
    ),
    (
        'def running_max(numbers: list) -> list:\n    """The largest number seen so far, at each position.\n\n'
        '    >>> running_max([1, 3, 2, 5])\n    [1, 3, 3, 5]\n    """\n',
        "def running_max(numbers: list) -> list:\n    result = []\n    for n in numbers:\n"
        "        result.append(n if not result else max(result[-1], n))\n    return result\n",
    ),
)
"""Solved problems the space shows when its experiment gives none (``CodeWriting(examples=)``)."""


def few_shot(examples: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Prompt blocks of solved examples ``(problem, solution)`` that a writer prompt may begin
    with; an example whose text holds a ``{name}`` (a prompt placeholder) is left out."""
    texts = [
        f"{EXAMPLE_INTRO}{problem.strip()}\n\nSolution:\n\n{solution.strip()}"
        for problem, solution in examples
    ]
    return tuple(text for text in texts if not PLACEHOLDER.search(text))


def with_examples(prompt: str, examples: Sequence[str]) -> str:
    """``prompt`` after the few-shot ``examples`` (each ends with a blank line)."""
    return "".join(f"{example}\n\n" for example in examples) + prompt


def single_call(
    system: str = SINGLE_CALL,
    temperature: float = 0.0,
    write_prompt: str = WRITE_PROMPTS[0],
    seed: int | None = None,
) -> WorkflowGenome:
    """One call of the model; the code of its answer is the result."""
    origin: dict[str, object] = {"space": "code_writing"}
    origin.update({"seed_genome": seed} if seed is not None else {"operator": "random"})
    return WorkflowGenome(
        inputs=("problem",),
        agents=(
            BLOCKS.agent("writer", system_prompt=system, prompt=write_prompt, temperature=temperature),
            FunctionAgentSpec(name="extractor", function="extract_code"),
        ),
        code=code_for(["extract_code"]),
        entry=DagSpec(tasks=(BLOCKS.task("draft"), BLOCKS.task("extract_draft"))),
        metadata=Metadata(name="single-call", origin=origin),
    )


REVIEW_SUBJECT = "code.review"
"""The subject drafts are sent on for review (its schema: ``problem`` and ``draft``, as text)."""
REVIEW_PROMPT = (
    "Review this solution of the problem below. Name its mistakes briefly, or say that it is "
    "correct.\n\nProblem:\n\n{problem}\n\nSolution:\n\n{draft}"
)
REVISE_PROMPT = (
    "{problem}\n\nA first solution:\n\n{draft}\n\nA reviewer's notes on it:\n\n{review}\n\n"
    "Write the corrected function in full."
)


def reviewed(
    system: str = SINGLE_CALL,
    temperature: float = 0.0,
    write_prompt: str = WRITE_PROMPTS[0],
    *,
    revise_temperature: float = 0.2,
    seed: int | None = None,
) -> WorkflowGenome:
    """Draft, then review over the bus: the draft goes as a request on ``REVIEW_SUBJECT``, which
    the critic serves; the fixer revises the draft after the critic's notes, and the one of the two
    passing more docstring examples is kept (``select_by_examples``)."""
    problem = wire("problem", "problem")
    draft = wire("draft", "draft", task=True)
    origin: dict[str, object] = {"space": "code_writing", "review": REVIEW_SUBJECT}
    origin.update({"seed_genome": seed} if seed is not None else {"operator": "random"})
    return WorkflowGenome(
        inputs=("problem",),
        agents=(
            BLOCKS.agent("writer", system_prompt=system, prompt=write_prompt, temperature=temperature),
            LLMAgentSpec(name="critic", model=MODEL, system_prompt=system, prompt=REVIEW_PROMPT),
            RequestSpec(
                name="review", subject=REVIEW_SUBJECT, fields=("problem", "draft"), responder="critic"
            ),
            BLOCKS.agent("fixer", system_prompt=system, prompt=REVISE_PROMPT, temperature=revise_temperature),
            FunctionAgentSpec(name="selector", function="select_by_examples"),
        ),
        code=code_for(["select_by_examples"]),
        entry=DagSpec(
            tasks=(
                BLOCKS.task("draft"),
                TaskSpec(name="critique", agent="review", inputs=(problem, draft)),
                TaskSpec(
                    name="revise",
                    agent="fixer",
                    inputs=(problem, draft, wire("review", "critique", task=True)),
                ),
                TaskSpec(
                    name="select",
                    agent="selector",
                    inputs=(
                        problem,
                        wire("answer_1", "draft", task=True),
                        wire("answer_2", "revise", task=True),
                    ),
                    output="code",
                ),
            )
        ),
        metadata=Metadata(name="reviewed", origin=origin),
    )


def _passed() -> CompareSpec:
    return CompareSpec(field="passed", op="==", value=True)


def _genome(
    system: str,
    temperature: float,
    write_prompt: str,
    *,
    fix: str,
    attempts: int,
    fix_temperature: float | None = None,
    plan: bool = False,
    nested: bool = False,
    guard: GuardSpec | None = None,
    draws: int = 1,
    selector: str = SELECTORS[0],
    draw_temperature: float = 0.8,
    seed: int | None = None,
) -> WorkflowGenome:
    """write (draft, extract, check) -> fix (brief, repair, extract, keep the better) -> done; the
    machine value ``best`` is the report of the best code so far. With ``draws`` > 1 the write
    state samples that many drafts at ``draw_temperature`` and ``selector`` keeps one."""
    guard = guard if guard is not None else _passed()
    fixer_temperature = temperature if fix_temperature is None else fix_temperature
    fixer = (
        BLOCKS.agent("fixer", system_prompt=system, prompt=FIX_PROMPT, temperature=fixer_temperature)
        if fix == "repair"
        else BLOCKS.agent("fixer", system_prompt=system, prompt=RETRY_PROMPT, temperature=fixer_temperature)
    )
    agents: list[LLMAgentSpec | FunctionAgentSpec] = [
        BLOCKS.agent(
            "writer",
            system_prompt=system,
            prompt=PLANNED_PROMPT if plan else write_prompt,
            temperature=temperature,
        ),
        fixer,
        FunctionAgentSpec(name="extractor", function="extract_code"),
        FunctionAgentSpec(name="checker", function="check_code"),
        FunctionAgentSpec(
            name="explainer", function="failure_report" if fix == "repair" else "failure_hints"
        ),
        FunctionAgentSpec(name="keeper", function="keep_better"),
        FunctionAgentSpec(name="picker", function="final_code"),
    ]
    extra = (wire("plan", "plan"),) if plan else ()
    if draws > 1:
        agents[0] = agents[0].model_copy(update={"temperature": draw_temperature})
        agents.extend(_selection_agents(selector, system))
        check = BLOCKS.task("check", inputs=(wire("problem", "problem"), wire("code", "select", task=True)))
        write = DagSpec(tasks=(*_sampled_tasks(draws, selector, extra), check))
    else:
        draft = BLOCKS.task("draft")
        draft = draft.model_copy(update={"inputs": (*draft.inputs, *extra)})
        write = DagSpec(tasks=(draft, BLOCKS.task("extract_draft"), BLOCKS.task("check")))
    repair = DagSpec(tasks=tuple(BLOCKS.task(name) for name in ("brief", "repair", "parse_fix", "keep")))
    answer = DagSpec(tasks=(BLOCKS.task("answer"),))
    enough = CompareSpec(field="attempts", op=">=", value=attempts)
    loop = MachineSpec(
        states=(
            StateSpec(name="write", body=write),
            StateSpec(name="fix", body=repair),
            StateSpec(name="done", body=answer),
        ),
        transitions=(
            TransitionSpec(source="write", target="done", guard=guard),
            TransitionSpec(source="write", target="fix", guard=AlwaysSpec()),
            TransitionSpec(source="fix", target="done", guard=guard),
            TransitionSpec(source="fix", target="done", guard=enough),
            TransitionSpec(source="fix", target="fix", guard=AlwaysSpec()),
        ),
        initial="write",
        max_steps=attempts + 3,
    )
    entry: MachineSpec = loop
    if plan:
        agents.append(
            BLOCKS.agent("planner", system_prompt=system, prompt=PLAN_PROMPT, temperature=temperature)
        )
        planning = DagSpec(tasks=(BLOCKS.task("outline"),))
        if nested:
            entry = MachineSpec(
                states=(StateSpec(name="plan", body=planning), StateSpec(name="solve", body=loop)),
                transitions=(TransitionSpec(source="plan", target="solve"),),
                initial="plan",
                max_steps=3,
            )
        else:
            states = (StateSpec(name="plan", body=planning), *loop.states)
            transitions = (TransitionSpec(source="plan", target="write"), *loop.transitions)
            entry = loop.model_copy(
                update={
                    "states": states,
                    "transitions": transitions,
                    "initial": "plan",
                    "max_steps": loop.max_steps + 1,
                }
            )
    explain = "failure_report" if fix == "repair" else "failure_hints"
    tools = ["extract_code", "check_code", explain, "keep_better", "final_code"]
    if isinstance(guard, PredicateSpec):
        tools.append("has_passed")
    if draws > 1:
        tools.append(selector)
    origin: dict[str, object] = {"space": "code_writing", "fix": fix}
    origin.update({"seed_genome": seed} if seed is not None else {"operator": "random"})
    return WorkflowGenome(
        inputs=("problem",),
        agents=tuple(agents),
        code=code_for(tools),
        entry=entry,
        metadata=Metadata(name="code-writing", origin=origin),
    )


def sampled(
    system: str = SINGLE_CALL,
    write_prompt: str = WRITE_PROMPTS[0],
    *,
    draws: int = 4,
    temperature: float = 0.8,
    selector: str = SELECTORS[0],
    seed: int | None = None,
) -> WorkflowGenome:
    """Best-of-k: ``draws`` drafts of one prompt at ``temperature`` (each its own sampling seed),
    then ``selector`` keeps one; with ``select_by_tests`` a tester writes asserts first."""
    agents: list[LLMAgentSpec | FunctionAgentSpec] = [
        BLOCKS.agent("writer", system_prompt=system, prompt=write_prompt, temperature=temperature),
        *_selection_agents(selector, system),
    ]
    origin: dict[str, object] = {"space": "code_writing", "select": selector}
    origin.update({"seed_genome": seed} if seed is not None else {"operator": "random"})
    return WorkflowGenome(
        inputs=("problem",),
        agents=tuple(agents),
        code=code_for([selector]),
        entry=DagSpec(tasks=_sampled_tasks(draws, selector, ())),
        metadata=Metadata(name=f"best-of-{draws}", origin=origin),
    )


def _selection_agents(selector: str, system: str) -> list[LLMAgentSpec | FunctionAgentSpec]:
    """The selector (and the tester it reads, for ``select_by_tests``)."""
    agents: list[LLMAgentSpec | FunctionAgentSpec] = [FunctionAgentSpec(name="selector", function=selector)]
    if selector == "select_by_tests":
        agents.append(BLOCKS.agent("tester", system_prompt=system, prompt=TEST_PROMPT))
    return agents


def _sampled_tasks(draws: int, selector: str, extra: tuple[WireSpec, ...]) -> tuple[TaskSpec, ...]:
    """``draft_1`` ... ``draft_k`` (the writer, each with ``extra`` inputs), then ``select``
    (output ``code``), after ``write_tests`` (output ``tests``) for ``select_by_tests``."""
    problem = wire("problem", "problem")
    drafts = [
        TaskSpec(name=f"draft_{i}", agent="writer", inputs=(problem, *extra)) for i in range(1, draws + 1)
    ]
    inputs = [problem]
    if selector == "select_by_tests":
        drafts.append(TaskSpec(name="write_tests", agent="tester", inputs=(problem,), output="tests"))
        inputs.append(wire("tests", "write_tests", task=True))
    inputs += [wire(f"answer_{i}", f"draft_{i}", task=True) for i in range(1, draws + 1)]
    select = TaskSpec(name="select", agent="selector", inputs=tuple(inputs), output="code")
    return (*drafts, select)
