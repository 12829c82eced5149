"""Bus dialogue lands in a real ``Forum`` as one branch: request, then reply."""

from __future__ import annotations

from pydantic import BaseModel

from evoforum.bus import Envelope, ForumHook, MemoryBus, Subject
from evoforum.forum import Forum, Message


class Question(BaseModel):
    text: str


class Answer(BaseModel):
    text: str


async def test_request_and_reply_become_a_branch_of_the_forum() -> None:
    forum = Forum()
    root = await forum.post(Message("Let us review the patch.", sender="lead"))
    asker = MemoryBus(forum=ForumHook.into(forum, sender="author"))
    subject = Subject("review.question", Question, reply=Answer)
    received: list[str | None] = []

    async def answer(envelope: Envelope[Question]) -> Answer:
        received.append(envelope.transcript)
        return Answer(text=f"yes: {envelope.data.text}")

    # one bus for both sides here; its hook posts the reply as the subject's responder
    await asker.subscribe(subject, answer)
    try:
        reply = await asker.request(subject, Question(text="is it safe?"), transcript=root)
    finally:
        await asker.close()
    assert reply.data == Answer(text="yes: is it safe?")
    assert reply.transcript is not None
    branch = await forum.branch(reply.transcript)
    assert len(branch) == 3
    assert branch[0].hash == root
    assert [m.content for m in branch[1:]] == [{"text": "is it safe?"}, {"text": "yes: is it safe?"}]
    assert [m.kind for m in branch[1:]] == ["data", "data"]
    assert branch[1].hash == received[0]
    assert branch[2].metadata == {"subject": "review.question.reply"}
