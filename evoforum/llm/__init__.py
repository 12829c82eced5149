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

from evoforum.llm.accounting import (
    Charge,
    Entry,
    Ledger,
    Metered,
    Price,
    PriceTable,
    Totals,
    charged_to,
    current_charge,
)
from evoforum.llm.budget import Account, Budget, BudgetPool
from evoforum.llm.config import LLMConfig, build_client, open_client
from evoforum.llm.exchange import chat, request_from_branch
from evoforum.llm.openai_compat import OpenAICompatible
from evoforum.llm.protocol import LLMClient, TokenSink, Wrapper
from evoforum.llm.recording import (
    Mode,
    Recording,
    answer_message,
    completion_of,
    exchange_messages,
    request_messages,
)
from evoforum.llm.structured import generate, parse_as, with_schema
from evoforum.llm.types import ChatMessage, ChatRequest, Completion, Params, Usage, chat_request
from evoforum.llm.wrappers import Limited, Retrying, Timed, is_retryable

__all__ = [
    "Account",
    "Budget",
    "BudgetPool",
    "Charge",
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "Entry",
    "LLMClient",
    "LLMConfig",
    "Ledger",
    "Limited",
    "Metered",
    "Mode",
    "OpenAICompatible",
    "Params",
    "Price",
    "PriceTable",
    "Recording",
    "Retrying",
    "Timed",
    "TokenSink",
    "Totals",
    "Usage",
    "Wrapper",
    "answer_message",
    "build_client",
    "charged_to",
    "chat",
    "chat_request",
    "completion_of",
    "current_charge",
    "exchange_messages",
    "generate",
    "is_retryable",
    "open_client",
    "parse_as",
    "request_from_branch",
    "request_messages",
    "with_schema",
]
