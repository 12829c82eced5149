"""``Subject``: one schema per subject, validated on the way out and parsed on the way in."""

from __future__ import annotations

import pickle

import pytest
from pydantic import BaseModel

from evoforum.bus import HASH_HEADER, Subject
from evoforum.bus._subject import headers_for, transcript_of
from evoforum.errors import SchemaMismatch, UsageError
from evoforum.hashing import digest


class Patch(BaseModel):
    path: str
    lines: list[int]


def test_encode_decode_round_trip() -> None:
    subject = Subject("code.patches", Patch)
    data = subject.encode({"path": "a.py", "lines": [1, 2]})
    assert subject.decode(data) == Patch(path="a.py", lines=[1, 2])


def test_decode_names_the_subject_schema_and_field() -> None:
    subject = Subject("code.patches", Patch)
    with pytest.raises(SchemaMismatch) as caught:
        subject.decode(b'{"path": "a.py", "lines": ["x"]}')
    message = str(caught.value)
    assert "'code.patches'" in message
    assert "Patch" in message
    assert "lines.0" in message
    assert caught.value.details["raw"].startswith('{"path"')
    assert pickle.loads(pickle.dumps(caught.value)).details == caught.value.details


@pytest.mark.parametrize("name", ["", "a..b", "a.*", "a.>", "with space", ".lead", "trail."])
def test_subject_names_are_checked(name: str) -> None:
    with pytest.raises(UsageError, match="subject name"):
        Subject(name, Patch)


def test_durable_subjects_get_a_stream_name() -> None:
    assert Subject("review.jobs-v2", Patch, durable=True).stream == "EVOFORUM_REVIEW_JOBS_V2"


def test_headers_carry_the_transcript_hash() -> None:
    transcript = digest({"x": 1}, domain="test")
    headers = headers_for(Patch, transcript)
    assert headers[HASH_HEADER] == transcript
    assert transcript_of(headers) == transcript
    assert transcript_of({HASH_HEADER: "forged"}) is None
    assert transcript_of(None) is None
    assert HASH_HEADER not in headers_for(Patch, None)
