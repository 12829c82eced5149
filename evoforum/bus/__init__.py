"""Schematized dialogue between agents: subjects carry one pydantic schema each.

``MemoryBus`` runs in one process; ``NatsBus`` runs on NATS, with JetStream for durable
subjects. Both follow the ``Bus`` protocol and pass the same contract tests::

    reviews = Subject("review.requests", ReviewRequest, reply=Review)
    async with await NatsBus.connect(url) as bus:
        await bus.subscribe(reviews, review)
        verdict = (await bus.request(reviews, ReviewRequest(code=...), timeout=2.0)).data
"""

from typing import TYPE_CHECKING

from evoforum.bus._memory import MemoryBus
from evoforum.bus._nats import NatsBus
from evoforum.bus._protocol import (
    Bus,
    DeadLetter,
    DeadLetters,
    ForumHook,
    ForumLike,
    Handler,
    MessageFactory,
    Subscription,
)
from evoforum.bus._subject import HASH_HEADER, Envelope, Subject

__all__ = [
    "HASH_HEADER",
    "Bus",
    "DeadLetter",
    "DeadLetters",
    "Envelope",
    "ForumHook",
    "ForumLike",
    "Handler",
    "MemoryBus",
    "MessageFactory",
    "NatsBus",
    "Subject",
    "Subscription",
]

if TYPE_CHECKING:  # the backends follow the protocol (checked by mypy, never run)

    def _conforms(memory: MemoryBus, nats: NatsBus) -> tuple[Bus, Bus]:
        return memory, nats
