"""``MessagePromise``: a message that is still being written, streamed to any number of readers.

Design: the tokens live in one list owned by the promise; each reader (``async for``) holds only
an index into it, so a late reader replays from the first token and a reader costs one integer.
The list is the message's own text, which ``await promise`` needs anyway, so it is bounded by
the message. What a slow reader could still do is let the *producer* (an LLM stream, a nested
agent) run arbitrarily far ahead while the reader falls behind. Back-pressure prevents that: the
producer pauses while the slowest active reader lags more than ``max_lag`` tokens. A reader that
stops iterating (``break``, dropped) is forgotten at once (readers are held weakly), so an
abandoned reader never stalls the producer.

``cancel()`` cancels the producing task and every promise created inside it (nested agents), and
records a ``cancelled`` marker message (posted to the forum when the call was bound to one, by the
``on_cancel`` callback: it must post whatever the marker's parent needs, since a promise cancelled
at once has posted nothing yet). Awaiting a cancelled promise raises ``PromiseCancelled``, also
when ``on_cancel`` failed: that error is logged (logger ``evoforum.forum``) and chained as the
``PromiseCancelled``'s cause. Awaiting a promise whose agent failed raises ``AgentFailed``, whose
``details["cause"]`` (and ``__cause__``) is the agent's exception when it was raised in this process;
``await promise.settled()`` returns the final message in every case.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from evoforum.errors import AgentFailed, BackendError, ForumError, PromiseCancelled
from evoforum.forum.message import Message

log = logging.getLogger("evoforum.forum")

RECORDING_CANCEL = "evoforum.recording-cancel-marker"
"""The name of the task that records a cancelled promise's marker (``recorded_cancellations``)."""
DEFAULT_MAX_LAG = 4096
"""How many tokens the producer may run ahead of its slowest active reader."""

Producer = Callable[["MessagePromise"], Coroutine[Any, Any, Message]]
OnCancel = Callable[[Message], Awaitable[Any]]

_CURRENT: contextvars.ContextVar[MessagePromise | None] = contextvars.ContextVar(
    "evoforum_current_promise", default=None
)


