"""NATS specifics: one stream per durable subject, and names that would collide are refused."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel

from evoforum.bus import NatsBus, Subject
from evoforum.errors import BackendError

pytestmark = pytest.mark.services


class Job(BaseModel):
    n: int


async def test_subjects_whose_stream_names_collide_are_refused(nats_url: str) -> None:
    token = uuid.uuid4().hex[:8]
    first = Subject(f"jobs.{token}.a-b", Job, durable=True)
    second = Subject(f"jobs.{token}.a_b", Job, durable=True)
    assert first.stream == second.stream
    async with await NatsBus.connect(nats_url) as bus:
        await bus.publish(first, Job(n=1))
        info = await bus.client.jetstream().stream_info(first.stream)
        assert info.config.subjects == [first.name]
        assert info.state.messages == 1
        with pytest.raises(BackendError, match="rename one of the subjects"):
            await bus.publish(second, Job(n=2))
