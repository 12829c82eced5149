"""single-call: a workflow exported by evoforum.

Run it on an input:  python this_file.py "your input"

Prompts, constants and helper functions may be edited; evoforum.codegen.parse reads the
module back into a genome (see METADATA for the name, notes and origin).
"""

from evoforum.codegen import run_script
from evoforum.flow import Depends, providers, task
from evoforum.genome import LLMAgentSpec
from evoforum.genome.runnable import ask


# -- code: helper functions and tools --------------------------------------------------
from search_spaces.library.code_tools import extract_code


# -- workflow --------------------------------------------------------------------------
METADATA = {
    "name": "single-call",
    "notes": "",
    "origin": {"space": "code_writing", "seed_genome": 2},
}
INPUTS = ("problem",)

writer = LLMAgentSpec(
    name="writer",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You are a careful Python programmer. Answer with one fenced Python code block and nothing else.",
    prompt="Complete this Python function:\n\n{problem}",
    temperature=0.0,
)
extractor = extract_code


@task
async def draft(problem, llm=Depends(providers.llm)):
    return await ask(llm, writer, problem=problem)


@task(output="code")
def extract_draft(draft):
    return extractor(text=draft)


workflow = draft >> extract_draft


if __name__ == "__main__":
    run_script(workflow, INPUTS)
