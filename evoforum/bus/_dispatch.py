"""What every backend does with one received message: parse, reject or handle, build the reply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from evoforum.bus._protocol import ForumHook, Handler, Rejected, log
from evoforum.bus._subject import ERROR_HEADER, Envelope, Subject, headers_for, transcript_of, validate_as
from evoforum.errors import BackendError, SchemaMismatch, UsageError


@dataclass(frozen=True)
class Outcome:
    """The result of handling one message."""

    status: Literal["handled", "rejected", "failed"]
    reply: bytes = b""
    reply_headers: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None


@dataclass
class Dispatch:
    """Parses raw messages of one subject and runs the handler on the valid ones."""

    subject: Subject[Any, Any]
    handler: Handler
    on_reject: Rejected
    hook: ForumHook | None = None
    rejected: int = 0

    async def __call__(self, data: bytes, headers: Mapping[str, str] | None, attempt: int = 1) -> Outcome:
        try:
            value = self.subject.decode(data)
        except SchemaMismatch as error:
            self.rejected += 1
            self.on_reject(error)
            return Outcome("rejected", reply_headers={ERROR_HEADER: f"schema: {error}"}, error=error)
        envelope = Envelope(
            subject=self.subject.name,
            data=value,
            transcript=transcript_of(headers),
            attempt=attempt,
            headers=dict(headers or {}),
        )
        try:
            result = await self.handler(envelope)
            if self.subject.reply is None:
                return Outcome("handled")
            reply = _validate_reply(self.subject, result)
            parent: str | None = envelope.transcript
            if self.hook is not None:
                parent = await self.hook.record(self.subject.name + ".reply", reply, parent)
            return Outcome(
                "handled",
                reply=reply.model_dump_json().encode(),
                reply_headers=headers_for(type(reply), parent),
            )
        except Exception as error:
            log.warning("handler for %r failed (attempt %d): %r", self.subject.name, attempt, error)
            return Outcome("failed", reply_headers={ERROR_HEADER: f"handler: {error!r}"}, error=error)


def _validate_reply(subject: Subject[Any, Any], result: Any) -> Any:
    try:
        return validate_as(subject.reply_schema(), result, subject.name + " (reply)")
    except SchemaMismatch as error:
        raise SchemaMismatch(f"the handler's reply does not fit: {error}", subject=subject.name) from None


def raise_remote(subject: str, headers: Mapping[str, str] | None) -> None:
    """Raise the error a responder reported in a reply's headers, if any."""
    problem = (headers or {}).get(ERROR_HEADER)
    if problem is None:
        return
    kind, _, text = problem.partition(": ")
    if kind == "schema":
        raise SchemaMismatch(f"the responder on {subject!r} rejected the request: {text}", subject=subject)
    raise BackendError(f"the responder on {subject!r} failed: {text}", subject=subject)


def check_consumer(subject: Subject[Any, Any], consumer: str | None, max_attempts: int) -> None:
    """The usage rules of ``subscribe`` shared by every backend."""
    if subject.durable and not consumer:
        raise UsageError(f"subject {subject.name!r} is durable: subscribe with consumer='name'")
    if consumer and not subject.durable:
        raise UsageError(f"consumer={consumer!r} needs a durable subject; {subject.name!r} is not")
    if consumer is not None and not consumer.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"consumer name {consumer!r} may hold only letters, digits, '-' and '_'")
    if max_attempts < 1:
        raise UsageError(f"max_attempts must be at least 1, not {max_attempts}")


def check_request(subject: Subject[Any, Any]) -> None:
    if subject.durable:
        raise UsageError(f"subject {subject.name!r} is durable; request/reply needs a plain subject")
    subject.reply_schema()
