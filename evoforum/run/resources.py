"""The resources of a run: embedded services, the forum store and the language-model client.

Opened in an ``AsyncExitStack`` and closed in reverse order; services this run started are
stopped at the end, services it found running are left alone. What is needed depends on the
experiment (``Design.needs_store``, ``Design.needs_llm``): workflow experiments need the forum
store (PostgreSQL: transcripts and recorded LLM answers); experiments whose workflows or operators
ask a model need the model. A replay (``llm.mode: replay``) needs no model server: it is neither
started nor asked, the record answers every call. (Only the model's name must be known: the
config's ``llm.model``, else the local model's; an external server named without a model is
asked for its model list.)

The LLM operators use the workers' client, or with ``operators.llm`` a client of their own on the
same ledger, record and budget. With ``evaluation.backend: ray`` or an operator model of its own,
and an LLM budget, the run's calls reserve in one ``RunBudget`` (``evoforum.run.llm``) that every
client shares (the Ray workers too), instead of each client enforcing the budget over its own
calls. ``show_conversation`` opens the forum store of a finished run again.

A run with a forum store also starts (or finds) NATS: its candidates share the run's bus and
memory (``Resources.workspace``, ``evoforum.run.workspace``), opened here and handed to the
scorer, whose runtimes provide them (``Depends(providers.bus)``, ``Depends(providers.memory)``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from evoforum.config import ExperimentConfig
from evoforum.errors import ConfigError, ServiceUnavailable, UnknownMessage, UsageError
from evoforum.llm import Budget, Ledger, LLMClient
from evoforum.llm.accounting import meter_below
from evoforum.llm.config import LLMConfig
from evoforum.run.folder import RunFolder
from evoforum.run.llm import Cached, RunBudget, llm_settings, model_client, operator_settings
from evoforum.run.workspace import Workspace, run_namespace

CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Resources:
    """What a run opened: the forum (and its store), the workers' model client and model name,
    the LLM operators' (the workers' unless ``operators.llm`` names their own), the clients'
    record layers (``cached``, in ``record`` mode), the ledger of every model call, the services'
    URLs."""

    forum: Any = None
    store: Any = None
    llm: LLMClient | None = None
    model: str | None = None
    operator_llm: LLMClient | None = None
    operator_model: str | None = None
    cached: tuple[Cached, ...] = ()
    ledger: Ledger = field(default_factory=Ledger)
    urls: dict[str, str | None] = field(default_factory=dict)
    budget: RunBudget | None = None
    """The budget the run's clients share (with an LLM budget, on Ray or with an operator model)."""
    llm_slots: int | None = None
    """How many requests the model server decodes at once (None: it does not say)."""
    workspace: Workspace | None = None
    """Where the candidates' bus and memory live (None: the run has no services)."""
    bus: Any = None
    """The bus every candidate's runtime provides (a ``NatsBus`` in a run with services)."""
    memory: Any = None
    """The memory every candidate's runtime provides (``evoforum.memory.Memory``)."""

    @property
    def postgres_url(self) -> str | None:
        return self.urls.get("postgres")

    @property
    def cache_hits(self) -> int:
        """Calls served from the record instead of a model, so far."""
        return sum(layer.hits for layer in self.cached)

    async def lift_budget(self) -> None:
        """No LLM limit from now on: the budget bounds the search, and the test split (the winner
        and the baselines) is scored after it, whatever it left. What the calls spend is still
        counted."""
        for client in (self.llm, self.operator_llm):
            metered = meter_below(client) if client is not None else None
            if metered is not None:
                metered.budget = Budget()
        if self.budget is not None:
            await self.budget.lift()


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


