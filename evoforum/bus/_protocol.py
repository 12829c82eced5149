"""The ``Bus`` protocol, its subscriptions, and the hook that lands bus dialogue in a forum."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from evoforum.bus._subject import Envelope, R, Subject, T
from evoforum.errors import SchemaMismatch
from evoforum.hashing import Hash

Handler = Callable[[Envelope[Any]], Awaitable[Any]]
"""Receives a parsed message; on a subject with a reply schema its return value is the reply."""

Rejected = Callable[[SchemaMismatch], None]
"""Told about every received message that failed its subject's schema (it is never handled)."""

log = logging.getLogger("evoforum.bus")


def log_rejection(error: SchemaMismatch) -> None:
    """The default ``on_reject``: a warning in the ``evoforum.bus`` log."""
    log.warning("dropped a bus message: %s", error)


@dataclass(frozen=True)
class DeadLetter:
    """A durable message the bus gave up on after ``attempts`` deliveries to ``consumer``: its
    handler failed every time, or no delivery was acknowledged in time (the consumers holding it
    died or hung). ``reason`` says which (with the handler's last error); ``data`` and
    ``headers`` are the message as it was stored (empty when the stream no longer holds it)."""

    subject: str
    consumer: str
    attempts: int
    reason: str
    data: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def handler_failed(
        cls,
        subject: str,
        consumer: str,
        attempts: int,
        error: object,
        data: bytes,
        headers: Mapping[str, str],
    ) -> DeadLetter:
        """The dead letter of a message whose handler failed on each of ``attempts`` deliveries."""
        reason = f"the handler failed on every delivery, last: {error!r}"
        return cls(subject, consumer, attempts, reason, data, dict(headers))


DeadLetters = Callable[[DeadLetter], None]
"""Told about every durable message given up on (``DeadLetter``); it is never delivered again."""


def log_dead_letter(letter: DeadLetter) -> None:
    """The default ``on_dead``: an error in the ``evoforum.bus`` log."""
    log.error(
        "gave up on a message on %r (consumer %r) after %d deliveries: %s",
        letter.subject,
        letter.consumer,
        letter.attempts,
        letter.reason,
    )


def report_dead(on_dead: DeadLetters, letter: DeadLetter) -> None:
    """Tell ``on_dead`` about ``letter``; an ``on_dead`` that raises is logged, never raised."""
    try:
        on_dead(letter)
    except Exception:
        log.exception("on_dead failed on a dead letter of %r", letter.subject)


class Subscription(Protocol):
    """A running subscription; ``close()`` stops it (pending work finishes first)."""

    @property
    def rejected(self) -> int:
        """How many received messages failed the schema and were dropped."""
        ...

    async def close(self) -> None: ...


class Bus(Protocol):
    """Schematized dialogue: every subject carries one pydantic schema.

    ``publish`` validates before sending; ``subscribe`` hands only valid, parsed messages to the
    handler (others are dropped and reported to ``on_reject``); ``request`` waits for one reply
    and raises ``evoforum.errors.Timeout`` past ``timeout`` seconds. On a durable subject a
    message is stored before ``publish`` returns and acknowledged only after ``consumer``'s
    handler returned; a handler that raises gets the message again (up to ``max_attempts``
    deliveries), and a message given up on is told to ``on_dead`` as a ``DeadLetter``.
    """

    async def publish(self, subject: Subject[Any, Any], value: Any, *, transcript: str | None = None) -> None:
        """Validate ``value`` against the subject's schema and send it."""
        ...

    async def subscribe(
        self,
        subject: Subject[T, Any],
        handler: Callable[[Envelope[T]], Awaitable[Any]],
        *,
        consumer: str | None = None,
        max_attempts: int = 5,
        on_reject: Rejected = log_rejection,
        on_dead: DeadLetters = log_dead_letter,
    ) -> Subscription:
        """Run ``handler`` for each valid message; ``consumer`` names a durable subject's consumer."""
        ...

    async def request(
        self,
        subject: Subject[Any, R],
        value: Any,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a NATS request carries its own timeout
        transcript: str | None = None,
    ) -> Envelope[R]:
        """Send a request and return the reply, parsed into the subject's reply schema."""
        ...

    async def close(self) -> None:
        """Stop every subscription and release the connection."""
        ...


class ForumLike(Protocol):
    """Anything messages can be posted to (``evoforum.Forum`` is one)."""

    async def post(self, message: Any) -> Any: ...


MessageFactory = Callable[[str, BaseModel, "Hash | None"], Any]
"""Builds the forum message for a bus message: ``(subject name, value, parent hash) -> message``."""


@dataclass(frozen=True)
class ForumHook:
    """Lands every published bus message in ``forum`` as well.

    The message built by ``make_message`` is posted before sending; the hash ``post`` returns
    travels in the ``evoforum-hash`` header, so a receiver can reply on the same branch.
    """

    forum: ForumLike
    make_message: MessageFactory

    @classmethod
    def into(cls, forum: ForumLike, *, sender: str | None = None) -> ForumHook:
        """A hook posting ``evoforum.Message``s: the model as data content, sent by ``sender``
        (default: the subject's name), with the subject in ``metadata["subject"]``."""

        def make_message(subject: str, value: BaseModel, parent: Hash | None) -> Any:
            from evoforum.forum import Message

            return Message(value, sender=sender or subject, parent=parent, metadata={"subject": subject})

        return cls(forum, make_message)

    async def record(self, subject: str, value: BaseModel, parent: str | None) -> str | None:
        posted = await self.forum.post(self.make_message(subject, value, Hash(parent) if parent else None))
        return str(posted) if posted is not None else parent
