"""workflow: a workflow exported by evoforum.

Run it on an input:  python this_file.py "your input"

Prompts, constants and helper functions may be edited; evoforum.codegen.parse reads the
module back into a genome (see METADATA for the name, notes and origin).
"""

from evoforum.codegen import run_script
from evoforum.flow import StateMachine, Transition, task
from evoforum.genome import Compare


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

loud = shout
counter = count


@task(output="topic")
def yell(topic):
    return loud(text=topic)


@task
def size(topic):
    return counter(text=topic)


@task
def finish(topic):
    return loud(text=topic)


workflow = StateMachine(
    states={
        "write": yell,
        "measure": size,
        "done": finish,
    },
    transitions=[
        Transition("write", "measure"),
        Transition("measure", "done", when=Compare(field="long", op="==", value=True)),
        Transition("measure", "write"),
    ],
    initial="write",
    max_steps=12,
)


if __name__ == "__main__":
    run_script(workflow, INPUTS)
