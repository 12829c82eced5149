"""Writing a run into the forum: one branch per run, one message per task, in run order.

The branch starts with a ``run`` message (the flow inputs, or the parent branch's leaf when the
run is a state of a machine), then each task that ran or was skipped, in the order the scheduler
decided it: a succeeded task posts its output (a pydantic output becomes a ``data`` message), a
failed or skipped task an ``error`` message. ``RunResult.transcript`` is the branch's leaf hash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from evoforum.errors import NotSerializable
from evoforum.flow.result import RunResult, TaskState

if TYPE_CHECKING:
    from evoforum.flow.runtime import Runtime
    from evoforum.forum.message import Message
    from evoforum.hashing import Hash

SENDER = "evoforum.flow"


def jsonable(value: Any) -> Any:
    """``value`` as JSON types; what pydantic cannot encode becomes its ``repr``."""
    return to_jsonable_python(value, fallback=repr)


def message(content: Any, sender: str, parent: Hash | None, **metadata: Any) -> Message:
    """A message of a run branch; pydantic content becomes a ``data`` message."""
    from evoforum.forum.message import Message

    meta = jsonable(metadata)
    if not isinstance(content, BaseModel):
        content = jsonable(content)
    try:
        return Message(content, sender, parent, metadata=meta)
    except (NotSerializable, ValueError, TypeError):  # e.g. NaN, or a model field JSON cannot hold
        return Message(repr(content), sender, parent, metadata={**meta, "repr": True})


async def post(runtime: Runtime, content: Any, sender: str, parent: Hash | None, **metadata: Any) -> Hash:
    """Post one message and return its hash."""
    posted: Hash = await runtime.forum.post(message(content, sender, parent, **metadata))
    return posted


async def write_transcript(
    runtime: Runtime, result: RunResult, inputs: Mapping[str, Any], parent: Hash | None = None
) -> RunResult:
    """Post the run's branch in one batch and return the result naming its leaf hash."""
    from evoforum.forum.message import Message

    messages = [message({"inputs": dict(inputs)}, SENDER, parent, event="run")]
    for name, outcome in result.tasks.items():
        leaf = messages[-1].hash
        if outcome.state is TaskState.SUCCEEDED:
            meta = {"event": "task", "state": "succeeded", "attempts": outcome.attempts}
            messages.append(message(outcome.output, name, leaf, **meta))
        elif outcome.error is not None:
            messages.append(Message.error(outcome.error, name, leaf))
    await runtime.forum.post_many(messages)
    return dataclasses.replace(result, transcript=messages[-1].hash)
