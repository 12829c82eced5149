"""Code writing: write -> test -> fix state machines with LLM and function (tool) agents.

Inputs: ``problem`` (a function signature with a docstring and examples). Output: Python code.
"""

from __future__ import annotations

import numpy as np

from evoforum.genome import (
    Always,
    Compare,
    Constraints,
    DagSpec,
    FunctionAgent,
    Guard,
    LLMAgent,
    MachineSpec,
    Metadata,
    Predicate,
    StateSpec,
    TaskSpec,
    Transition,
    WorkflowGenome,
)
from search_spaces._base import BuildingBlocks, SearchSpace, chance, code_of, pick, system_prompt, wire
from search_spaces._code_tools import HEADER, TOOLS

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
        LLMAgent(name="writer", model=MODEL, prompt="Complete this Python function:\n\n{problem}"),
        LLMAgent(name="fixer", model=MODEL),
        LLMAgent(name="planner", model=MODEL),
    ),
    task_templates=(
        TaskSpec(name="draft", agent="writer", inputs=(wire("problem", "problem"),)),
        TaskSpec(
            name="extract_draft", agent="extractor", inputs=(wire("text", "draft", task=True),), output="code"
        ),
        TaskSpec(
            name="check",
            agent="checker",
            inputs=(wire("problem", "problem"), wire("code", "code")),
            output="report",
        ),
        TaskSpec(
            name="repair",
            agent="fixer",
            inputs=(wire("problem", "problem"), wire("code", "code"), wire("report", "report")),
        ),
        TaskSpec(
            name="extract_fix", agent="extractor", inputs=(wire("text", "repair", task=True),), output="code"
        ),
        TaskSpec(name="answer", agent="picker", inputs=(wire("report", "report"),)),
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
    "This code for the problem below fails its examples.\n\nProblem:\n{problem}\n\n"
    "Code:\n{code}\n\nTest report:\n{report}\n\nWrite the corrected function."
)


class CodeWriting(SearchSpace):
    """Write -> test -> fix loops, optionally with a planning state or a nested loop."""

    name = "code_writing"
    blocks = BLOCKS
    constraints = Constraints(
        max_tasks=12,
        max_states=10,
        allowed_models=BLOCKS.models,
        allowed_imports=("ast", "doctest", "re", "json", "math"),
    )

    def seeds(self) -> tuple[WorkflowGenome, ...]:
        base = BLOCKS.system_prompts[0] + " " + BLOCKS.prompt_fragments[0]
        return (
            _genome(
                base,
                0.2,
                WRITE_PROMPTS[0],
                plan=False,
                nested=False,
                guard=_passed(),
                executor="asyncio",
                seed=0,
            ),
            _genome(
                base,
                0.2,
                WRITE_PROMPTS[0],
                plan=True,
                nested=True,
                guard=_passed(),
                executor="process",
                seed=1,
            ),
        )

    def _generate(self, rng: np.random.Generator) -> WorkflowGenome:
        prompt = system_prompt(rng, BLOCKS, pick(rng, BLOCKS.system_prompts))
        guard: Guard = _passed() if chance(rng, 0.5) else Predicate(function="has_passed")
        return _genome(
            prompt,
            pick(rng, BLOCKS.temperatures),
            pick(rng, WRITE_PROMPTS),
            plan=chance(rng, 0.4),
            nested=chance(rng, 0.3),
            guard=guard,
            executor=pick(rng, ("asyncio", "process")),
            seed=None,
        )


def _passed() -> Compare:
    return Compare(field="passed", op="==", value=True)


def _genome(
    system: str,
    temperature: float,
    write_prompt: str,
    *,
    plan: bool,
    nested: bool,
    guard: Guard,
    executor: str,
    seed: int | None,
) -> WorkflowGenome:
    agents: list[LLMAgent | FunctionAgent] = [
        BLOCKS.agent(
            "writer",
            system_prompt=system,
            prompt=PLANNED_PROMPT if plan else write_prompt,
            temperature=temperature,
        ),
        BLOCKS.agent("fixer", system_prompt=system, prompt=FIX_PROMPT, temperature=temperature),
        FunctionAgent(name="extractor", function="extract_code"),
        FunctionAgent(name="checker", function="check_code"),
        FunctionAgent(name="picker", function="final_code"),
    ]
    draft = BLOCKS.task("draft")
    if plan:
        draft = draft.model_copy(update={"inputs": (*draft.inputs, wire("plan", "plan"))})
    write = DagSpec(tasks=(draft, BLOCKS.task("extract_draft")))
    check = DagSpec(tasks=(BLOCKS.task("check", executor=executor),))
    fix = DagSpec(tasks=(BLOCKS.task("repair"), BLOCKS.task("extract_fix")))
    answer = DagSpec(tasks=(BLOCKS.task("answer"),))
    loop = MachineSpec(
        states=(
            StateSpec(name="write", body=write),
            StateSpec(name="test", body=check),
            StateSpec(name="fix", body=fix),
            StateSpec(name="done", body=answer),
        ),
        transitions=(
            Transition(source="write", target="test", guard=Always()),
            Transition(source="test", target="done", guard=guard),
            Transition(source="test", target="fix"),
            Transition(source="fix", target="test"),
        ),
        initial="write",
        step_limit=8,
    )
    entry = loop
    if plan:
        agents.append(
            BLOCKS.agent("planner", system_prompt=system, prompt=PLAN_PROMPT, temperature=temperature)
        )
        planning = DagSpec(tasks=(BLOCKS.task("outline"),))
        if nested:
            entry = MachineSpec(
                states=(
                    StateSpec(name="plan", body=planning),
                    StateSpec(name="solve", body=loop),
                ),
                transitions=(Transition(source="plan", target="solve"),),
                initial="plan",
                step_limit=3,
            )
        else:
            states = (StateSpec(name="plan", body=planning), *loop.states)
            transitions = (Transition(source="plan", target="write"), *loop.transitions)
            entry = loop.model_copy(update={"states": states, "transitions": transitions, "initial": "plan"})
    tools = ["extract_code", "check_code", "final_code"]
    if isinstance(guard, Predicate):
        tools.append("has_passed")
    origin: dict[str, object] = {"space": "code_writing"}
    origin.update({"seed_genome": seed} if seed is not None else {"operator": "random"})
    return WorkflowGenome(
        inputs=("problem",),
        agents=tuple(agents),
        code=code_of(BLOCKS, tools, HEADER),
        entry=entry,
        metadata=Metadata(name="code-writing", origin=origin),
    )
