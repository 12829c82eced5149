"""The resources of a run: embedded services, the forum store and the language-model client.

Opened in an ``AsyncExitStack`` and closed in reverse order; services this run started are
stopped at the end, services it found running are left alone. What is needed depends on the
experiment (``Design.needs_store``, ``Design.needs_llm``): workflow experiments need the forum
store (PostgreSQL: transcripts and recorded LLM answers); experiments whose workflows or operators
ask a model need the model.

With ``evaluation.backend: ray`` and an LLM budget, the run's calls reserve in one ``RunBudget``
(``evoforum.run.llm``) that the Ray workers share, instead of each process enforcing the budget
over its own calls. ``show_conversation`` opens the forum store of a finished run again.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from evoforum.config import ExperimentConfig
from evoforum.errors import ConfigError, ServiceUnavailable, UnknownMessage, UsageError
from evoforum.llm import Ledger, LLMClient
from evoforum.run.folder import RunFolder
from evoforum.run.llm import Cached, RunBudget, llm_settings, model_client

CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Resources:
    """What a run opened: the forum (and its store), the model client (``cached``: its record
    layer, in ``record`` mode), the ledger of every model call, the services' URLs."""

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

    @property
    def postgres_url(self) -> str | None:
        return self.urls.get("postgres")


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
    folder: RunFolder,
    *,
    need_store: bool,
    need_llm: bool,
    state_dir: str | None,
    spent: tuple[int, float] = (0, 0.0),
) -> Resources:
    """Start what the run needs and register its shutdown on ``stack``; ``spent`` (tokens, dollars)
    is what earlier sessions of the run used of its budget."""
    from evoforum.services import LocalServices

    only = [name for name, needed in (("postgres", need_store), ("llm", need_llm)) if needed]
    if not only:
        return Resources()
    services = LocalServices(
        config.runtime.state_dir or state_dir, postgres=config.runtime.postgres_url, llm=config.llm.url
    )
    stack.push_async_callback(services.aclose)
    urls = await services.start(only)
    run = folder.read_json(folder.RUN, {}) or {}
    external = config.runtime.postgres_url or os.environ.get("EVOFORUM_POSTGRES_URL")
    run.update({"state_dir": str(services.state_dir.resolve()), "postgres_external": external})
    folder.write_json(folder.RUN, run)
    store = forum = None
    if need_store:
        assert urls.postgres is not None
        from evoforum.forum import Forum

        store = await open_store(urls.postgres)
        stack.push_async_callback(store.close)
        forum = Forum(store)
    ledger = Ledger()
    llm: LLMClient | None = None
    cached = model = budget = None
    slots = None
    if need_llm:
        model = config.llm.model or urls.llm_model
        slots = urls.llm_slots
        budget = _shared_budget(stack, config, spent)
        client, cached = model_client(
            config,
            ledger=ledger,
            store=store,
            url=urls.llm,
            model=model,
            spent=spent,
            pool=budget,
            slots=slots,
        )
        stack.push_async_callback(client.aclose)
        llm = cached or client
    return Resources(
        forum=forum,
        store=store,
        llm=llm,
        cached=cached,
        ledger=ledger,
        model=model,
        urls={"postgres": urls.postgres, "llm": urls.llm},
        budget=budget,
        llm_slots=slots,
    )


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


async def show_conversation(prefix: str, out: Path | None, state_dir: str | None) -> str:
    """The conversation (root to leaf) a message hash or unique prefix names, as text; ``out``
    names the run folder whose forum store to read (else the local services' one)."""
    from evoforum.forum import Forum
    from evoforum.services import local_services

    prefix = check_hash(prefix)
    external = os.environ.get("EVOFORUM_POSTGRES_URL")
    if out is not None:
        folder = RunFolder(out)
        run = folder.read_json(folder.RUN)
        if run is None:
            folder.read_config()
            raise ConfigError(f"{out}: this run kept no conversations (no forum store)")
        external = external or run.get("postgres_external")
        state_dir = run.get("state_dir") or state_dir
    async with local_services(state_dir, only=["postgres"], postgres=external) as urls:
        assert urls.postgres is not None
        store = await open_store(urls.postgres)
        try:
            forum = Forum(store)
            try:
                branch = await forum.branch(await forum.resolve(prefix))
            except UnknownMessage as error:
                raise UsageError(f"show {prefix}: {error}") from None
        finally:
            await store.close()
    lines = []
    for index, message in enumerate(branch):
        header = f"[{index}] {message.sender} ({message.kind}) {message.hash[:16]}"
        content = (
            message.content
            if isinstance(message.content, str)
            else orjson.dumps(message.content, option=orjson.OPT_INDENT_2).decode()
        )
        lines.append(f"{header}\n{content.rstrip()}\n")
    return "\n".join(lines)


def check_hash(text: str) -> str:
    """``text`` as a hash prefix (lower-case hex, at least 4 digits); ``UsageError`` otherwise."""
    prefix = text.strip().lower()
    if not prefix or any(c not in "0123456789abcdef" for c in prefix):
        raise UsageError(f"{text!r} is not a message hash (hex digits; a unique prefix is enough)")
    if len(prefix) < 4:
        raise UsageError(f"hash prefix {text!r} is too short: give at least 4 hex digits")
    return prefix
