"""``StubServer``: the seeded stub model behind the OpenAI HTTP protocol (a test and benchmark instrument)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from evoforum.llm._tokens import count_prompt, count_tokens, pieces
from evoforum.llm.stub import _answers
from evoforum.llm.stub._http import HttpServer, Reply

_CONTENT_FAULTS = ("empty", "truncated", "invalid_json")


@dataclass
class StubStats:
    """What the stub did: requests received, completions answered and the tokens it reported."""

    requests: int = 0
    answered: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    embeddings: int = 0
    faults: Counter[str] = field(default_factory=Counter)


class StubServer:
    """A seeded stub model served over HTTP on 127.0.0.1; ``url`` ends in ``/v1``.

    Deterministic per (seed, request hash): the same request gets the same answer; the fault
    (if any) of the n-th arrival of a request is fixed too, so a retried request may succeed.
    ``fault_rate`` is the chance of a fault, drawn uniformly from ``faults``; ``latency`` delays
    every answer; ``hang_seconds`` is how long a ``hang`` fault holds the connection silent.
    ``json_schema=False`` refuses ``response_format`` json_schema the way llama.cpp does.
    ``slots`` answers ``GET /props`` with that ``total_slots``, as llama.cpp's server does.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        fault_rate: float = 0.0,
        faults: tuple[str, ...] = _answers.FAULT_KINDS,
        latency: float = 0.0,
        token_delay: float = 0.0,
        hang_seconds: float = 3600.0,
        model: str = "stub",
        embedding_dim: int = 64,
        json_schema: bool = True,
        slots: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        unknown = set(faults) - set(_answers.FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {list(_answers.FAULT_KINDS)}")
        self.seed = seed
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        self.latency = latency
        self.token_delay = token_delay
        self.hang_seconds = hang_seconds
        self.model = model
        self.embedding_dim = embedding_dim
        self.json_schema = json_schema
        self.slots = slots
        self.stats = StubStats()
        self._seen: Counter[str] = Counter()
        self._http = HttpServer(self._handle, host, port)

    @property
    def url(self) -> str:
        return f"http://{self._http.host}:{self._http.port}/v1"

    async def start(self) -> StubServer:
        await self._http.start()
        return self

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> StubServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, method: str, path: str, body: bytes, reply: Reply) -> bool:
        if method == "GET" and path in ("/v1/models", "/models"):
            data = [{"id": self.model, "object": "model", "created": 0, "owned_by": "evoforum-stub"}]
            await reply.json(200, {"object": "list", "data": data})
            return True
        if method == "GET" and path == "/props" and self.slots is not None:
            await reply.json(200, {"total_slots": self.slots, "default_generation_settings": {}})
            return True
        if method == "GET" and path in ("/health", "/v1/health"):
            await reply.json(200, {"status": "ok"})
            return True
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/embeddings"):
            await reply.json(404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})
            return True
        try:
            payload = orjson.loads(body)
            assert isinstance(payload, dict)
        except (orjson.JSONDecodeError, AssertionError):
            await reply.json(
                400, {"error": {"message": "the body is not a JSON object", "type": "invalid_request"}}
            )
            return True
        if path.endswith("/embeddings"):
            return await self._embeddings(payload, reply)
        return await self._chat(payload, reply)

    async def _embeddings(self, payload: dict[str, Any], reply: Reply) -> bool:
        texts = payload.get("input", [])
        texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": _answers.embedding(t, self.seed, self.embedding_dim),
            }
            for i, t in enumerate(texts)
        ]
        tokens = sum(count_tokens(t) for t in texts)
        self.stats.embeddings += len(texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        await reply.json(
            200, {"object": "list", "data": data, "model": payload.get("model", self.model), "usage": usage}
        )
        return True

    async def _chat(self, payload: dict[str, Any], reply: Reply) -> bool:
        if not self.json_schema and (payload.get("response_format") or {}).get("type") == "json_schema":
            refusal = "response_format.type: Input should be 'text' or 'json_object', not 'json_schema'"
            await reply.json(400, {"error": {"message": refusal, "type": "invalid_request_error"}})
            return True
        key = _answers.request_key(payload)
        occurrence = self._seen[key]
        self._seen[key] += 1
        self.stats.requests += 1
        fault = _answers.fault_for(self.seed, key, occurrence, self.fault_rate, self.faults)
        wants_schema = (payload.get("response_format") or {}).get("type") in ("json_schema", "json_object")
        if fault == "invalid_json" and not wants_schema:
            fault = "truncated"
        if fault is not None:
            self.stats.faults[fault] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault == "hang":
            await asyncio.sleep(self.hang_seconds)
            return False
        if fault in ("error_500", "error_429"):
            status = 500 if fault == "error_500" else 429
            kind = "server_error" if status == 500 else "rate_limit_exceeded"
            headers = {"retry-after": "0"} if status == 429 else {}
            await reply.json(status, {"error": {"message": f"injected {status}", "type": kind}}, headers)
            return True
        text = _answers.answer(payload, self.seed)
        finish = "stop"
        if fault in _CONTENT_FAULTS:
            text = _answers.spoil(text, fault, _answers.rng_for(self.seed, key, "spoil"))
            finish = "length" if fault == "truncated" else "stop"
        text, finish = _limit(text, payload.get("max_tokens") or payload.get("max_completion_tokens"), finish)
        contents = [str(m.get("content", "")) for m in payload.get("messages") or [] if isinstance(m, dict)]
        usage = {"prompt_tokens": count_prompt(contents), "completion_tokens": count_tokens(text)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        model = str(payload.get("model") or self.model)
        if payload.get("stream"):
            include = bool((payload.get("stream_options") or {}).get("include_usage"))
            await self._stream(reply, key, model, text, finish, usage if include else None)
        else:
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            await reply.json(200, _envelope(key, model, "chat.completion", [choice], usage))
        self.stats.answered += 1
        self.stats.prompt_tokens += usage["prompt_tokens"]
        self.stats.completion_tokens += usage["completion_tokens"]
        return True

    async def _stream(
        self, reply: Reply, key: str, model: str, text: str, finish: str, usage: dict[str, int] | None
    ) -> None:
        await reply.open_stream()
        kind = "chat.completion.chunk"
        first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        await reply.event(orjson.dumps(_envelope(key, model, kind, [first])))
        for piece in pieces(text):
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            await reply.event(orjson.dumps(_envelope(key, model, kind, [choice])))
        last = {"index": 0, "delta": {}, "finish_reason": finish}
        await reply.event(orjson.dumps(_envelope(key, model, kind, [last])))
        if usage is not None:
            await reply.event(orjson.dumps(_envelope(key, model, kind, [], usage)))
        await reply.event(b"[DONE]")
        await reply.end_stream()


def _envelope(
    key: str, model: str, kind: str, choices: list[dict[str, Any]], usage: dict[str, int] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"chatcmpl-{key[:24]}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def _limit(text: str, max_tokens: object, finish: str) -> tuple[str, str]:
    if not isinstance(max_tokens, int) or count_tokens(text) <= max_tokens:
        return text, finish
    kept = ""
    for piece in pieces(text):
        if count_tokens(kept + piece) > max_tokens:
            break
        kept += piece
    return kept, "length"
