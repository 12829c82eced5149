"""``MemoryBus``: the in-process bus, with the same semantics as the NATS one.

Messages travel as JSON bytes plus headers, exactly like on NATS, so schema checks on receive
behave the same. Durable subjects keep every message in a per-subject log; each named consumer
works through it and gets a message again while its handler raises (up to ``max_attempts``);
then the message is a ``DeadLetter``, told to ``on_dead``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from evoforum.bus._dispatch import Dispatch, check_consumer, check_request, raise_remote
from evoforum.bus._protocol import (
    DeadLetter,
    DeadLetters,
    ForumHook,
    Rejected,
    log_dead_letter,
    log_rejection,
    report_dead,
)
from evoforum.bus._subject import Envelope, R, Subject, T, headers_for, transcript_of
from evoforum.errors import BackendError, Timeout

_RETRY_DELAY = 0.01

# (data, headers, reply future or None)
_Core = tuple[bytes, dict[str, str], "asyncio.Future[tuple[bytes, dict[str, str]]] | None"]


@dataclass
class _Consumer:
    """A durable consumer: a queue of (stream index, attempt) shared by its subscriptions."""

    queue: asyncio.Queue[tuple[int, int]] = field(default_factory=asyncio.Queue)


class _MemorySubscription:
    def __init__(self, bus: MemoryBus, dispatch: Dispatch) -> None:
        self._bus = bus
        self._dispatch = dispatch
        self.inbox: asyncio.Queue[_Core] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    @property
    def rejected(self) -> int:
        return self._dispatch.rejected

    async def close(self) -> None:
        self._bus._forget(self)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class MemoryBus:
    """A ``Bus`` inside one process (for tests and single-process runs)."""

    def __init__(self, *, forum: ForumHook | None = None) -> None:
        self._forum = forum
        self._core: dict[str, list[_MemorySubscription]] = {}
        self._streams: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
        self._consumers: dict[tuple[str, str], _Consumer] = {}
        self._subscriptions: list[_MemorySubscription] = []
        self._closed = False

    async def publish(self, subject: Subject[Any, Any], value: Any, *, transcript: str | None = None) -> None:
        model = subject.validate(value)
        if self._forum is not None:
            transcript = await self._forum.record(subject.name, model, transcript)
        headers = headers_for(subject.schema, transcript)
        await self.publish_raw(
            subject.name, model.model_dump_json().encode(), headers, durable=subject.durable
        )

    async def publish_raw(
        self, name: str, data: bytes, headers: Mapping[str, str] | None = None, *, durable: bool = False
    ) -> None:
        """Send bytes as a foreign publisher would: nothing is validated on the way out."""
        self._check_open()
        headers = dict(headers or {})
        if durable:
            log_ = self._streams.setdefault(name, [])
            log_.append((data, headers))
            for (stream, _), consumer in self._consumers.items():
                if stream == name:
                    consumer.queue.put_nowait((len(log_) - 1, 1))
            return
        for subscription in self._core.get(name, []):
            subscription.inbox.put_nowait((data, headers, None))

    async def subscribe(
        self,
        subject: Subject[T, Any],
        handler: Callable[[Envelope[T]], Awaitable[Any]],
        *,
        consumer: str | None = None,
        max_attempts: int = 5,
        on_reject: Rejected = log_rejection,
        on_dead: DeadLetters = log_dead_letter,
    ) -> _MemorySubscription:
        self._check_open()
        check_consumer(subject, consumer, max_attempts)
        subscription = _MemorySubscription(self, Dispatch(subject, handler, on_reject, self._forum))
        if consumer is None:
            self._core.setdefault(subject.name, []).append(subscription)
            subscription.task = asyncio.create_task(self._serve_core(subscription))
        else:
            state = self._consumer(subject.name, consumer)
            subscription.task = asyncio.create_task(
                self._serve_durable(subscription, subject.name, consumer, state, max_attempts, on_dead)
            )
        self._subscriptions.append(subscription)
        return subscription

    async def request(
        self,
        subject: Subject[Any, R],
        value: Any,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a NATS request carries its own timeout
        transcript: str | None = None,
    ) -> Envelope[R]:
        self._check_open()
        check_request(subject)
        model = subject.validate(value)
        if self._forum is not None:
            transcript = await self._forum.record(subject.name, model, transcript)
        responders = self._core.get(subject.name, [])
        if not responders:
            raise Timeout(
                f"no one answers requests on {subject.name!r}", subject=subject.name, timeout=timeout
            )
        reply: asyncio.Future[tuple[bytes, dict[str, str]]] = asyncio.get_running_loop().create_future()
        message = (model.model_dump_json().encode(), headers_for(subject.schema, transcript), reply)
        for subscription in responders:
            subscription.inbox.put_nowait(message)
        try:
            data, headers = await asyncio.wait_for(reply, timeout)
        except TimeoutError:
            raise Timeout(
                f"no reply on {subject.name!r} within {timeout} s", subject=subject.name, timeout=timeout
            ) from None
        raise_remote(subject.name, headers)
        reply_schema = subject.reply_schema()
        parsed = Subject(subject.name, reply_schema).decode(data)
        return Envelope(subject.name, parsed, transcript_of(headers), headers=headers)

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.close()
        self._closed = True

    async def __aenter__(self) -> MemoryBus:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- internals -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("the bus is closed")

    def _consumer(self, stream: str, name: str) -> _Consumer:
        key = (stream, name)
        if key not in self._consumers:
            state = self._consumers[key] = _Consumer()
            for index in range(len(self._streams.get(stream, []))):
                state.queue.put_nowait((index, 1))
        return self._consumers[key]

    def _forget(self, subscription: _MemorySubscription) -> None:
        for subscribers in self._core.values():
            if subscription in subscribers:
                subscribers.remove(subscription)
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    async def _serve_core(self, subscription: _MemorySubscription) -> None:
        while True:
            data, headers, reply = await subscription.inbox.get()
            outcome = await subscription._dispatch(data, headers)
            if reply is not None and not reply.done():
                reply.set_result((outcome.reply, outcome.reply_headers))

    async def _serve_durable(
        self,
        subscription: _MemorySubscription,
        stream: str,
        name: str,
        state: _Consumer,
        max_attempts: int,
        on_dead: DeadLetters,
    ) -> None:
        while True:
            index, attempt = await state.queue.get()
            data, headers = self._streams[stream][index]
            try:
                outcome = await subscription._dispatch(data, headers, attempt)
            except asyncio.CancelledError:
                state.queue.put_nowait((index, attempt))  # not acknowledged: someone gets it again
                raise
            if outcome.status != "failed":
                continue
            if attempt >= max_attempts:
                report_dead(
                    on_dead, DeadLetter.handler_failed(stream, name, attempt, outcome.error, data, headers)
                )
                continue
            retry = (index, attempt + 1)
            asyncio.get_running_loop().call_later(_RETRY_DELAY * attempt, state.queue.put_nowait, retry)
