"""The data of one language-model exchange: request, completion, usage.

A ``ChatRequest`` is content-addressed: ``request.hash`` is ``digest(..., domain="llm-request")``
over the model, the messages, the sampling parameters and the output schema. Nothing else (no
timeout, no API key, no base URL) enters the hash, so the same question asked of the same model
names the same record whatever server answered it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evoforum.hashing import Hash, digest

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One turn of a chat: who says it and what."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


class Params(BaseModel):
    """Sampling parameters sent with a request (all part of the request hash)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    seed: int | None = None
    stop: tuple[str, ...] | None = None


class ChatRequest(BaseModel):
    """A chat completion request; ``output_schema`` (a JSON schema) asks for JSON of that schema."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    messages: tuple[ChatMessage, ...]
    params: Params = Params()
    output_schema: dict[str, Any] | None = None
    schema_name: str = "output"

    @cached_property
    def hash(self) -> Hash:
        """The request hash: what record and replay key on."""
        return digest(self.model_dump(mode="json"), domain="llm-request")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> ChatRequest:
        """A copy with ``update`` applied; its hash is computed afresh (never the original's)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("hash", None)
        return copy

    def with_messages(self, *extra: ChatMessage) -> ChatRequest:
        """The same request with ``extra`` turns appended."""
        return self.model_copy(update={"messages": (*self.messages, *extra)})


def chat_request(
    model: str,
    messages: list[ChatMessage] | list[tuple[Role, str]] | str,
    *,
    system: str | None = None,
    schema: dict[str, Any] | None = None,
    **params: Any,
) -> ChatRequest:
    """A ``ChatRequest`` from a prompt string or ``(role, text)`` pairs; ``params`` go to ``Params``."""
    turns: list[ChatMessage] = [ChatMessage(role="system", content=system)] if system else []
    if isinstance(messages, str):
        turns.append(ChatMessage(role="user", content=messages))
    else:
        for item in messages:
            turns.append(
                item if isinstance(item, ChatMessage) else ChatMessage(role=item[0], content=item[1])
            )
    return ChatRequest(model=model, messages=tuple(turns), params=Params(**params), output_schema=schema)


class Usage(BaseModel):
    """Tokens of one call; ``counted`` is True when the server reported none and we counted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    counted: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Completion(BaseModel):
    """What the model answered to one request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    model: str
    usage: Usage = Usage()
    finish_reason: str | None = None
    request_hash: Hash | None = None
    replayed: bool = False
