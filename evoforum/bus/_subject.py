"""Subjects (a name bound to one pydantic schema), envelopes, and the wire codec.

On the wire a bus message is the subject's model as JSON plus headers:

- ``evoforum-hash``: the message-tree hash the message belongs to (its transcript), if any;
- ``evoforum-schema``: the schema's class name, for people reading the traffic;
- ``evoforum-error``: set on a reply when the responder rejected or failed the request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic

from pydantic import BaseModel, ValidationError
from typing_extensions import TypeVar

from evoforum.errors import SchemaMismatch, UsageError
from evoforum.hashing import Hash, is_hash

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R", bound=BaseModel, default=BaseModel)

HASH_HEADER = "evoforum-hash"
SCHEMA_HEADER = "evoforum-schema"
ERROR_HEADER = "evoforum-error"

_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


@dataclass(frozen=True)
class Subject(Generic[T, R]):
    """A bus subject that carries exactly one schema.

    ``reply`` is the schema of replies when the subject is used for request/reply. ``durable``
    subjects go through a persistent stream (JetStream on NATS): a published message is stored
    before ``publish`` returns, and a consumer acknowledges it only after its handler returned.
    """

    name: str
    schema: type[T]
    reply: type[R] | None = None
    durable: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise UsageError(
                f"subject name {self.name!r} is invalid: use dot-separated tokens of letters, "
                "digits, '-' and '_' (no wildcards)"
            )

    def validate(self, value: Any) -> T:
        """``value`` as this subject's schema; ``SchemaMismatch`` when it does not fit."""
        return validate_as(self.schema, value, self.name)

    def encode(self, value: Any) -> bytes:
        """Validate ``value`` and return its JSON bytes."""
        return self.validate(value).model_dump_json().encode()

    def decode(self, data: bytes) -> T:
        """Parse bytes received on this subject; ``SchemaMismatch`` when they do not fit."""
        return _decode(self.schema, data, self.name)

    def reply_schema(self) -> type[R]:
        """The reply schema; ``UsageError`` when the subject has none."""
        if self.reply is None:
            raise UsageError(f"subject {self.name!r} has no reply schema; give Subject(..., reply=Model)")
        return self.reply

    @property
    def stream(self) -> str:
        """The persistent stream name of a durable subject."""
        return "EVOFORUM_" + self.name.replace(".", "_").replace("-", "_").upper()


@dataclass(frozen=True)
class Envelope(Generic[T]):
    """What a handler receives: the parsed model plus where it came from."""

    subject: str
    data: T
    transcript: Hash | None = None
    attempt: int = 1
    headers: Mapping[str, str] = field(default_factory=dict)


def validate_as(schema: type[T], value: Any, subject: str) -> T:
    if isinstance(value, BaseModel) and not isinstance(value, schema):
        raise SchemaMismatch(
            f"subject {subject!r} carries {schema.__name__}, not {type(value).__name__}",
            subject=subject,
            schema=schema.__name__,
        )
    try:
        return schema.model_validate(value)
    except ValidationError as error:
        raise _mismatch(schema, subject, error) from None


def _decode(schema: type[T], data: bytes, subject: str) -> T:
    try:
        return schema.model_validate_json(data)
    except ValidationError as error:
        raise _mismatch(schema, subject, error, raw=data[:500].decode(errors="replace")) from None


def _mismatch(schema: type[BaseModel], subject: str, error: ValidationError, **extra: Any) -> SchemaMismatch:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '$'}: {item['msg']}" for item in error.errors()
    )
    return SchemaMismatch(
        f"message on {subject!r} does not match {schema.__name__}: {problems}",
        subject=subject,
        schema=schema.__name__,
        **extra,
    )


def headers_for(schema: type[BaseModel], transcript: str | None) -> dict[str, str]:
    """The evoforum headers of an outgoing message."""
    headers = {SCHEMA_HEADER: schema.__name__}
    if transcript is not None:
        if not is_hash(transcript):
            raise UsageError(f"transcript {transcript!r} is not a message-tree hash (64 hex digits)")
        headers[HASH_HEADER] = transcript
    return headers


def transcript_of(headers: Mapping[str, str] | None) -> Hash | None:
    """The message-tree hash carried in ``headers``, if it has the form of one."""
    value = (headers or {}).get(HASH_HEADER)
    return Hash(value) if value is not None and is_hash(value) else None
