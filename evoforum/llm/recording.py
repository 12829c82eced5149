"""Record and replay: every answered request kept in the forum store, keyed by its request hash.

An exchange is stored as a branch of messages — the request's turns (sender = role) and then the
answer (sender ``"assistant"``), whose metadata holds the model, parameters, schema, usage and
finish reason. The ref index maps ``("llm-request", request.hash)`` to the answer's hash; that
hash names the whole exchange.

Embeddings are kept the same way: the texts as one message (sender ``"user"``), the vectors below
it (sender ``"embedder"``, metadata: model and key), the ref index mapping ``("llm-embedding",
embedding_key(model, texts))`` to the vectors' hash. The key names the model the texts went to:
the one the call names, else the client's own (``Recording``'s ``model``).

Modes: ``live`` passes through; ``record`` passes through and writes every answer; ``replay``
answers from the record only — zero model calls, chat and embeddings alike — and raises
``ReplayMiss`` for a request that was never recorded; a ``Metered`` layer below is charged each
answer it serves (``Metered.charge_recorded``), so a replay spends what the recorded run spent. ``Offline`` is the model behind a replay:
nothing is ever asked of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from evoforum.errors import LLMUnavailable, ReplayMiss
from evoforum.forum.message import Message
from evoforum.hashing import Hash, digest
from evoforum.llm._tokens import count_tokens, pieces
from evoforum.llm.accounting import meter_below
from evoforum.llm.protocol import LLMClient, TokenSink, Wrapper
from evoforum.llm.types import ChatRequest, Completion, Usage

Mode = Literal["live", "record", "replay"]
NAMESPACE = "llm-request"
EMBEDDINGS = "llm-embedding"
"""The ref namespace (and hash domain) of recorded embeddings."""


class RecordStore(Protocol):
    """What recording needs of a forum store: messages and the ref index."""

    async def put_many(self, messages: Sequence[Message]) -> None: ...

    async def get(self, hash_: str) -> Message: ...

    async def put_ref(self, namespace: str, key: str, hashes: Sequence[str]) -> None: ...

    async def get_ref(self, namespace: str, key: str) -> list[Hash] | None: ...


def request_messages(request: ChatRequest, parent: str | None = None) -> list[Message]:
    """The request's turns as a branch below ``parent``: one message per turn, sender = role."""
    chain: list[Message] = []
    for turn in request.messages:
        chain.append(Message(turn.content, turn.role, chain[-1].hash if chain else parent))
    return chain


def answer_message(request: ChatRequest, completion: Completion, parent: str | None) -> Message:
    """The answer as a message from ``assistant``; its metadata records how it came about."""
    meta = {
        "model": request.model,
        "answered_by": completion.model,
        "params": request.params.model_dump(mode="json", exclude_none=True),
        "schema": request.output_schema,
        "request_hash": request.hash,
        "usage": {
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
        },
        "finish_reason": completion.finish_reason,
    }
    return Message(completion.text, "assistant", parent, metadata=meta)


def exchange_messages(
    request: ChatRequest, completion: Completion, parent: str | None = None
) -> list[Message]:
    """The exchange as a branch below ``parent``: the request's turns, then the answer (last)."""
    turns = request_messages(request, parent)
    return [*turns, answer_message(request, completion, turns[-1].hash if turns else parent)]


def completion_of(message: Message, request: ChatRequest) -> Completion:
    """The ``Completion`` an answer message records."""
    meta = message.metadata
    usage = meta.get("usage") or {}
    return Completion(
        text=message.text,
        model=str(meta.get("answered_by") or request.model),
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", count_tokens(message.text))),
        ),
        finish_reason=meta.get("finish_reason"),
        request_hash=request.hash,
        replayed=True,
    )


def embedding_key(model: str, texts: Sequence[str]) -> Hash:
    """What recorded embeddings are found by: the model and the texts, in order."""
    return digest({"model": model, "texts": list(texts)}, domain=EMBEDDINGS)


def embedding_messages(model: str, texts: Sequence[str], vectors: list[list[float]]) -> list[Message]:
    """The embedding as a branch: the texts, then the vectors (last)."""
    asked = Message(list(texts), "user", kind="data")
    meta = {"model": model, "key": embedding_key(model, texts)}
    return [asked, Message(vectors, "embedder", asked.hash, kind="data", metadata=meta)]


class Recording(Wrapper):
    """Writes answers to ``store`` (``record``), serves them from it (``replay``), or neither (``live``).

    ``model`` is the model ``inner`` embeds with when a call names none (it keys the record)."""

    def __init__(
        self, inner: LLMClient, store: RecordStore, mode: Mode = "record", *, model: str = ""
    ) -> None:
        super().__init__(inner)
        if mode not in ("live", "record", "replay"):
            raise ValueError(f"unknown mode {mode!r}; one of live, record, replay")
        self.store = store
        self.mode: Mode = mode
        self.model = model
        self.meter = meter_below(inner)

    async def lookup(self, request: ChatRequest) -> Completion | None:
        """The recorded answer to ``request``, or None."""
        found = await self.store.get_ref(NAMESPACE, request.hash)
        if not found:
            return None
        return completion_of(await self.store.get(found[-1]), request)

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        if self.mode == "replay":
            completion = await self.lookup(request)
            if completion is None:
                raise ReplayMiss(
                    f"replay: request {request.hash[:12]}… (model {request.model!r}) was never recorded",
                    request_hash=request.hash,
                    model=request.model,
                )
            if self.meter is not None:
                await self.meter.charge_recorded(request, completion)
            if on_token is not None:
                for piece in pieces(completion.text):
                    on_token(piece)
            return completion
        completion = await self.inner.complete(request, on_token=on_token)
        if self.mode == "record":
            chain = exchange_messages(request, completion)
            await self.store.put_many(chain)
            await self.store.put_ref(NAMESPACE, request.hash, [chain[-1].hash])
        return completion

    async def lookup_vectors(
        self, texts: Sequence[str], model: str | None = None
    ) -> list[list[float]] | None:
        """The recorded embedding of ``texts`` by ``model`` (None: this client's), or None."""
        found = await self.store.get_ref(EMBEDDINGS, embedding_key(model or self.model, texts))
        if not found:
            return None
        stored = (await self.store.get(found[-1])).content
        return [list(vector) for vector in stored]  # copies: the store's message stays as it was

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        name = model or self.model
        if self.mode == "replay":
            vectors = await self.lookup_vectors(texts, name)
            if vectors is None:
                key = embedding_key(name, texts)
                raise ReplayMiss(
                    f"replay: embedding {key[:12]}… of {len(texts)} text(s) (model {name!r}) was never recorded",
                    request_hash=key,
                    model=name,
                )
            if self.meter is not None:
                await self.meter.charge_recorded_embedding(texts, model)
            return vectors
        vectors = await self.inner.embed(texts, model=model)
        if self.mode == "record":
            chain = embedding_messages(name, texts, vectors)
            await self.store.put_many(chain)
            await self.store.put_ref(EMBEDDINGS, chain[-1].metadata["key"], [chain[-1].hash])
        return vectors


class Offline:
    """The model behind a replay: ``Recording`` answers every call from the record, so this one is
    never asked (if it were, it would refuse: a replay makes no model calls)."""

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        raise LLMUnavailable(f"replay makes no model calls (asked {request.model!r})")

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        raise LLMUnavailable("replay makes no model calls (asked for embeddings)")

    async def aclose(self) -> None:
        return None