class MessagePromise:
    """The answer of an agent call: stream it with ``async for``, get it with ``await``."""

    __slots__ = (
        "__weakref__",
        "_background",
        "_cancel_error",
        "_cause",
        "_children",
        "_closed",
        "_cursors",
        "_done",
        "_drain",
        "_failure",
        "_limit",
        "_loop",
        "_on_cancel",
        "_outcome",
        "_outer",
        "_sinks",
        "_task",
        "_tokens",
        "_wake",
        "max_lag",
        "parent",
        "sender",
    )

    def __init__(
        self,
        produce: Producer,
        *,
        sender: str,
        parent: str | None = None,
        max_lag: int = DEFAULT_MAX_LAG,
        on_cancel: OnCancel | None = None,
    ) -> None:
        """Start ``produce(self)`` as a task now. ``sender``/``parent`` place the cancel marker."""
        try:
            self._loop = loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ForumError("agents are called from async code: there is no running event loop") from None
        self.sender = sender
        self.parent = parent
        self.max_lag = max(1, max_lag)
        self._tokens: list[str] = []
        self._wake: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._cursors: weakref.WeakSet[_Cursor] = weakref.WeakSet()
        self._limit = self.max_lag
        self._closed = False
        self._outcome: Message | None = None
        self._failure: BaseException | None = None
        self._children: list[MessagePromise] = []
        self._sinks: list[MessagePromise] = []
        self._on_cancel = on_cancel
        self._background: asyncio.Task[Any] | None = None
        self._cancel_error: Exception | None = None
        self._cause: Exception | None = None
        self._done: asyncio.Future[None] = loop.create_future()
        self._outer = outer = _CURRENT.get()
        if outer is not None:
            outer._children.append(self)
        context = contextvars.copy_context()
        context.run(_CURRENT.set, self)
        self._task = loop.create_task(self._main(produce), name=f"agent {sender}", context=context)

    @classmethod
    def ready(cls, message: Message) -> MessagePromise:
        """A promise already holding ``message`` (its text is the one token)."""

        async def produce(promise: MessagePromise) -> Message:
            promise._push(message.text)
            return message

        return cls(produce, sender=message.sender, parent=message.parent)

    # -- readers --------------------------------------------------------------------------------

    def __aiter__(self) -> _Cursor:
        return _Cursor(self)

    def __await__(self) -> Generator[Any, None, Message]:
        return self._result(raise_failure=True).__await__()

    async def settled(self) -> Message:
        """The final message: the answer, the error message, or the cancelled marker (no raise)."""
        return await self._result(raise_failure=False)

    def done(self) -> bool:
        return self._closed

    def cancelled(self) -> bool:
        return self._closed and self._outcome is not None and self._outcome.kind == "cancelled"

    @property
    def text(self) -> str:
        """The tokens streamed so far, joined."""
        return "".join(self._tokens)

    def cancel(self) -> bool:
        """Stop the agent and everything it started; False if the promise was already settled."""
        if self._closed:
            return False
        marker = Message.cancelled(self.sender, self.parent, "".join(self._tokens))
        self._settle(marker, None)
        for child in tuple(self._children):
            child.cancel()
        self._task.cancel()
        if self._on_cancel is not None:
            recording = self._record_cancel(self._on_cancel, marker)
            self._background = self._loop.create_task(recording, name=RECORDING_CANCEL)
        return True

    async def _record_cancel(self, callback: OnCancel, marker: Message) -> None:
        """Run ``on_cancel``; its error is logged and kept as the cause of ``PromiseCancelled``."""
        try:
            await callback(marker)
        except Exception as error:
            self._cancel_error = error
            # a backend that failed (a store stopping with the run) says enough in one line; any
            # other error is a defect and keeps its traceback
            shown = None if isinstance(error, BackendError) else error
            log.warning("recording the cancel marker of %s failed: %r", self.sender, error, exc_info=shown)

    async def _result(self, *, raise_failure: bool) -> Message:
        if not self._closed:
            await asyncio.shield(self._done)
        if self._background is not None:
            await asyncio.shield(self._background)
        outcome = self._outcome
        if outcome is None or (raise_failure and outcome.kind in ("error", "cancelled")):
            self._raise()
        assert outcome is not None
        return outcome

    def _raise(self) -> None:
        """Raise what this settled promise failed with (a fresh exception for every caller)."""
        outcome = self._outcome
        if outcome is None:
            assert self._failure is not None
            raise self._failure
        if outcome.kind == "cancelled":
            cancelled = PromiseCancelled(
                f"the promise of {self.sender} was cancelled", sender=self.sender, marker_hash=outcome.hash
            )
            if self._cancel_error is not None:
                raise cancelled from self._cancel_error
            raise cancelled
        if self._cause is None:
            outcome.raise_error()
        try:
            outcome.raise_error()
        except AgentFailed as failed:  # the agent's own exception, at hand in this process
            raise AgentFailed(failed.message, **failed.details, cause=self._cause) from self._cause

    # -- the producing side (used by agents) ----------------------------------------------------

    def push(self, token: str) -> bool:
        """For producers (an agent runner, an LLM stream): append ``token`` and wake the readers.

        True when the slowest reader lags more than ``max_lag``: a producer that can wait then
        ``await promise.throttle()``; one that cannot (a model mid-answer) may go on.
        """
        return self._push(token)

    async def throttle(self) -> None:
        """For producers: wait until the slowest reader is back within ``max_lag`` tokens."""
        await self._throttle()

    async def _main(self, produce: Producer) -> None:
        try:
            message = await produce(self)
        except asyncio.CancelledError:
            if not self._closed:  # cancelled by someone other than cancel(), e.g. loop shutdown
                self._settle(Message.cancelled(self.sender, self.parent, "".join(self._tokens)), None)
            raise
        except BaseException as error:
            self._settle(None, error)
            if not isinstance(error, Exception):
                raise
        else:
            if not self._closed:
                self._settle(message, None)

    def _push(self, token: str) -> bool:
        """Append a token, wake readers, pass it to the forwarding promises above; True when the
        producer should ``await _throttle()``."""
        tokens = self._tokens
        tokens.append(token)
        self._wake_readers()
        over = len(tokens) > self._limit
        for sink in self._sinks:
            over = sink._push(token) or over
        return over

    def _push_many(self, new: list[str]) -> bool:
        tokens = self._tokens
        tokens.extend(new)
        self._wake_readers()
        over = len(tokens) > self._limit
        for sink in self._sinks:
            over = sink._push_many(new) or over
        return over

    def _wake_readers(self) -> None:
        wake = self._wake
        if wake is not None:
            self._wake = None
            if not wake.done():
                wake.set_result(None)

    async def _throttle(self) -> None:
        """Pause while the slowest active reader (here or above) lags more than ``max_lag`` tokens."""
        while True:
            produced = len(self._tokens)
            slowest = min((cursor._index for cursor in self._cursors), default=produced)
            if produced - slowest <= self.max_lag:
                self._limit = slowest + self.max_lag
                break
            drain = self._drain = self._loop.create_future()
            await drain
        for sink in tuple(self._sinks):
            await sink._throttle()

    def _release(self) -> None:
        drain = self._drain
        self._drain = None
        if drain is not None and not drain.done():
            drain.set_result(None)

    async def _forward(self, child: MessagePromise, *, settled: bool = False) -> Message:
        """Stream ``child``'s tokens into this promise; then ``await child`` (``child.settled()``
        when ``settled``: no raise for an error or a cancelled child).

        After catching up with what the child streamed so far, this promise is registered as the
        child's sink: the child pushes every further token straight into it (and on up through
        any promise forwarding this one), so nesting costs no task switch per token and level.
        """
        over = self._push_many(child._tokens[:]) if child._tokens else False
        if not child._closed:
            child._sinks.append(self)
            try:
                if over:
                    await self._throttle()
                await asyncio.shield(child._done)
            finally:
                child._sinks.remove(self)
        elif over:
            await self._throttle()
        return await child.settled() if settled else await child

    def _settle(self, outcome: Message | None, failure: BaseException | None) -> None:
        self._closed = True
        self._outcome = outcome
        self._failure = failure
        wake = self._wake
        self._wake = None
        if wake is not None and not wake.done():
            wake.set_result(None)
        self._release()
        if not self._done.done():
            self._done.set_result(None)
        outer = self._outer
        if outer is not None and self in outer._children:  # settled: nothing left to cancel
            outer._children.remove(self)

    def __repr__(self) -> str:
        state = "pending" if not self._closed else (self._outcome.kind if self._outcome else "failed")
        return f"<MessagePromise {self.sender} {state} tokens={len(self._tokens)}>"


