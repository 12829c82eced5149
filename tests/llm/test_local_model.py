"""The real local model (Qwen2.5-Coder-0.5B-Instruct behind llama.cpp's OpenAI-compatible server)."""

from __future__ import annotations

import ast
import re

import pytest
from pydantic import BaseModel

from evoforum.forum import Forum
from evoforum.llm import OpenAICompatible, chat, chat_request
from evoforum.llm.structured import generate

pytestmark = pytest.mark.llm


async def test_code_writing_prompt_gets_code_that_parses(local_model: tuple[str, str]) -> None:
    url, model = local_model
    client = OpenAICompatible(url, model, timeout=300)
    request = chat_request(
        model,
        "Write a Python function `is_even(n)` that returns True when n is even. Reply with only the code.",
        system="You are a Python programmer. Answer with one fenced Python code block.",
        temperature=0.0,
        max_tokens=200,
    )
    promise = chat(client, request, forum=Forum())
    streamed = [token async for token in promise]
    answer = await promise
    await client.aclose()
    assert "".join(streamed) == answer.text
    # the fenced block; a reply cut at max_tokens may lack its closing fence
    block = re.search(r"```[a-z]*\n(.*?)(?:```|$)", answer.text, re.DOTALL)
    tree = ast.parse(block.group(1) if block else answer.text)
    assert any(isinstance(node, ast.FunctionDef) and node.name == "is_even" for node in ast.walk(tree))


class Answer(BaseModel):
    language: str
    year: int


async def test_structured_output_from_the_local_model(local_model: tuple[str, str]) -> None:
    url, model = local_model
    client = OpenAICompatible(url, model, timeout=300)
    request = chat_request(
        model, "In which year did the Python language first appear?", temperature=0.0, max_tokens=60
    )
    answer = await generate(client, request, Answer)
    await client.aclose()
    assert isinstance(answer.year, int)
    assert answer.language
    assert client.schema_mode == "auto"  # llama-server takes response_format json_schema as sent
