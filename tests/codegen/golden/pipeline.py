"""workflow: a workflow exported by evoforum.

Run it on an input:  python this_file.py "your input"

Prompts, constants and helper functions may be edited; evoforum.codegen.parse reads the
module back into a genome (see METADATA for the name, notes and origin).
"""

from evoforum.codegen import run_script
from evoforum.flow import Depends, providers, task
from evoforum.genome import LLMAgent
from evoforum.genome.runnable import ask


# -- code: helper functions and tools --------------------------------------------------
def shout(text: str) -> str:
    return text.upper() + "!"


def count(text: str) -> dict:
    return {"length": len(text), "long": len(text) > 5}


def is_long(report: dict) -> bool:
    return bool(report["long"])


# -- workflow --------------------------------------------------------------------------
METADATA = {"name": "", "notes": "", "origin": {}}
INPUTS = ("topic",)

writer = LLMAgent(
    name="writer",
    model="m",
    system_prompt="Be brief.",
    prompt="About {topic}",
    temperature=0.0,
)
loud = shout


@task
async def draft(topic, llm=Depends(providers.llm)):
    return await ask(llm, writer, topic=topic)


@task
def final(draft):
    return loud(text=draft)


workflow = draft >> final


if __name__ == "__main__":
    run_script(workflow, INPUTS)
