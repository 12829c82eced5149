"""A run's transcript in the real PostgreSQL forum store names the same hash as in memory."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel

from evoforum.flow import Runtime, task
from evoforum.forum import Forum, PostgresStore


class Answer(BaseModel):
    text: str
    words: int


@task
def ask(question: str) -> str:
    return question.strip() + "?"


@task
def answer(ask: str) -> Answer:
    return Answer(text=f"because {ask}", words=2)


@pytest.mark.services
async def test_transcript_in_postgres_matches_memory(postgres_url: str) -> None:
    compiled = (ask >> answer).build()
    store = await PostgresStore.connect(postgres_url, schema=f"flow_{uuid.uuid4().hex[:12]}")
    try:
        stored = await compiled.run({"question": " why "}, runtime=Runtime(forum=Forum(store)))
        in_memory = await compiled.run({"question": " why "}, runtime=Runtime())
        assert stored.transcript == in_memory.transcript
        assert stored.transcript is not None
        branch = await Forum(store).branch(stored.transcript)
        assert [m.sender for m in branch] == ["evoforum.flow", "ask", "answer"]
        assert branch[-1].to_model(Answer) == Answer(text="because why?", words=2)
    finally:
        await store.close()
