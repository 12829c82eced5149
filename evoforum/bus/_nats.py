"""``NatsBus``: the bus on NATS; durable subjects on JetStream (nats-py, imported lazily).

Plain subjects use core NATS (at most once, request/reply). A durable subject has its own file
stream (``Subject.stream``); ``publish`` returns once JetStream acknowledged the store (retrying
with the same ``Nats-Msg-Id`` across a reconnect, so a retry never stores twice), and a durable
pull consumer acknowledges a message only after the handler returned. A handler that raises
naks it (redelivered after a short back-off); a message that fails the schema is terminated.
A consumer the bus creates waits ``ack_wait`` seconds for an acknowledgement before the server
redelivers; a handler running longer sends ``in_progress`` heartbeats meanwhile. Messages given
up on are reported to ``on_dead`` (see ``_jetstream``).

A lost connection is retried for ever (every 0.1 s), and the subscriptions come back with it;
durable subjects live on in the server's JetStream store folder across a restart. What was
acknowledged is never lost: a durable message whose ``publish`` returned is stored and is handled
after the restart, and with a forum hook every message is posted to the forum before it is sent.
What was in flight may be: a plain message or a request sent while the server was away, or a reply
the server held when it went, is dropped, so that request ends in ``Timeout`` (the candidate fails
on that item; the run goes on).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from evoforum.bus._dispatch import Dispatch, check_consumer, check_request, raise_remote
from evoforum.bus._jetstream import Durable, consume, watch_dead_letters
from evoforum.bus._nats_private import connect_client, flush_in_order, is_transient, nats_errors, translate
from evoforum.bus._protocol import DeadLetters, ForumHook, Rejected, log, log_dead_letter, log_rejection
from evoforum.bus._subject import Envelope, R, Subject, T, headers_for, transcript_of
from evoforum.errors import BackendError, Timeout, UsageError

ACK_WAIT = 30.0
"""Seconds the server waits for a durable message's acknowledgement before redelivering it."""


class _NatsSubscription:
    def __init__(self, dispatch: Dispatch, closer: Callable[[], Awaitable[None]]) -> None:
        self._dispatch = dispatch
        self._closer: Callable[[], Awaitable[None]] | None = closer
        self.on_close: Callable[[_NatsSubscription], None] | None = None

    @property
    def rejected(self) -> int:
        return self._dispatch.rejected

    async def close(self) -> None:
        closer, self._closer = self._closer, None
        if closer is not None:
            await closer()
            if self.on_close is not None:
                self.on_close(self)


