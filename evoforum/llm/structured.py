"""Structured output: an answer validated as a pydantic model, with exactly one repair attempt.

The request carries the model's JSON schema (sent as ``response_format`` json_schema where the
server supports it, and stated in the prompt for servers that do not). An answer that is not
valid JSON of the schema gets one repair request — the bad answer and the validation error sent
back — and if that fails too, ``LLMMisbehaved`` carries the raw text of both answers.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from evoforum.errors import LLMMisbehaved
from evoforum.llm.protocol import LLMClient
from evoforum.llm.types import ChatMessage, ChatRequest

M = TypeVar("M", bound=BaseModel)

_FENCED = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


def with_schema(request: ChatRequest, output: type[BaseModel], *, in_prompt: bool = True) -> ChatRequest:
    """``request`` asking for JSON of ``output``'s schema."""
    schema = output.model_json_schema()
    messages = request.messages
    if in_prompt and messages:
        note = f"\n\nReply with only a JSON object matching this JSON schema:\n{json.dumps(schema, sort_keys=True)}"
        last = messages[-1]
        messages = (*messages[:-1], ChatMessage(role=last.role, content=last.content + note))
    return request.model_copy(
        update={"messages": messages, "output_schema": schema, "schema_name": output.__name__}
    )


def parse_as(text: str, output: type[M]) -> M:
    """``text`` (bare or fenced JSON) validated as ``output``; raises ``ValidationError``."""
    fenced = _FENCED.match(text)
    return output.model_validate_json(fenced.group(1) if fenced else text.strip())


async def generate(client: LLMClient, request: ChatRequest, output: type[M], *, in_prompt: bool = True) -> M:
    """Ask ``client`` for an ``output``; one repair attempt, then ``LLMMisbehaved``."""
    asked = with_schema(request, output, in_prompt=in_prompt)
    first = await client.complete(asked)
    try:
        return parse_as(first.text, output)
    except ValidationError as error:
        problem = _short(error)
    repair = asked.with_messages(
        ChatMessage(role="assistant", content=first.text),
        ChatMessage(
            role="user",
            content=f"That reply is not valid: {problem}\nReply with only the corrected JSON object.",
        ),
    )
    second = await client.complete(repair)
    try:
        return parse_as(second.text, output)
    except ValidationError as error:
        raise LLMMisbehaved(
            f"the model did not answer a valid {output.__name__} after one repair attempt: {_short(error)}",
            raw=second.text,
            first_raw=first.text,
            schema_name=output.__name__,
        ) from None


def _short(error: ValidationError) -> str:
    lines = [f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}" for e in error.errors()[:5]]
    return "; ".join(lines)
