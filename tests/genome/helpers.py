"""Small genomes built by hand for the genome and codegen tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evoforum.genome import (
    CompareSpec,
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    FunctionAgentSpec,
    LLMAgentSpec,
    MachineSpec,
    Metadata,
    OutputSchemaSpec,
    PredicateSpec,
    StateSpec,
    TaskSpec,
    TransitionSpec,
    WireSpec,
    WorkflowGenome,
)
from evoforum.llm import ChatRequest, Completion

CODE = """\
def shout(text: str) -> str:
    return text.upper() + "!"


def count(text: str) -> dict:
    return {"length": len(text), "long": len(text) > 5}


def is_long(report: dict) -> bool:
    return bool(report["long"])
"""


def wire(parameter: str, source: str, *, task: bool = False, field: str | None = None) -> WireSpec:
    if task:
        return WireSpec(parameter=parameter, source=FromTaskSpec(task=source, field=field))
    return WireSpec(parameter=parameter, source=FromInputSpec(name=source))


def pipeline(**changes: Any) -> WorkflowGenome:
    """A valid two-task DAG: an LLM writer feeding a function agent."""
    data: dict[str, Any] = {
        "inputs": ("topic",),
        "agents": (
            LLMAgentSpec(name="writer", model="m", system_prompt="Be brief.", prompt="About {topic}"),
            FunctionAgentSpec(name="loud", function="shout"),
        ),
        "code": CODE,
        "entry": DagSpec(
            tasks=(
                TaskSpec(name="draft", agent="writer", inputs=(wire("topic", "topic"),)),
                TaskSpec(name="final", agent="loud", inputs=(wire("text", "draft", task=True),)),
            )
        ),
    }
    data.update(changes)
    return WorkflowGenome(**data)


def machine(**changes: Any) -> WorkflowGenome:
    """A valid loop: shout the topic (overwriting it) -> measure -> (done when long | shout again)."""
    spec: dict[str, Any] = {
        "states": (
            StateSpec(
                name="write",
                body=DagSpec(
                    tasks=(
                        TaskSpec(name="yell", agent="loud", inputs=(wire("text", "topic"),), output="topic"),
                    )
                ),
            ),
            StateSpec(
                name="measure",
                body=DagSpec(
                    tasks=(TaskSpec(name="size", agent="counter", inputs=(wire("text", "topic"),)),)
                ),
            ),
            StateSpec(
                name="done",
                body=DagSpec(tasks=(TaskSpec(name="finish", agent="loud", inputs=(wire("text", "topic"),)),)),
            ),
        ),
        "transitions": (
            TransitionSpec(source="write", target="measure"),
            TransitionSpec(
                source="measure", target="done", guard=CompareSpec(field="long", op="==", value=True)
            ),
            TransitionSpec(source="measure", target="write"),
        ),
        "initial": "write",
        "max_steps": 12,
    }
    spec.update(changes)
    return WorkflowGenome(
        inputs=("topic",),
        agents=(
            FunctionAgentSpec(name="loud", function="shout"),
            FunctionAgentSpec(name="counter", function="count"),
        ),
        code=CODE,
        entry=MachineSpec(**spec),
    )


def structured() -> WorkflowGenome:
    """Every feature at once: tools, an output schema, field wiring, executors, a predicate guard,
    a nested machine, and metadata."""
    rater = LLMAgentSpec(
        name="rater",
        model="m",
        system_prompt="Rate the text.\nAnswer in JSON.",
        prompt="Text: {text}",
        temperature=0.7,
        tools=("shout", "count"),
        output_schema=OutputSchemaSpec(
            name="Rating",
            json_schema={"type": "object", "properties": {"long": {"type": "boolean"}}, "required": ["long"]},
        ),
    )
    inner = MachineSpec(
        states=(
            StateSpec(
                name="rate",
                body=DagSpec(
                    tasks=(
                        TaskSpec(
                            name="loud_topic", agent="loud", inputs=(wire("text", "topic"),), executor="ray"
                        ),
                        TaskSpec(
                            name="rating", agent="rater", inputs=(wire("text", "loud_topic", task=True),)
                        ),
                        TaskSpec(
                            name="verdict",
                            agent="counter",
                            inputs=(wire("text", "rating", task=True, field="long"),),
                            executor="process",
                            output="report",
                        ),
                    )
                ),
            ),
            StateSpec(
                name="ok",
                body=DagSpec(tasks=(TaskSpec(name="keep", agent="loud", inputs=(wire("text", "topic"),)),)),
            ),
        ),
        transitions=(
            TransitionSpec(source="rate", target="ok", guard=PredicateSpec(function="is_long")),
            TransitionSpec(
                source="rate", target="rate", guard=CompareSpec(field="length", op="<", value=100)
            ),
        ),
        initial="rate",
        max_steps=5,
    )
    outer = MachineSpec(states=(StateSpec(name="inner", body=inner),), initial="inner")
    return WorkflowGenome(
        inputs=("topic",),
        agents=(
            rater,
            FunctionAgentSpec(name="loud", function="shout"),
            FunctionAgentSpec(name="counter", function="count"),
        ),
        code=CODE,
        entry=outer,
        metadata=Metadata(
            name="structured",
            notes='Has "quotes" and\nlines.',
            origin={"parents": ["a", "b"], "generation": 3},
        ),
    )


class Scripted:
    """An LLMClient that answers from a list, in order, and keeps the requests."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest, *, on_token: Any = None) -> Completion:
        self.requests.append(request)
        return Completion(text=self.answers.pop(0), model=request.model)

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        return [[0.0] for _ in texts]

    async def aclose(self) -> None:
        return None