class NatsBus:
    """A ``Bus`` on a NATS server (JetStream enabled for durable subjects).

    ``await NatsBus.connect(url)`` opens (and owns) a connection that reconnects forever;
    ``NatsBus(client)`` wraps a connected ``nats.aio.client.Client`` that the caller closes.
    ``ack_wait`` (seconds) is the acknowledgement wait of the durable consumers it creates (one
    that exists keeps its own; heartbeats follow whichever the server holds).
    """

    def __init__(
        self,
        client: Any,
        *,
        forum: ForumHook | None = None,
        publish_timeout: float = 30.0,
        ack_wait: float = ACK_WAIT,
        owns: bool = False,
    ) -> None:
        if ack_wait <= 0:
            raise UsageError(f"ack_wait must be positive, not {ack_wait}")
        self._nc = client
        self._js = client.jetstream()
        self._forum = forum
        self._publish_timeout = publish_timeout
        self._ack_wait = ack_wait
        self._owns = owns
        self._streams: set[str] = set()  # subjects whose stream is known to exist
        self._subscriptions: list[_NatsSubscription] = []

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        forum: ForumHook | None = None,
        publish_timeout: float = 30.0,
        ack_wait: float = ACK_WAIT,
    ) -> NatsBus:
        """Connect to ``url``; the bus closes the connection in ``close()``."""
        client = await connect_client(url)
        return cls(client, forum=forum, publish_timeout=publish_timeout, ack_wait=ack_wait, owns=True)

    @property
    def client(self) -> Any:
        """The underlying nats-py client."""
        return self._nc

    async def publish(self, subject: Subject[Any, Any], value: Any, *, transcript: str | None = None) -> None:
        model = subject.validate(value)
        if self._forum is not None:
            transcript = await self._forum.record(subject.name, model, transcript)
        headers = headers_for(subject.schema, transcript)
        data = model.model_dump_json().encode()
        if subject.durable:
            await self._publish_durable(subject, data, headers)
            return
        try:
            await self._nc.publish(subject.name, data, headers=headers)
        except nats_errors() as error:
            raise translate(error, f"publish on {subject.name!r}") from None

    async def subscribe(
        self,
        subject: Subject[T, Any],
        handler: Callable[[Envelope[T]], Awaitable[Any]],
        *,
        consumer: str | None = None,
        max_attempts: int = 5,
        on_reject: Rejected = log_rejection,
        on_dead: DeadLetters = log_dead_letter,
    ) -> _NatsSubscription:
        check_consumer(subject, consumer, max_attempts)
        dispatch = Dispatch(subject, handler, on_reject, self._forum)
        try:
            if consumer is None:
                subscription = await self._subscribe_core(subject, dispatch)
            else:
                subscription = await self._subscribe_durable(
                    subject, consumer, dispatch, max_attempts, on_dead
                )
        except nats_errors() as error:
            raise translate(error, f"subscribe to {subject.name!r}") from None
        subscription.on_close = self._subscriptions.remove
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
        check_request(subject)
        model = subject.validate(value)
        if self._forum is not None:
            transcript = await self._forum.record(subject.name, model, transcript)
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout

        data = model.model_dump_json().encode()
        try:
            msg = await self._nc.request(
                subject.name, data, timeout=timeout, headers=headers_for(subject.schema, transcript)
            )
        except NoRespondersError:
            raise Timeout(
                f"no one answers requests on {subject.name!r}", subject=subject.name, timeout=timeout
            ) from None
        except NatsTimeout:
            raise Timeout(
                f"no reply on {subject.name!r} within {timeout} s", subject=subject.name, timeout=timeout
            ) from None
        except nats_errors() as error:
            raise translate(error, f"request on {subject.name!r}") from None
        headers = msg.headers or {}
        raise_remote(subject.name, headers)
        parsed = Subject(subject.name, subject.reply_schema()).decode(msg.data)
        return Envelope(subject.name, parsed, transcript_of(headers), headers=dict(headers))

    async def publish_raw(self, name: str, data: bytes, headers: Mapping[str, str] | None = None) -> None:
        """Send bytes unchecked, as a foreign publisher would (core NATS)."""
        try:
            await self._nc.publish(name, data, headers=dict(headers or {}))
        except nats_errors() as error:
            raise translate(error, f"publish on {name!r}") from None

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.close()
        if self._owns and not self._nc.is_closed:
            with contextlib.suppress(*nats_errors()):
                await self._nc.drain()
            await self._nc.close()

    async def __aenter__(self) -> NatsBus:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- core NATS ---------------------------------------------------------------------------

    async def _subscribe_core(self, subject: Subject[Any, Any], dispatch: Dispatch) -> _NatsSubscription:
        async def on_message(msg: Any) -> None:
            outcome = await dispatch(msg.data, msg.headers)
            if msg.reply:
                with contextlib.suppress(*nats_errors()):
                    await self._nc.publish(msg.reply, outcome.reply, headers=outcome.reply_headers)

        sub = await self._nc.subscribe(subject.name, cb=on_message)
        await flush_in_order(self._nc)  # the server knows the subscription once subscribe() returns

        async def closer() -> None:
            with contextlib.suppress(*nats_errors()):
                await sub.unsubscribe()

        return _NatsSubscription(dispatch, closer)

    # -- JetStream ---------------------------------------------------------------------------

    async def _ensure_stream(self, subject: Subject[Any, Any]) -> None:
        if subject.name in self._streams:
            return
        from nats.js.api import StorageType
        from nats.js.errors import NotFoundError

        try:
            info = await self._js.stream_info(subject.stream)
        except NotFoundError:
            await self._js.add_stream(name=subject.stream, subjects=[subject.name], storage=StorageType.FILE)
        else:
            if subject.name not in (info.config.subjects or []):
                raise BackendError(
                    f"stream {subject.stream} exists for {info.config.subjects}, not for {subject.name!r}; "
                    "rename one of the subjects",
                    subject=subject.name,
                )
        self._streams.add(subject.name)

    async def _publish_durable(
        self, subject: Subject[Any, Any], data: bytes, headers: dict[str, str]
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._publish_timeout
        headers["Nats-Msg-Id"] = uuid.uuid4().hex
        while True:
            try:
                await self._ensure_stream(subject)
                await self._js.publish(
                    subject.name, data, headers=dict(headers), timeout=1.0, stream=subject.stream
                )
                return
            except nats_errors() as error:
                if not is_transient(error, self._nc) or loop.time() >= deadline:
                    raise translate(error, f"publish on durable {subject.name!r}") from None
                log.debug("JetStream publish on %r failed, retrying: %r", subject.name, error)
                await asyncio.sleep(0.1)

    async def _subscribe_durable(
        self,
        subject: Subject[Any, Any],
        consumer: str,
        dispatch: Dispatch,
        max_attempts: int,
        on_dead: DeadLetters,
    ) -> _NatsSubscription:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        await self._ensure_stream(subject)
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=max_attempts,
            ack_wait=self._ack_wait,
        )
        pull = await self._js.pull_subscribe(
            subject.name, durable=consumer, stream=subject.stream, config=config
        )
        info = await pull.consumer_info()  # a consumer made earlier keeps its own ack_wait
        ack_wait = float(info.config.ack_wait or self._ack_wait)
        durable = Durable(subject, consumer, pull, dispatch, max_attempts, ack_wait, on_dead)
        advisories = await watch_dead_letters(self._nc, self._js, durable)
        await flush_in_order(self._nc)  # the server sends advisories once the first fetch is out
        task = asyncio.create_task(consume(self._nc, durable))

        async def closer() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(*nats_errors()):
                await advisories.unsubscribe()
            with contextlib.suppress(*nats_errors()):
                await pull.unsubscribe()

        return _NatsSubscription(dispatch, closer)
