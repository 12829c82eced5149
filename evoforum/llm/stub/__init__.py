"""The seeded stub model: a test and benchmark instrument, never a default.

``StubServer`` speaks the OpenAI HTTP protocol on 127.0.0.1 (``/v1/chat/completions`` with and
without streaming, ``/v1/embeddings``, ``/v1/models``), so the real client path runs against it.
Its answers follow the convention in ``evoforum.llm.stub._answers`` and are deterministic per
(seed, request hash); faults are injected at a configured rate. From the shell::

    python -m evoforum.llm.stub --port 8901 --seed 1 --fault-rate 0.3
"""

from evoforum.llm.stub._answers import FAULT_KINDS
from evoforum.llm.stub._server import StubServer, StubStats

__all__ = ["FAULT_KINDS", "StubServer", "StubStats"]
