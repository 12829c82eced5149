"""``LLMConfig`` and the standard client stack built from it.

Offline by default: with no URL the embedded local model of ``evoforum services`` answers.
Pointing at OpenAI (or any compatible server) is one config block::

    llm:
      url: https://api.openai.com/v1
      model: gpt-4o-mini
      prices: {models: {gpt-4o-mini: {input_per_1m: 0.15, output_per_1m: 0.6}}}

or two environment variables: ``EVOFORUM_LLM_URL`` and ``EVOFORUM_LLM_MODEL`` (the key from
``EVOFORUM_LLM_KEY`` or ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evoforum.errors import ConfigError
from evoforum.llm._openai_io import SchemaMode
from evoforum.llm.accounting import Ledger, Metered, PriceTable
from evoforum.llm.budget import Budget, BudgetPool
from evoforum.llm.openai_compat import OpenAICompatible
from evoforum.llm.protocol import LLMClient
from evoforum.llm.recording import Mode, Offline, Recording, RecordStore
from evoforum.llm.slots import DEFAULT_CONCURRENCY, server_slots
from evoforum.llm.wrappers import Limited, Retrying, Uniform

ENV_URL, ENV_MODEL, ENV_KEY, ENV_MODE = (
    "EVOFORUM_LLM_URL",
    "EVOFORUM_LLM_MODEL",
    "EVOFORUM_LLM_KEY",
    "EVOFORUM_LLM_MODE",
)


class LLMConfig(BaseModel):
    """Where the model is and how calls to it behave."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = None
    """Base URL ending in /v1; None means the embedded local model."""
    model: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    timeout: float = Field(default=120.0, gt=0)
    """Seconds one attempt may take (the local model needs several seconds per answer)."""
    attempts: int = Field(default=4, ge=1)
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=8.0, ge=0)
    max_concurrent: int | None = Field(default=None, ge=1)
    """Calls in flight at once; None: as many as the server has slots (``DEFAULT_CONCURRENCY``
    when it does not say)."""
    max_connections: int = Field(default=128, ge=1)
    schema_mode: SchemaMode = "auto"
    """How output schemas reach the server (json_schema, llama.cpp's json_object, prompt only)."""
    mode: Mode = "live"
    prices: PriceTable = PriceTable()
    budget: Budget = Budget()
    default_max_tokens: int = Field(default=1024, gt=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **fields: Any) -> LLMConfig:
        """``fields`` over what the environment says (``EVOFORUM_LLM_URL``, ``_MODEL``, ``_KEY``, ``_MODE``)."""
        env = os.environ if env is None else env
        found: dict[str, Any] = {}
        if env.get(ENV_URL):
            found["url"] = env[ENV_URL]
        if env.get(ENV_MODEL):
            found["model"] = env[ENV_MODEL]
        key = env.get(ENV_KEY) or env.get("OPENAI_API_KEY")
        if key:
            found["api_key"] = key
        if env.get(ENV_MODE):
            found["mode"] = env[ENV_MODE]
        try:
            return cls(**{**found, **fields})
        except ValueError as error:
            raise ConfigError(f"llm config is invalid: {error}") from None


def build_client(
    config: LLMConfig,
    *,
    ledger: Ledger,
    rng: Uniform,
    store: RecordStore | None = None,
    url: str | None = None,
    model: str | None = None,
    pool: BudgetPool | None = None,
    slots: int | None = None,
) -> LLMClient:
    """The standard stack: ``Recording(Retrying(Metered(Limited(OpenAICompatible))))``.

    ``url``/``model``/``slots`` fill in what the config leaves open (the local model's address
    and how many requests it decodes at once, see ``server_slots``).
    ``Recording`` is left out in ``live`` mode; the other modes need ``store``. In ``replay``
    mode ``Recording`` answers everything from the store, above an ``Offline`` model: no server
    is needed, nor asked. With ``pool`` the calls reserve and settle in that shared budget
    instead of ``config.budget``.
    """
    name = config.model or model or "local"
    if config.mode != "live" and store is None:
        raise ConfigError(f"llm mode {config.mode!r} needs a forum store to record into or replay from")
    if config.mode == "replay" and store is not None:
        metered = Metered(
            Offline(),
            ledger,
            prices=config.prices,
            budget=config.budget,
            default_max_tokens=config.default_max_tokens,
            pool=pool,
        )
        return Recording(metered, store, "replay", model=name)
    base_url = config.url or url
    if base_url is None:
        raise ConfigError(
            f"no model URL: set llm.url or {ENV_URL}, or start the local model (evoforum services up)"
        )
    base = OpenAICompatible(
        base_url,
        name,
        api_key=config.api_key,
        timeout=config.timeout,
        max_connections=config.max_connections,
        schema_mode=config.schema_mode,
    )
    client: LLMClient = Limited(base, config.max_concurrent or slots or DEFAULT_CONCURRENCY)
    client = Metered(
        client,
        ledger,
        prices=config.prices,
        budget=config.budget,
        default_max_tokens=config.default_max_tokens,
        pool=pool,
    )
    client = Retrying(
        client, rng=rng, attempts=config.attempts, base_delay=config.base_delay, max_delay=config.max_delay
    )
    if store is not None and config.mode == "record":
        client = Recording(client, store, "record", model=name)
    return client


@asynccontextmanager
async def open_client(
    config: LLMConfig,
    *,
    ledger: Ledger,
    rng: Uniform,
    store: RecordStore | None = None,
    url: str | None = None,
    model: str | None = None,
    slots: int | None = None,
) -> AsyncIterator[LLMClient]:
    """``build_client`` as an async context manager that closes its connections at the end.
    Unless the config or ``slots`` sets the concurrency, the server is asked for its slots
    (not in ``replay`` mode, which asks the server nothing).

    The layers above (runtime, command line) start the embedded model with
    ``evoforum.services.local_services(only=["llm"])`` and pass its ``url``/``model`` here when
    the config names no URL; this layer never starts services itself.
    """
    base_url = config.url or url
    if config.mode != "replay" and config.max_concurrent is None and slots is None and base_url is not None:
        slots = await server_slots(base_url, api_key=config.api_key)
    client = build_client(config, ledger=ledger, rng=rng, store=store, url=url, model=model, slots=slots)
    try:
        yield client
    finally:
        await client.aclose()
