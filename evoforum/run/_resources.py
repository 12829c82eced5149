"""The resources of a run: embedded services, the forum store and the language-model client.

Opened in an ``AsyncExitStack`` and closed in reverse order; services this run started are
stopped at the end, services it found running are left alone. What is needed depends on the
experiment: workflow experiments need the forum store (PostgreSQL: transcripts and recorded LLM
answers); experiments whose workflows or operators ask a model need the model.

With ``evaluation.backend: ray`` and an LLM budget, the run's calls reserve in one ``RunBudget``
(``evoforum.run._budget``) that the Ray workers share, instead of each process enforcing the
budget over its own calls.
"""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evoforum.config import ExperimentConfig
from evoforum.errors import ServiceUnavailable
from evoforum.llm import Budget, Ledger, LLMClient, LLMConfig, Price, PriceTable, Recording, build_client
from evoforum.llm.budget import BudgetPool
from evoforum.run._budget import RunBudget
from evoforum.run._files import RUN, read_json, write_json
from evoforum.run._llm import Cached

CONNECT_TIMEOUT_S = 10.0


@dataclass
class Resources:
    forum: Any = None
    store: Any = None
    llm: LLMClient | None = None
    cached: Cached | None = None
    ledger: Ledger = field(default_factory=Ledger)
    model: str | None = None
    urls: dict[str, str | None] = field(default_factory=dict)
    budget: RunBudget | None = None
    """The budget the driver shares with Ray workers (a run on Ray with an LLM budget only)."""
    llm_slots: int | None = None
    """How many requests the model server decodes at once (None: it does not say)."""


async def open_store(url: str) -> Any:
    """The PostgreSQL forum store at ``url``; ``ServiceUnavailable`` within seconds when it does not answer."""
    from evoforum.forum import PostgresStore

    try:
        return await asyncio.wait_for(PostgresStore.connect(url), CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise ServiceUnavailable(
            f"PostgreSQL at {_safe(url)} did not answer within {CONNECT_TIMEOUT_S:g} s"
        ) from None
    except Exception as error:  # BackendError and vendor errors: one clear line
        raise ServiceUnavailable(f"cannot use PostgreSQL at {_safe(url)}: {error}") from None


def _safe(url: str) -> str:
    """``url`` without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':')[0]}@{host}"
    return url


async def open_resources(
    stack: AsyncExitStack,
    config: ExperimentConfig,
    out: Path,
    *,
    need_store: bool,
    need_llm: bool,
    state_dir: str | None,
    spent: tuple[int, float] = (0, 0.0),
) -> Resources:
    """Start what the run needs and register its shutdown on ``stack``."""
    from evoforum.services import LocalServices

    found = Resources()
    only = [name for name, needed in (("postgres", need_store), ("llm", need_llm)) if needed]
    if not only:
        return found
    services = LocalServices(
        config.runtime.state_dir or state_dir, postgres=config.runtime.postgres_url, llm=config.llm.url
    )
    stack.push_async_callback(services.aclose)
    urls = await services.start(only)
    found.urls = {"postgres": urls.postgres, "llm": urls.llm}
    run = read_json(out / RUN, {}) or {}
    import os

    external = config.runtime.postgres_url or os.environ.get("EVOFORUM_POSTGRES_URL")
    run.update({"state_dir": str(services.state_dir.resolve()), "postgres_external": external})
    write_json(out / RUN, run)
    if need_store:
        assert urls.postgres is not None
        from evoforum.forum import Forum

        found.store = await open_store(urls.postgres)
        stack.push_async_callback(found.store.close)
        found.forum = Forum(found.store)
    if need_llm:
        found.model = config.llm.model or urls.llm_model
        found.llm_slots = urls.llm_slots
        found.budget = _shared_budget(stack, config, spent)
        client, found.cached = model_client(
            config, ledger=found.ledger, store=found.store, url=urls.llm, model=found.model, spent=spent,
            pool=found.budget, slots=urls.llm_slots,
        )  # fmt: skip
        stack.push_async_callback(client.aclose)
        found.llm = found.cached or client
    return found


def _shared_budget(
    stack: AsyncExitStack, config: ExperimentConfig, spent: tuple[int, float]
) -> RunBudget | None:
    """The run's ``RunBudget`` when it runs on Ray with an LLM budget (closed with ``stack``)."""
    if config.evaluation.backend != "ray":
        return None
    budget = llm_settings(config, spent).budget
    if not budget.limited:
        return None
    pool = RunBudget(budget)
    stack.push_async_callback(pool.aclose)
    return pool


def model_client(
    config: ExperimentConfig,
    *,
    ledger: Ledger,
    store: Any,
    url: str | None,
    model: str | None,
    spent: tuple[int, float] = (0, 0.0),
    pool: BudgetPool | None = None,
    slots: int | None = None,
) -> tuple[LLMClient, Cached | None]:
    """The model client of a run (the driver's, or a Ray worker's) and, in ``record`` mode, the
    ``Cached`` layer on top of it that serves recorded answers; the first is the one to close.
    With ``pool`` the budget is the pool's, shared with other processes."""
    llm_config = llm_settings(config, spent)
    client = build_client(
        llm_config, ledger=ledger, rng=random.Random(config.seed), store=store, url=url, model=model,
        pool=pool, slots=slots,
    )  # fmt: skip
    if isinstance(client, Recording) and llm_config.mode == "record":
        return client, Cached(client, client)
    return client, None


def llm_settings(config: ExperimentConfig, spent: tuple[int, float] = (0, 0.0)) -> LLMConfig:
    """The LLM layer's config from the experiment config's ``llm`` and ``budget`` sections; the
    budgets are what is left after ``spent`` (tokens, dollars) of earlier sessions of the run."""
    import os

    section = config.llm

    prices = PriceTable(
        models={
            name: Price(input_per_1m=p.prompt, output_per_1m=p.completion)
            for name, p in section.prices.items()
        }
    )
    given: dict[str, Any] = {
        "url": section.url, "model": section.model, "api_key": os.environ.get(section.api_key_env)
    }  # fmt: skip
    given = {key: value for key, value in given.items() if value}
    return LLMConfig.from_env(
        None,
        **given,
        timeout=section.timeout_s,
        attempts=section.retries + 1,
        max_concurrent=section.max_concurrency,
        mode=section.mode,
        prices=prices,
        budget=Budget(
            max_tokens=max(1, config.budget.llm_tokens - spent[0]) if config.budget.llm_tokens else None,
            max_cost=max(1e-9, config.budget.cost_usd - spent[1]) if config.budget.cost_usd else None,
        ),
    )
