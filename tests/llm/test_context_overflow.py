"""A prompt longer than a slot's context: one clear, final error naming both sizes."""

from __future__ import annotations

import httpx2
import openai

from evoforum.errors import LLMUnavailable
from evoforum.llm._openai_io import context_overflow, openai_error
from evoforum.llm.wrappers import is_retryable

BODY = {
    "error": {
        "code": 400,
        "message": "request (5000 tokens) exceeds the available context size (4096 tokens), try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 5000,
        "n_ctx": 4096,
    }
}


def test_llama_cpp_context_overflow_names_both_sizes_and_is_final() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    response = httpx2.Response(400, request=request, json=BODY)
    error = openai_error(openai.BadRequestError("Error code: 400", response=response, body=BODY), "here")
    assert isinstance(error, LLMUnavailable)
    assert "5000 prompt tokens" in str(error)
    assert "holds 4096" in str(error)
    assert (error.details["prompt_tokens"], error.details["context_tokens"]) == (5000, 4096)
    assert not is_retryable(error)


def test_other_bad_requests_are_not_taken_for_an_overflow() -> None:
    assert context_overflow({"error": {"type": "invalid_request_error", "message": "no"}}, "here") is None
    assert context_overflow("plain text", "here") is None