def forum_at(url: str) -> Callable[[], AbstractAsyncContextManager[Any]]:
    """Opens a ``Forum`` on its own connection to the store at ``url`` (for a thread with its own
    event loop, such as the MLflow tracker's, which reads conversations to log them as traces)."""

    @asynccontextmanager
    async def opened() -> AsyncIterator[Any]:
        from evoforum.forum import Forum

        store = await open_store(url)
        try:
            yield Forum(store)
        finally:
            await store.close()

    return opened


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
    from evoforum.services import LocalServices, ServiceURLs

    if not (need_store or need_llm):
        return Resources()
    own = operator_settings(config, spent) if need_llm else None  # a missing key fails first
    wanted = {"postgres": need_store, "nats": need_store, "llm": need_llm and config.llm.mode != "replay"}
    only = [name for name, needed in wanted.items() if needed]
    services = LocalServices(
        config.runtime.state_dir or state_dir,
        nats=config.runtime.nats_url,
        postgres=config.runtime.postgres_url,
        llm=config.llm.url,
        llm_model=config.llm.model,
    )
    stack.push_async_callback(services.aclose)
    urls = await services.start(only) if only else ServiceURLs()
    run = folder.read_json(folder.RUN, {}) or {}
    external = config.runtime.postgres_url or os.environ.get("EVOFORUM_POSTGRES_URL")
    run.update({"state_dir": str(services.state_dir.resolve()), "postgres_external": external})
    folder.write_json(folder.RUN, run)
    store: Any = None
    forum: Any = None
    workspace: Workspace | None = None
    bus: Any = None
    memory: Any = None
    if need_store:
        assert urls.postgres is not None
        from evoforum.forum import Forum

        store = await open_store(urls.postgres)
        stack.push_async_callback(store.close)
        forum = Forum(store)
        workspace = Workspace(
            run_namespace(folder.path), urls.nats, urls.postgres, config.runtime.vector_store
        )
        bus, memory = await workspace.open(stack, forum)
    ledger = Ledger()
    found = {"postgres": urls.postgres, "nats": urls.nats, "llm": urls.llm}
    shared = {"workspace": workspace, "bus": bus, "memory": memory}
    if not need_llm:
        return Resources(forum=forum, store=store, ledger=ledger, urls=found, **shared)
    model = config.llm.model or urls.llm_model
    budget = _shared_budget(stack, config, spent)
    opening = partial(
        _open_model, stack, seed=config.seed, ledger=ledger, store=store, url=urls.llm, pool=budget
    )
    llm, cached = opening(llm_settings(config, spent), model=model, slots=urls.llm_slots)
    operator_llm, operator_model = llm, model
    operator_cached: tuple[Cached, ...] = ()
    section = config.operators.llm
    if own is not None and section is not None:
        slots = urls.llm_slots if section.url is None else None  # on the workers' server: its slots
        operator_llm, operator_cached = opening(own, model=section.model, slots=slots)
        operator_model = section.model
    return Resources(
        forum=forum,
        store=store,
        llm=llm,
        model=model,
        operator_llm=operator_llm,
        operator_model=operator_model,
        cached=cached + operator_cached,
        ledger=ledger,
        urls=found,
        budget=budget,
        llm_slots=urls.llm_slots,
        **shared,
    )


def _open_model(
    stack: AsyncExitStack,
    settings: LLMConfig,
    *,
    seed: int,
    ledger: Ledger,
    store: Any,
    url: str | None,
    model: str | None,
    pool: RunBudget | None,
    slots: int | None,
) -> tuple[LLMClient, tuple[Cached, ...]]:
    """A model client of the run (closed with ``stack``) and its record layer, if any."""
    client, cached = model_client(
        settings, seed=seed, ledger=ledger, store=store, url=url, model=model, pool=pool, slots=slots
    )
    stack.push_async_callback(client.aclose)
    return (client, ()) if cached is None else (cached, (cached,))


def _shared_budget(
    stack: AsyncExitStack, config: ExperimentConfig, spent: tuple[int, float]
) -> RunBudget | None:
    """The run's ``RunBudget`` when more than one client spends its LLM budget: the Ray workers'
    or the operators' own model (closed with ``stack``)."""
    if config.evaluation.backend != "ray" and config.operators.llm is None:
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
