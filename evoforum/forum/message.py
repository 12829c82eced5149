"""``Message``: one immutable, content-hashed node of a conversation tree.

The hash is taken over the canonical JSON of all seven fields (domain ``"message"``, see
``evoforum.hashing``), as one object with exactly these keys::

    content      the JSON content (text: a str; data: the model as JSON; error: {"type", "text"})
    sender       who wrote it
    parent       the previous message's hash, or null for a root
    kind         "text" | "data" | "error" | "forward" | "reply" | "cancelled"
    metadata     a JSON object (empty by default)
    ref          forward: the original's hash; reply: the hash replied to; else null
    schema_name  data: the pydantic model's dotted name; else null

Nothing is out of the hash: a message has no timestamps or ids of its own. The canonical bytes
that were hashed are kept (``canonical()``) and are what a store writes. ``content`` and
``metadata`` are deep-frozen copies (``evoforum/forum/frozen.py``): a message never holds a dict
its caller can still change, and nobody can change the dicts it gives out, so a message (and every
store serving it) always matches its hash. Messages are
built by ``__init__`` without pydantic's validation pass (each field is checked by hand, which is
several times faster); ``model_validate`` also works and gives the same hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict

from evoforum.errors import AgentFailed, ForumError, NotSerializable
from evoforum.forum.frozen import FrozenDict, freeze
from evoforum.hashing import Hash, canonical_json, is_hash, prefix

Kind = Literal["text", "data", "error", "forward", "reply", "cancelled"]
KINDS: frozenset[str] = frozenset(("text", "data", "error", "forward", "reply", "cancelled"))

ModelT = TypeVar("ModelT", bound=BaseModel)

# Same bytes as evoforum.hashing.digest(..., domain="message"); a test pins the equivalence.
_PREFIX = prefix("message")
_sha256 = hashlib.sha256
_dumps = orjson.dumps
_SORTED = orjson.OPT_SORT_KEYS
_set = object.__setattr__
_NO_FIELDS_SET: frozenset[str] = frozenset()
_NO_METADATA = FrozenDict()
_METADATA_TYPES = (dict, FrozenDict)


class Message(BaseModel):
    """An immutable message; ``hash`` names it together with every message before it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    content: Any
    sender: str = "user"
    parent: Hash | None = None
    kind: Kind = "text"
    metadata: dict[str, Any] = {}
    ref: Hash | None = None
    schema_name: str | None = None

    hash: ClassVar[Hash]
    """The 64-hex sha256 of this message and its whole history (computed once, at creation)."""

    def __init__(
        self,
        content: Any,
        sender: str = "user",
        parent: Hash | str | None = None,
        *,
        kind: Kind = "text",
        metadata: dict[str, Any] | None = None,
        ref: Hash | str | None = None,
        schema_name: str | None = None,
    ) -> None:
        if type(content) is not str and isinstance(content, BaseModel):
            if kind == "text":
                kind = "data"
            schema_name = schema_name or _model_name(type(content))
            content = content.model_dump(mode="json")
        meta = {} if metadata is None else metadata
        if kind not in KINDS or type(sender) is not str or type(meta) not in _METADATA_TYPES:
            _reject(kind, sender, meta)
        if (parent is not None and (type(parent) is not str or len(parent) != 64)) or (
            ref is not None and (type(ref) is not str or len(ref) != 64)
        ):
            _check_hashes(parent, ref)
        fields = {
            "content": content,
            "sender": sender,
            "parent": parent,
            "kind": kind,
            "metadata": meta,
            "ref": ref,
            "schema_name": schema_name,
        }
        try:
            data = _dumps(fields, option=_SORTED)
        except (TypeError, orjson.JSONEncodeError):
            data = canonical_json(fields)  # raises NotSerializable with the reason
        if (type(content) is not str or meta) and b"null" in data:
            canonical_json([content, meta])  # rejects NaN and infinities, which orjson wrote as null
        if type(content) is not str:
            fields["content"] = freeze(content)
        fields["metadata"] = freeze(meta) if meta else _NO_METADATA
        fields["hash"] = _sha256(_PREFIX + data).hexdigest()
        fields["_canonical"] = data
        _set(self, "__dict__", fields)
        _set(self, "__pydantic_fields_set__", _NO_FIELDS_SET)
        _set(self, "__pydantic_extra__", None)
        _set(self, "__pydantic_private__", None)

    def model_post_init(self, context: Any, /) -> None:
        """Give a message built by ``model_validate`` its hash (``__init__`` does it otherwise)."""
        fresh = Message(
            self.content,
            self.sender,
            self.parent,
            kind=self.kind,
            metadata=self.metadata,
            ref=self.ref,
            schema_name=self.schema_name,
        )
        self.__dict__.update(fresh.__dict__)  # frozen content and metadata, hash, canonical bytes

    # -- typed constructors ---------------------------------------------------------------------

    @classmethod
    def data(cls, model: BaseModel, sender: str = "user", parent: Hash | str | None = None) -> Message:
        """A structured message: ``model`` as JSON, with its schema's dotted name recorded."""
        return cls(model, sender, parent, kind="data")

    @classmethod
    def error(cls, error: BaseException, sender: str = "user", parent: Hash | str | None = None) -> Message:
        """An error message recording the exception's type and text (re-raise with ``raise_error``)."""
        kind = type(error)
        name = (
            kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        )
        return cls({"type": name, "text": str(error)}, sender, parent, kind="error")

    @classmethod
    def forward(cls, original: Message, sender: str = "user", parent: Hash | str | None = None) -> Message:
        """A copy of ``original``'s content on another branch, recording the original's hash."""
        return cls(
            original.content,
            sender,
            parent,
            kind="forward",
            ref=original.hash,
            schema_name=original.schema_name,
            metadata={"kind": original.kind, "sender": original.sender},
        )

    def moved(self, parent: Hash | str | None, sender: str | None = None) -> Message:
        """This message (content, kind, metadata, reference, schema) placed below ``parent``, sent by
        ``sender`` when given; unlike ``forward`` it keeps no trace of where it was."""
        return Message(
            self.content,
            self.sender if sender is None else sender,
            parent,
            kind=self.kind,
            metadata=self.metadata,
            ref=self.ref,
            schema_name=self.schema_name,
        )

    @classmethod
    def reply(
        cls, to: Message | Hash | str, content: Any, sender: str = "user", parent: Hash | str | None = None
    ) -> Message:
        """A message answering ``to`` (any earlier message), posted after ``parent``."""
        target = to.hash if isinstance(to, Message) else to
        return cls(content, sender, parent, kind="reply", ref=target)

    @classmethod
    def cancelled(cls, sender: str, parent: Hash | str | None = None, partial: str = "") -> Message:
        """The marker left on a branch by a cancelled promise (``partial``: the text streamed so far)."""
        return cls(partial, sender, parent, kind="cancelled")

    @classmethod
    def from_canonical(cls, data: bytes) -> Message:
        """Rebuild a message from the canonical bytes a store holds."""
        try:
            raw = orjson.loads(data)
            return cls(
                raw["content"],
                raw["sender"],
                raw["parent"],
                kind=raw["kind"],
                metadata=raw["metadata"],
                ref=raw["ref"],
                schema_name=raw["schema_name"],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise ForumError(f"stored message bytes are not a message: {error}") from None

    # -- reading --------------------------------------------------------------------------------

    def canonical(self) -> bytes:
        """The canonical JSON bytes this message's hash is taken over."""
        data: bytes = self.__dict__["_canonical"]
        return data

    @property
    def text(self) -> str:
        """The content as text: a str as it is, anything else as JSON."""
        content = self.content
        return content if type(content) is str else _dumps(content).decode()

    def to_model(self, model: type[ModelT]) -> ModelT:
        """The content of a data message validated as ``model``."""
        return model.model_validate(self.content)

    def raise_error(self) -> None:
        """Raise ``AgentFailed`` for an error message (original type and text attached); else nothing."""
        if self.kind != "error":
            return
        content = self.content if isinstance(self.content, dict) else {}
        error_type = str(content.get("type", "Exception"))
        error_text = str(content.get("text", ""))
        raise AgentFailed(
            f"{self.sender} failed: {error_type}: {error_text}",
            error_type=error_type,
            error_text=error_text,
            sender=self.sender,
            message_hash=self.hash,
        )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Message:
        """A new message with ``update`` applied (and a new hash)."""
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        fields.update(update or {})
        return Message(**fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.__dict__["hash"])

    def __repr__(self) -> str:
        return f"Message({self.kind}, sender={self.sender!r}, hash={self.hash[:12]}, content={self.content!r:.60})"


def _model_name(model: type[BaseModel]) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def _reject(kind: object, sender: object, metadata: object) -> None:
    if kind not in KINDS:
        raise NotSerializable(f"unknown message kind {kind!r}; one of {sorted(KINDS)}")
    if type(sender) is not str:
        raise NotSerializable(f"a message's sender is a str, not {type(sender).__name__}")
    raise NotSerializable(f"a message's metadata is a dict, not {type(metadata).__name__}")


def _check_hashes(parent: object, ref: object) -> None:
    for name, value in (("parent", parent), ("ref", ref)):
        if value is not None and not is_hash(value):
            raise NotSerializable(f"a message's {name} is a 64-hex hash, not {value!r}")
