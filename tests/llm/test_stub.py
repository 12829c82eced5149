"""The stub model: its answering convention, determinism per seed, faults, and its command line."""

from __future__ import annotations

import ast
import asyncio
import math
import re
import sys

import orjson
import pytest
from pydantic import BaseModel

from evoforum.llm import OpenAICompatible, chat_request
from evoforum.llm.stub import StubServer

CODE = "def score(xs):\n    total = 0\n    for x in xs:\n        if x > 3:\n            total = total + x * 2\n    return total\n"


def fenced(code: str) -> str:
    return f"```python\n{code}```"


def code_of(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


class Plan(BaseModel):
    steps: list[str]
    effort: int
    confident: bool


async def answers(seed: int, prompts: list[str]) -> list[str]:
    async with StubServer(seed=seed) as server:
        client = OpenAICompatible(server.url, "stub")
        try:
            return [(await client.complete(chat_request("stub", p))).text for p in prompts]
        finally:
            await client.aclose()


HELPER = "def helper(a):\n    return a - 1\n"
PROMPTS = [
    "Rewrite this instruction: write a short answer and check it.",
    f"Improve this code:\n{fenced(CODE)}",
    f"Combine these parents:\n{fenced(CODE)}\n{fenced(HELPER)}",
]


async def test_same_seed_same_answers_other_seed_other_answers() -> None:
    first, again, other = await answers(1, PROMPTS), await answers(1, PROMPTS), await answers(2, PROMPTS)
    assert first == again
    assert first != other


async def test_mutated_code_parses_and_differs(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    changed = 0
    for index in range(8):
        text = (await client.complete(chat_request("stub", f"Variant {index}:\n{fenced(CODE)}"))).text
        (block,) = code_of(text)
        tree = ast.parse(block)
        assert isinstance(tree.body[0], ast.FunctionDef)
        assert tree.body[0].name == "score"
        changed += ast.dump(tree) != ast.dump(ast.parse(CODE))
    await client.aclose()
    assert changed >= 6


async def test_recombination_keeps_every_parents_functions(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    other = "import math\n\ndef helper(a):\n    return math.floor(a) - 1\n"
    text = (await client.complete(chat_request("stub", f"Parents:\n{fenced(CODE)}\n{fenced(other)}"))).text
    await client.aclose()
    (block,) = code_of(text)
    names = {node.name for node in ast.parse(block).body if isinstance(node, ast.FunctionDef)}
    assert names == {"score", "helper"}


async def test_code_writing_prompt_gets_a_function(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    prompt = "Complete this function:\n\ndef add(a: int, b: int) -> int:\n    '''Sum of a and b.'''\n"
    text = (await client.complete(chat_request("stub", prompt))).text
    await client.aclose()
    (block,) = code_of(text)
    assert ast.parse(block).body[0].name == "add"  # type: ignore[attr-defined]


async def test_schema_requests_get_valid_instances(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    for index in range(10):
        request = chat_request("stub", f"plan {index}", schema=Plan.model_json_schema())
        Plan.model_validate_json((await client.complete(request)).text)
    await client.aclose()


async def test_streamed_and_whole_answers_agree(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    request = chat_request("stub", PROMPTS[1])
    whole = await client.complete(request)
    tokens: list[str] = []
    streamed = await client.complete(request, on_token=tokens.append)
    await client.aclose()
    assert len(tokens) > 5
    assert "".join(tokens) == streamed.text == whole.text
    assert streamed.usage == whole.usage
    assert not streamed.usage.counted


async def test_embeddings_are_deterministic_unit_vectors(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    first = await client.embed(["a red apple", "a red car", "quantum flux"])
    again = await client.embed(["a red apple", "a red car", "quantum flux"])
    await client.aclose()
    assert first == again
    assert all(math.isclose(sum(v * v for v in vec), 1.0) for vec in first)
    dot = [sum(a * b for a, b in zip(first[0], vec, strict=True)) for vec in first[1:]]
    assert dot[0] > dot[1]


async def test_models_endpoint(stub: StubServer) -> None:
    import httpx2

    async with httpx2.AsyncClient() as http:
        models = (await http.get(stub.url + "/models")).json()
        missing = await http.get(stub.url + "/nowhere")
        garbage = await http.post(stub.url + "/chat/completions", content=b"{not json")
    assert models["data"][0]["id"] == "stub"
    assert missing.status_code == 404
    assert garbage.status_code == 400


async def test_fault_rate_injects_each_kind() -> None:
    async with StubServer(seed=3, fault_rate=1.0, faults=("empty", "truncated")) as server:
        client = OpenAICompatible(server.url, "stub")
        texts = [(await client.complete(chat_request("stub", f"say {i} words"))).text for i in range(20)]
        await client.aclose()
    assert server.stats.faults["empty"] + server.stats.faults["truncated"] == 20
    assert "" in texts
    assert server.stats.answered == 20


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        StubServer(faults=("gremlins",))


async def test_command_line_serves_until_stopped() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evoforum.llm.stub", "--seed", "5", "--fault-rate", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/v1")
        client = OpenAICompatible(url, "stub")
        reply = await client.complete(chat_request("stub", "write a short answer"))
        await client.aclose()
        assert reply.text
        assert reply.usage.completion_tokens > 0
        assert orjson.loads(orjson.dumps(reply.model_dump()))["model"] == "stub"
    finally:
        process.terminate()
        await process.wait()
