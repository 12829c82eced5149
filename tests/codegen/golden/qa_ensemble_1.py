"""qa-ensemble: a workflow exported by evoforum.

Run it on an input:  python this_file.py "your input"

Prompts, constants and helper functions may be edited; evoforum.codegen.parse reads the
module back into a genome (see METADATA for the name, notes and origin).
"""

# -- code: helper functions and tools --------------------------------------------------
from collections import Counter

from evoforum.codegen import run_script
from evoforum.flow import Depends, dag, providers, task
from evoforum.genome import LLMAgent
from evoforum.genome.runnable import ask


def last_line(text: str) -> str:
    """The last non-empty line of a reply (where a final answer usually is)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def majority_vote(**answers: str) -> str:
    """The most common answer (after trimming and lower-casing); ties go to the first."""
    counts = Counter(answer.strip().lower() for answer in answers.values())
    best = max(counts.values())
    trimmed = [answer.strip() for answer in answers.values()]
    return next(answer for answer in trimmed if counts[answer.lower()] == best)


# -- workflow --------------------------------------------------------------------------
METADATA = {
    "name": "qa-ensemble",
    "notes": "",
    "origin": {"space": "qa_ensemble", "seed_genome": 1},
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
    temperature=0.5,
)
solver_2 = LLMAgent(
    name="solver_2",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You answer questions accurately.",
    prompt="Question: {question}\nAnswer:",
    temperature=0.8,
)
verifier = LLMAgent(
    name="verifier",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You answer questions accurately.",
    prompt=(
        "Question: {question}\n"
        "Proposed answer: {answer}\n"
        "Check the answer. Reply with the corrected final answer on the last line."
    ),
    temperature=0.0,
)
shorten = last_line
voter = majority_vote


@task
async def solve_0(question, llm=Depends(providers.llm)):
    return await ask(llm, solver_0, question=question)


@task
async def verify_0(question, solve_0, llm=Depends(providers.llm)):
    return await ask(llm, verifier, question=question, answer=solve_0)


@task
async def solve_1(question, llm=Depends(providers.llm)):
    return await ask(llm, solver_1, question=question)


@task
async def verify_1(question, solve_1, llm=Depends(providers.llm)):
    return await ask(llm, verifier, question=question, answer=solve_1)


@task
async def solve_2(question, llm=Depends(providers.llm)):
    return await ask(llm, solver_2, question=question)


@task
async def verify_2(question, solve_2, llm=Depends(providers.llm)):
    return await ask(llm, verifier, question=question, answer=solve_2)


@task
def short_0(verify_0):
    return shorten(text=verify_0)


@task
def short_1(verify_1):
    return shorten(text=verify_1)


@task
def short_2(verify_2):
    return shorten(text=verify_2)


@task
def decide(short_0, short_1, short_2):
    return voter(answer_0=short_0, answer_1=short_1, answer_2=short_2)


workflow = dag(
    solve_0 >> verify_0 >> short_0 >> decide,
    solve_1 >> verify_1 >> short_1 >> decide,
    solve_2 >> verify_2 >> short_2 >> decide,
).build(inputs=["question"])


if __name__ == "__main__":
    run_script(workflow, INPUTS)
