"""Exchanges with a model as branches of a forum, streamed through a ``MessagePromise``.

``chat(client, request, forum=forum)`` returns a promise at once. Its tokens stream to any
number of readers as the model writes them; ``await promise`` gives the answer ``Message``. The
request's turns are posted below ``at`` (one message per turn, sender = role) and the answer
after them, its metadata holding model, parameters, schema, usage and finish reason — the same
branch ``Recording`` writes, so the answer's hash names the whole exchange. A failure is posted as
an error message on the branch and raised to whoever awaits the promise; a cancelled exchange
leaves its turns and a ``cancelled`` marker there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evoforum.forum import Forum, Message, MessagePromise
from evoforum.llm.protocol import LLMClient
from evoforum.llm.recording import answer_message, request_messages
from evoforum.llm.types import ChatMessage, ChatRequest, Params, Role


def request_from_branch(
    model: str, branch: Sequence[Message], *, me: str = "assistant", **params: Any
) -> ChatRequest:
    """A request from a forum branch: ``system`` stays system, ``me`` is the assistant, others are users."""
    turns = []
    for message in branch:
        role: Role = (
            "system" if message.sender == "system" else "assistant" if message.sender == me else "user"
        )
        turns.append(ChatMessage(role=role, content=message.text))
    return ChatRequest(model=model, messages=tuple(turns), params=Params(**params))


def chat(
    client: LLMClient,
    request: ChatRequest,
    *,
    forum: Forum | None = None,
    at: str | None = None,
) -> MessagePromise:
    """Ask ``client``; the exchange becomes a branch below ``at`` (posted when ``forum`` is given)."""
    turns = request_messages(request, at)
    head = turns[-1].hash if turns else at

    async def produce(promise: MessagePromise) -> Message:
        def stream(token: str) -> None:
            promise.push(token)  # a model cannot be paused: no back-pressure, the text is bounded

        if forum is not None:
            await forum.post_many(turns)
        try:
            completion = await client.complete(request, on_token=stream)
        except Exception as error:
            if forum is not None:
                await forum.post(Message.error(error, "assistant", head))
            raise
        answer = answer_message(request, completion, head)
        if forum is not None:
            await forum.post(answer)
        return answer

    on_cancel = None
    if forum is not None:

        async def on_cancel(marker: Message) -> None:
            await forum.post_many([*turns, marker])  # cancelled at once: the turns are not posted yet

    return MessagePromise(produce, sender="assistant", parent=head, on_cancel=on_cancel)
