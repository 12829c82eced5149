"""qa-ensemble: a workflow exported by evoforum.

Run it on an input:  python this_file.py "your input"

Prompts, constants and helper functions may be edited; evoforum.codegen.parse reads the
module back into a genome (see METADATA for the name, notes and origin).
"""

# -- code: helper functions and tools --------------------------------------------------
from collections import Counter

from evoforum.codegen import run_script
from evoforum.flow import Depends, providers, task
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
    "origin": {"space": "qa_ensemble", "seed_genome": 0},
}
INPUTS = ("question",)

solver_0 = LLMAgent(
    name="solver_0",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You answer questions accurately.",
    prompt="{question}",
    temperature=0.0,
)
shorten = last_line
voter = majority_vote


@task
async def solve_0(question, llm=Depends(providers.llm)):
    return await ask(llm, solver_0, question=question)


@task
def short_0(solve_0):
    return shorten(text=solve_0)


@task
def decide(short_0):
    return voter(answer_0=short_0)


workflow = solve_0 >> short_0 >> decide


if __name__ == "__main__":
    run_script(workflow, INPUTS)
