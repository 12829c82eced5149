"""The language-model layer: one small protocol, one real client, wrappers that compose.

::

    client = Recording(
        Retrying(Metered(Limited(OpenAICompatible(url, model), 8), ledger), rng=random.Random(seed)),
        store,
        mode="record",
    )
    completion = await client.complete(chat_request(model, "Write a function ..."))
    promise = chat(client, request, forum=forum)   # tokens stream; the exchange is a branch

``build_client(LLMConfig.from_env(), ledger=..., rng=...)`` builds that stack from a config.
The seeded stub model for tests and benchmarks lives in ``evoforum.llm.stub``.
"""

from evoforum.llm.accounting import Ledger, Metered
from evoforum.llm.budget import Budget, BudgetPool
from evoforum.llm.exchange import chat
from evoforum.llm.openai_compat import OpenAICompatible
from evoforum.llm.protocol import LLMClient, TokenSink
from evoforum.llm.recording import Recording
from evoforum.llm.types import ChatMessage, ChatRequest, Completion, Usage, chat_request
from evoforum.llm.wrappers import Limited, Retrying, Timed

__all__ = [
    "Budget",
    "BudgetPool",
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "LLMClient",
    "Ledger",
    "Limited",
    "Metered",
    "OpenAICompatible",
    "Recording",
    "Retrying",
    "Timed",
    "TokenSink",
    "Usage",
    "chat",
    "chat_request",
]
