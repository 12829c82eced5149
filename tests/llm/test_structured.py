"""Structured output: schema-valid answers, one repair attempt, then LLMMisbehaved with the raw text."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import BaseModel

from evoforum.errors import LLMMisbehaved
from evoforum.llm import ChatRequest, Completion, OpenAICompatible, TokenSink, chat_request
from evoforum.llm.structured import generate, parse_as
from evoforum.llm.stub import StubServer


class Verdict(BaseModel):
    score: int
    reason: str
    tags: list[str]


class Scripted:
    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        self.requests.append(request)
        return Completion(text=self.texts[len(self.requests) - 1], model=request.model)

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        return []

    async def aclose(self) -> None:
        pass


async def test_stub_answers_validate(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    verdicts = [await generate(client, chat_request("stub", f"judge {i}"), Verdict) for i in range(5)]
    await client.aclose()
    assert all(isinstance(v, Verdict) for v in verdicts)
    assert len({v.model_dump_json() for v in verdicts}) > 1


async def test_one_repair_then_success() -> None:
    client = Scripted('{"score": "high"}', '```json\n{"score": 3, "reason": "ok", "tags": []}\n```')
    verdict = await generate(client, chat_request("m", "judge"), Verdict)
    assert verdict == Verdict(score=3, reason="ok", tags=[])
    repair = client.requests[1]
    assert repair.hash != client.requests[0].hash
    assert repair.output_schema == Verdict.model_json_schema()
    assert [m.role for m in repair.messages[-2:]] == ["assistant", "user"]
    assert "score" in repair.messages[-1].content


async def test_second_failure_is_misbehaviour_with_raw_text() -> None:
    client = Scripted("not json", '{"score": 1')
    with pytest.raises(LLMMisbehaved, match="after one repair attempt") as caught:
        await generate(client, chat_request("m", "judge"), Verdict)
    assert caught.value.raw == '{"score": 1'
    assert caught.value.first_raw == "not json"
    assert len(client.requests) == 2


async def test_stub_invalid_json_fault_goes_through_repair_to_a_clear_error() -> None:
    async with StubServer(fault_rate=1.0, faults=("invalid_json",)) as server:
        client = OpenAICompatible(server.url, "stub")
        with pytest.raises(LLMMisbehaved) as caught:
            await generate(client, chat_request("stub", "judge"), Verdict)
        await client.aclose()
    assert server.stats.answered == 2
    assert caught.value.raw


def test_parse_as_accepts_bare_and_fenced_json() -> None:
    assert parse_as('{"score": 1, "reason": "r", "tags": ["a"]}', Verdict).tags == ["a"]
    assert parse_as('```\n{"score": 1, "reason": "r", "tags": []}\n```', Verdict).score == 1


async def test_a_server_without_json_schema_gets_the_json_object_form() -> None:
    async with StubServer(json_schema=False) as server:
        client = OpenAICompatible(server.url, "stub")
        verdict = await generate(client, chat_request("stub", "judge"), Verdict)
        assert client.schema_mode == "json_object"
        again = await generate(client, chat_request("stub", "judge again"), Verdict)
        await client.aclose()
    assert isinstance(verdict, Verdict)
    assert isinstance(again, Verdict)
    assert server.stats.answered == 2
    assert server.stats.requests == 2


async def test_prompt_only_schema_mode_sends_no_response_format(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub", schema_mode="prompt")
    with pytest.raises(LLMMisbehaved, match="Verdict"):
        await generate(client, chat_request("stub", "judge"), Verdict)
    await client.aclose()
