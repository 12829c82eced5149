"""Code writing: a single call, or write -> test -> fix state machines with LLM and tool agents.

Inputs: ``problem`` (a function signature with a docstring and examples). Output: Python code.

The machines keep the best code so far: the draft is checked against the docstring's examples,
and a fix (or a fresh attempt) replaces it only when it passes more of them (``keep_better``),
so a loop never ends with code worse than its first draft, and it stops after a few attempts.
"""

from __future__ import annotations

import numpy as np

from evoforum.genome import (
    AlwaysSpec,
    CompareSpec,
    Constraints,
    DagSpec,
    FunctionAgentSpec,
    GuardSpec,
    LLMAgentSpec,
    MachineSpec,
    Metadata,
    PredicateSpec,
    StateSpec,
    TaskSpec,
    TransitionSpec,
    WorkflowGenome,
)
from search_spaces._base import BuildingBlocks, SearchSpace, chance, code_of, pick, system_prompt, wire
from search_spaces._code_tools import HEADER, TOOLS, tools_for

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


class CodeWriting(SearchSpace):
    """A single call, or a write -> fix loop that keeps the best code, optionally after a plan."""

    name = "code_writing"
    blocks = BLOCKS
    constraints = Constraints(
        max_tasks=12,
        max_states=10,
        max_code_lines=320,
        allowed_models=BLOCKS.models,
        allowed_imports=("ast", "doctest", "re", "json", "math", "signal"),
    )

    def seeds(self) -> tuple[WorkflowGenome, ...]:
        """0: write, then repair twice at most; 1: write, then two fresh attempts told which
        examples the best code gets wrong; 2: the single call (the experiments' baseline).

        The loops' first draft is the single call's own request, and they keep it unless a later
        code passes more examples: on the examples they never end below it."""
        return (
            _genome(
                SINGLE_CALL, 0.0, WRITE_PROMPTS[0], fix="repair", attempts=2, fix_temperature=0.2, seed=0
            ),
            _genome(SINGLE_CALL, 0.0, WRITE_PROMPTS[0], fix="retry", attempts=2, fix_temperature=0.7, seed=1),
            single_call(seed=2),
        )

    def _generate(self, rng: np.random.Generator) -> WorkflowGenome:
        prompt = system_prompt(rng, BLOCKS, pick(rng, BLOCKS.system_prompts))
        if chance(rng, 0.15):
            return single_call(prompt, pick(rng, BLOCKS.temperatures), pick(rng, WRITE_PROMPTS))
        guard: GuardSpec = _passed() if chance(rng, 0.5) else PredicateSpec(function="has_passed")
        return _genome(
            prompt,
            pick(rng, BLOCKS.temperatures),
            pick(rng, WRITE_PROMPTS),
            fix=pick(rng, ("repair", "retry")),
            attempts=int(rng.integers(1, 4)),
            fix_temperature=pick(rng, BLOCKS.temperatures),
            plan=chance(rng, 0.3),
            nested=chance(rng, 0.3),
            guard=guard,
            executor=pick(rng, ("asyncio", "process")),
        )


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
        code=code_of(BLOCKS, tools_for(["extract_code"]), HEADER),
        entry=DagSpec(tasks=(BLOCKS.task("draft"), BLOCKS.task("extract_draft"))),
        metadata=Metadata(name="single-call", origin=origin),
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
    executor: str = "asyncio",
    seed: int | None = None,
) -> WorkflowGenome:
    """write (draft, extract, check) -> fix (brief, repair, extract, keep the better) -> done; the
    machine value ``best`` is the report of the best code so far."""
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
    draft = BLOCKS.task("draft")
    if plan:
        draft = draft.model_copy(update={"inputs": (*draft.inputs, wire("plan", "plan"))})
    write = DagSpec(tasks=(draft, BLOCKS.task("extract_draft"), BLOCKS.task("check", executor=executor)))
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
    origin: dict[str, object] = {"space": "code_writing", "fix": fix}
    origin.update({"seed_genome": seed} if seed is not None else {"operator": "random"})
    return WorkflowGenome(
        inputs=("problem",),
        agents=tuple(agents),
        code=code_of(BLOCKS, tools_for(tools), HEADER),
        entry=entry,
        metadata=Metadata(name="code-writing", origin=origin),
    )
