"""Translating between evoforum's request/completion and the openai client (its inputs, outputs, errors)."""

from __future__ import annotations

from typing import Any, Literal

import orjson

from evoforum.errors import EvoforumError, LLMMisbehaved, LLMUnavailable, Timeout
from evoforum.llm._tokens import count_prompt, count_tokens
from evoforum.llm.types import ChatRequest, Completion, Usage

SchemaMode = Literal["auto", "json_schema", "json_object", "prompt"]
"""How a request's output schema reaches the server: ``response_format`` json_schema (OpenAI,
vLLM), json_object with a ``schema`` key (llama.cpp's grammar-constrained form), or only the
prompt. ``auto`` starts with json_schema and falls back to json_object when the server refuses."""


def request_body(request: ChatRequest, *, schema_mode: SchemaMode) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``request``."""
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }
    for key, value in request.params.model_dump(exclude_none=True).items():
        kwargs[key] = list(value) if key == "stop" else value
    if request.output_schema is not None:
        if schema_mode in ("auto", "json_schema"):
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.output_schema},
            }
        elif schema_mode == "json_object":
            kwargs["response_format"] = {"type": "json_object", "schema": request.output_schema}
    return kwargs


def refuses_json_schema(error: EvoforumError) -> bool:
    """Whether ``error`` is a server refusing ``response_format`` json_schema."""
    status = error.details.get("status")
    return status in (400, 422, 500) and "json_schema" in error.message


def completion_from_json(request: ChatRequest, raw: bytes) -> Completion:
    """A ``Completion`` from a non-streamed response body; ``LLMMisbehaved`` when it is not one."""
    try:
        data = orjson.loads(raw)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        finish = choice.get("finish_reason")
        model = data.get("model") or request.model
        usage = data.get("usage")
        if not isinstance(text, str):
            raise TypeError(f"the message content is {type(text).__name__}, not text")
    except (orjson.JSONDecodeError, AttributeError, IndexError, TypeError, KeyError) as error:
        raise LLMMisbehaved(
            f"the server's reply is not a chat completion ({type(error).__name__}: {error})",
            raw=raw[:2000].decode("utf-8", "replace"),
            retryable=True,
        ) from None
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        counted = Usage(
            prompt_tokens=usage["prompt_tokens"], completion_tokens=int(usage.get("completion_tokens") or 0)
        )
    else:
        counted = Usage(
            prompt_tokens=count_prompt(m.content for m in request.messages),
            completion_tokens=count_tokens(text),
            counted=True,
        )
    return Completion(
        text=text,
        model=str(model),
        usage=counted,
        finish_reason=finish if isinstance(finish, str) else None,
        request_hash=request.hash,
    )


def openai_error(error: Exception, where: str) -> EvoforumError:
    """The evoforum error for an exception raised by the openai client (or its transport)."""
    import openai

    if isinstance(error, openai.APITimeoutError):
        return Timeout(f"the model at {where} timed out", retryable=True)
    if isinstance(error, openai.APIConnectionError):
        return LLMUnavailable(f"cannot reach the model at {where}: {error}", retryable=True, status=None)
    if isinstance(error, openai.APIStatusError):
        overflow = context_overflow(error.body, where)
        if overflow is not None:
            return overflow
        status = error.status_code
        retry_after = _retry_after(error)
        retryable = status == 429 or status == 408 or status >= 500
        what = "rate-limited" if status == 429 else f"answered HTTP {status}"
        return LLMUnavailable(
            f"the model at {where} {what}: {error.message}",
            status=status,
            retryable=retryable,
            retry_after=retry_after,
        )
    if isinstance(error, openai.APIResponseValidationError | ValueError | TypeError | AttributeError):
        return LLMMisbehaved(
            f"the model at {where} sent a malformed reply: {error}", raw=str(error)[:2000], retryable=True
        )
    if isinstance(error, openai.OpenAIError):
        return LLMUnavailable(f"the model at {where} failed: {error}", retryable=False, status=None)
    return LLMUnavailable(
        f"unexpected failure talking to {where}: {type(error).__name__}: {error}", retryable=True, status=None
    )


def context_overflow(body: object, where: str) -> LLMUnavailable | None:
    """The error for llama.cpp's ``exceed_context_size_error`` (a prompt longer than a slot's
    context), naming both sizes; None for any other body. Asking again cannot help."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("type") != "exceed_context_size_error":
        return None
    prompt, context = error.get("n_prompt_tokens"), error.get("n_ctx")
    return LLMUnavailable(
        f"the request is too long for the model at {where}: {prompt} prompt tokens, "
        f"the context of a slot holds {context}",
        status=400,
        retryable=False,
        prompt_tokens=prompt,
        context_tokens=context,
    )


def _retry_after(error: Any) -> float | None:
    try:
        value = error.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None
