"""Messages: golden hashes, what is in the hash, kinds, bad content."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from evoforum.errors import AgentFailed, NotSerializable
from evoforum.forum import Message
from evoforum.hashing import digest, is_hash


class Point(BaseModel):
    x: int
    y: int


def golden_messages() -> dict[str, Message]:
    root = Message("hello", "alice")
    child = Message({"b": [1, 2.5, None], "a": "x"}, "bob", root.hash, metadata={"t": 1})
    data = Message({"x": 1, "y": 2}, "carol", child.hash, kind="data", schema_name="tests.golden.Point")
    return {
        "root": root,
        "child": child,
        "data": data,
        "reply": Message.reply(root, "yes", "dave", data.hash),
        "forward": Message.forward(child, "erin"),
        "error": Message({"type": "ValueError", "text": "boom"}, "x", kind="error"),
        "cancelled": Message.cancelled("x", root.hash, "par"),
    }


GOLDEN = {
    "root": "cadbdbda0dfe1937fc024d78ce945df527e1e95cc282a88ea4694c7a6ae431e2",
    "child": "425f1a18de92c7a232117379bf37f6a0949749cd1d2375e91d35b38aa759868c",
    "data": "41664ce3f2ddb52d59a40c664a906d7845acf8c20eba1b84af7dca3dfed51d8a",
    "reply": "9a24b9f0af28ed4cad035c7adaf9205ac05c013ac969826710d3fc01bf733c16",
    "forward": "6ea5cef86ea7b4f93a2ff949d5312aca2a5562ab9af7bd72608da3e949c54e58",
    "error": "555fce1bf705509cc3ab145b31e7ce1eb6d35a79b08fbf9623e69ec564a09d3f",
    "cancelled": "d7e8b057dad77bc0c96de2c6e824c476122667a38b08fe5c212220a3c78db1ac",
}


def test_golden_hashes_are_stable() -> None:
    assert {name: m.hash for name, m in golden_messages().items()} == GOLDEN


def test_hashes_agree_in_a_fresh_process() -> None:
    code = "from evoforum.forum import Message; print(Message('hello', 'alice').hash)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == GOLDEN["root"]


def test_hash_is_the_documented_digest() -> None:
    root = Message("hello", "alice")
    child = Message("hi", "bob", root.hash, metadata={"k": [1]})
    fields = {"kind": "text", "ref": None, "schema_name": None}
    assert root.hash == digest(
        {"content": "hello", "sender": "alice", "parent": None, "metadata": {}, **fields}, domain="message"
    )
    assert child.hash == digest(
        {"content": "hi", "sender": "bob", "parent": root.hash, "metadata": {"k": [1]}, **fields},
        domain="message",
    )
    assert is_hash(child.hash)


@pytest.mark.parametrize(
    "change",
    [
        {"content": "hello!"},
        {"sender": "bob"},
        {"kind": "reply", "ref": "a" * 64},
        {"metadata": {"x": 1}},
        {"parent": "b" * 64},
        {"kind": "data", "schema_name": "m.P"},
    ],
)
def test_every_field_is_in_the_hash(change: dict[str, object]) -> None:
    base = Message("hello", "alice")
    assert base.model_copy(update=change).hash != base.hash


def test_same_history_same_hash_and_equality() -> None:
    a = Message("2", parent=Message("1").hash)
    b = Message("2", parent=Message("1").hash)
    assert a == b
    assert len({a, b}) == 1
    assert a != Message("2", parent=Message("1 ").hash)


def test_messages_are_frozen() -> None:
    message = Message("hi")
    with pytest.raises(ValidationError):
        message.content = "changed"  # type: ignore[misc]


def test_data_messages_round_trip_their_model() -> None:
    point = Point(x=3, y=4)
    message = Message.data(point, "geo")
    assert message.kind == "data"
    assert message.schema_name == f"{Point.__module__}.Point"
    assert message.content == {"x": 3, "y": 4}
    assert message.to_model(Point) == point
    assert Message(point, "geo") == message  # a model as content makes a data message
    assert Message.from_canonical(message.canonical()).to_model(Point) == point


def test_model_validate_and_pickle_keep_the_hash() -> None:
    message = golden_messages()["reply"]
    assert Message.model_validate(message.model_dump()).hash == message.hash
    assert Message.model_validate_json(message.model_dump_json()).hash == message.hash
    assert pickle.loads(pickle.dumps(message)).hash == message.hash


def test_error_messages_reraise_with_type_and_text() -> None:
    class ParseFailure(Exception):
        pass

    try:
        raise ParseFailure("line 3: unexpected ')'")
    except ParseFailure as error:
        message = Message.error(error, "parser")
    assert message.kind == "error"
    with pytest.raises(AgentFailed) as raised:
        message.raise_error()
    assert raised.value.error_type.endswith("ParseFailure")
    assert raised.value.error_text == "line 3: unexpected ')'"
    assert raised.value.message_hash == message.hash
    Message("fine").raise_error()  # not an error: nothing happens


def test_forward_and_reply_record_their_reference() -> None:
    original = Message("the plan", "alice")
    forwarded = Message.forward(original, "bob", parent=Message("other branch").hash)
    assert forwarded.ref == original.hash
    assert forwarded.content == original.content
    assert forwarded.metadata == {"kind": "text", "sender": "alice"}
    reply = Message.reply(original, "agreed", "carol", parent=forwarded.hash)
    assert (reply.kind, reply.ref, reply.parent) == ("reply", original.hash, forwarded.hash)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (object(), "canonical JSON"),
        ({"x": float("nan")}, "finite"),
        ({1: "int key"}, "canonical JSON"),
        ({1, 2}, "canonical JSON"),
    ],
)
def test_unserialisable_content_is_refused(content: object, match: str) -> None:
    with pytest.raises(NotSerializable, match=match):
        Message(content)


def test_bad_fields_are_refused() -> None:
    with pytest.raises(NotSerializable, match="kind"):
        Message("x", kind="shout")  # type: ignore[arg-type]
    with pytest.raises(NotSerializable, match="sender"):
        Message("x", 42)  # type: ignore[arg-type]
    with pytest.raises(NotSerializable, match="parent"):
        Message("x", parent="not-a-hash")
    with pytest.raises(NotSerializable, match="metadata"):
        Message("x", metadata=[1])  # type: ignore[arg-type]
    with pytest.raises(NotSerializable, match="parent"):
        Message("x", parent=7)  # type: ignore[arg-type]
    with pytest.raises(NotSerializable, match="finite"):
        Message("x", metadata={"score": float("inf")})


def test_stored_bytes_are_pinned_at_creation() -> None:
    content = {"items": [1]}
    message = Message(content)
    content["items"].append(2)
    assert Message.from_canonical(message.canonical()).content == {"items": [1]}
    assert Message.from_canonical(message.canonical()).hash == message.hash


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(content=json_values, metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=3))
@settings(max_examples=200, deadline=None)
def test_any_json_content_round_trips_through_its_stored_bytes(
    content: object, metadata: dict[str, object]
) -> None:
    message = Message(content, "prop", Message("root").hash, metadata=metadata)
    again = Message.from_canonical(message.canonical())
    assert again.hash == message.hash
    assert again.canonical() == message.canonical()


def test_a_moved_message_keeps_everything_but_its_place_and_gets_a_new_hash() -> None:
    root = Message("question")
    other = Message("elsewhere")
    original = Message.reply(root, {"answer": 42}, sender="bot", parent=root.hash)
    original = original.model_copy(update={"metadata": {"tokens": 3}, "schema_name": "Answer"})
    moved = original.moved(other.hash)
    assert moved.parent == other.hash
    assert moved.hash != original.hash
    fields = ("content", "sender", "kind", "metadata", "ref", "schema_name")
    assert [getattr(moved, f) for f in fields] == [getattr(original, f) for f in fields]
    assert original.moved(original.parent) == original  # moved to where it is: the same message
    renamed = original.moved(None, sender="agent")
    assert (renamed.sender, renamed.parent, renamed.content) == ("agent", None, original.content)
