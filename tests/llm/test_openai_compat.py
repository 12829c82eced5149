"""The real client against servers that fail: errors translated at the seam, never a hang or crash."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from evoforum.errors import LLMMisbehaved, LLMUnavailable, Timeout
from evoforum.llm import OpenAICompatible, chat_request
from evoforum.llm.stub import StubServer
from evoforum.llm.stub._http import HttpServer, Reply

REQUEST = chat_request("stub", "hello there")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(("fault", "status"), [("error_500", 500), ("error_429", 429)])
async def test_http_errors_become_retryable_unavailable(fault: str, status: int) -> None:
    async with StubServer(fault_rate=1.0, faults=(fault,)) as server:
        client = OpenAICompatible(server.url, "stub")
        with pytest.raises(LLMUnavailable) as caught:
            await client.complete(REQUEST)
        await client.aclose()
    assert caught.value.status == status
    assert caught.value.retryable
    if status == 429:
        assert caught.value.retry_after == 0.0


async def test_a_server_that_is_down_is_unavailable() -> None:
    client = OpenAICompatible(f"http://127.0.0.1:{closed_port()}/v1", "stub", timeout=5)
    with pytest.raises(LLMUnavailable, match="cannot reach") as caught:
        await client.complete(REQUEST)
    await client.aclose()
    assert caught.value.retryable


@pytest.mark.parametrize("stream", [False, True])
async def test_a_hanging_server_times_out(stream: bool) -> None:
    async with StubServer(fault_rate=1.0, faults=("hang",)) as server:
        client = OpenAICompatible(server.url, "stub", timeout=0.3)
        with pytest.raises(Timeout) as caught:
            await client.complete(REQUEST, on_token=(lambda _: None) if stream else None)
        await client.aclose()
    assert caught.value.retryable


@pytest.fixture
async def garbage() -> AsyncIterator[str]:
    async def handle(method: str, path: str, body: bytes, reply: Reply) -> bool:
        if b'"stream":true' in body.replace(b" ", b""):
            await reply.open_stream()
            await reply.event(b'{"choices": "not a list"')
            await reply.end_stream()
        elif b"embeddings" in path.encode():
            await reply.json(200, {"data": [{"embedding": "xyz"}]})
        else:
            await reply.json(200, {"id": 5, "choices": [], "weird": True})
        return True

    server = HttpServer(handle)
    await server.start()
    yield f"http://127.0.0.1:{server.port}/v1"
    await server.close()


async def test_malformed_replies_are_misbehaviour_not_crashes(garbage: str) -> None:
    client = OpenAICompatible(garbage, "m", timeout=5)
    with pytest.raises(LLMMisbehaved) as caught:
        await client.complete(REQUEST)
    assert caught.value.retryable
    with pytest.raises((LLMMisbehaved, LLMUnavailable)):
        await client.complete(REQUEST, on_token=lambda _: None)
    with pytest.raises((LLMMisbehaved, LLMUnavailable)):
        await client.embed(["a"])
    await client.aclose()


async def test_usage_is_counted_when_the_server_reports_none(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub", stream_usage=False)
    result = await client.complete(REQUEST, on_token=lambda _: None)
    await client.aclose()
    assert result.usage.counted
    assert result.usage.completion_tokens > 0


async def test_many_concurrent_calls_share_the_pool(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub", max_connections=16)
    results = await asyncio.gather(*(client.complete(chat_request("stub", f"q {i}")) for i in range(100)))
    await client.aclose()
    assert len({r.request_hash for r in results}) == 100
    assert stub.stats.answered == 100