class _Cursor:
    """One reader's position in a promise's token list."""

    __slots__ = ("__weakref__", "_index", "_promise")

    def __init__(self, promise: MessagePromise) -> None:
        self._promise = promise
        self._index = 0
        if not promise._closed:
            promise._cursors.add(self)

    def __aiter__(self) -> _Cursor:
        return self

    async def __anext__(self) -> str:
        promise = self._promise
        tokens = promise._tokens
        index = self._index
        while index >= len(tokens):
            if promise._closed:
                promise._cursors.discard(self)
                if promise._outcome is None or promise._outcome.kind in ("error", "cancelled"):
                    promise._raise()
                raise StopAsyncIteration
            wake = promise._wake  # shared by every waiting reader
            if wake is None:
                wake = promise._wake = promise._loop.create_future()
            try:
                await wake
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this reader was cancelled
                # another reader was cancelled while waiting on the shared future: wait afresh
                if promise._wake is wake:
                    promise._wake = None
        self._index = index + 1
        if promise._drain is not None:
            promise._release()
        return tokens[index]


async def recorded_cancellations(within_s: float) -> None:
    """Wait, at most ``within_s`` seconds, for the cancel markers this event loop is still
    recording: a run that stops calls it before it closes the store they go to."""
    pending = [t for t in asyncio.all_tasks() if t.get_name() == RECORDING_CANCEL and not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=within_s)
