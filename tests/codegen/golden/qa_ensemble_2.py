"""qa-ensemble: a workflow exported by evoforum.

Run it on an input:  python this_file.py "your input"

Prompts, constants and helper functions may be edited; evoforum.codegen.parse reads the
module back into a genome (see METADATA for the name, notes and origin).
"""

from evoforum.codegen import run_script
from evoforum.flow import Depends, StateMachine, Transition, dag, providers, task
from evoforum.genome import Compare, LLMAgent
from evoforum.genome.runnable import ask


# -- code: helper functions and tools --------------------------------------------------
def last_line(text: str) -> str:
    """The last non-empty line of a reply (where a final answer usually is)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def first_line(text: str) -> str:
    """The first non-empty line of a reply."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


# -- workflow --------------------------------------------------------------------------
METADATA = {
    "name": "qa-ensemble",
    "notes": "",
    "origin": {"space": "qa_ensemble", "seed_genome": 2},
}
INPUTS = ("question",)

solver_0 = LLMAgent(
    name="solver_0",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You answer questions accurately.",
    prompt="Question: {question}\nAnswer:",
    temperature=0.2,
)
solver_1 = LLMAgent(
    name="solver_1",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You answer questions accurately.",
    prompt="Question: {question}\nAnswer:",
    temperature=0.8,
)
shorten = last_line
judge = LLMAgent(
    name="judge",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You pick the best answer.",
    prompt=(
        "Question: {question}\n"
        "Answer 1: {answer_0}\n"
        "Answer 2: {answer_1}\n"
        "Reply with the best answer, then CONFIDENT or UNSURE."
    ),
    temperature=0.0,
)
first = first_line


@task
async def solve_0(question, llm=Depends(providers.llm)):
    return await ask(llm, solver_0, question=question)


@task
async def solve_1(question, llm=Depends(providers.llm)):
    return await ask(llm, solver_1, question=question)


@task
def short_0(solve_0):
    return shorten(text=solve_0)


@task
def short_1(solve_1):
    return shorten(text=solve_1)


@task
async def decide(question, short_0, short_1, llm=Depends(providers.llm)):
    return await ask(llm, judge, question=question, answer_0=short_0, answer_1=short_1)


@task
def final(decide):
    return first(text=decide)


workflow = StateMachine(
    states={
        "answer": dag(
            solve_0 >> short_0 >> decide,
            solve_1 >> short_1 >> decide,
        ).build(inputs=["question"]),
        "done": final,
    },
    transitions=[
        Transition("answer", "done", when=Compare(op="contains", value="CONFIDENT")),
        Transition("answer", "answer"),
    ],
    initial="answer",
    max_steps=3,
)


if __name__ == "__main__":
    run_script(workflow, INPUTS)
