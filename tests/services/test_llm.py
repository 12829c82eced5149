"""The local LLM server: a chat completion with runnable-looking code, and an embedding."""

from __future__ import annotations

import ast
import re

import pytest

pytestmark = [pytest.mark.services, pytest.mark.llm]


async def test_chat_completion_returns_python_that_parses(llm_url: str, llm_model: str) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=llm_url, api_key="local")
    reply = await client.chat.completions.create(
        model=llm_model,
        messages=[
            {"role": "system", "content": "Answer with one Python code block only."},
            {"role": "user", "content": "Write a function add(a, b) that returns their sum."},
        ],
        max_tokens=200,
        temperature=0,
    )
    text = reply.choices[0].message.content or ""
    # the fenced block; a reply cut at max_tokens may lack its closing fence
    block = re.search(r"```[a-z]*\n(.*?)(?:```|$)", text, re.DOTALL)
    code = block.group(1) if block else text
    tree = ast.parse(code)
    assert any(isinstance(node, ast.FunctionDef) and node.name == "add" for node in ast.walk(tree))


async def test_embedding_is_one_vector_per_input(llm_url: str, llm_model: str) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=llm_url, api_key="local")
    result = await client.embeddings.create(model=llm_model, input=["def add(a, b):", "hello world"])
    vectors = [item.embedding for item in result.data]
    assert len(vectors) == 2
    assert len(vectors[0]) == len(vectors[1]) > 100
    assert all(isinstance(x, float) for x in vectors[0])
    assert vectors[0] != vectors[1]
