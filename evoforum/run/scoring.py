"""Scoring a workflow genome on one item, on the driver or on a Ray worker.

``WorkflowScorer.score`` compiles the genome, runs it on the runtime and scores the answer in the
sandbox. The workflow's conversation is written to the forum store; its leaf hash is the item's
transcript. A failed item carries a short excerpt for the LLM operators in ``info`` (the problem,
the failed assertion or error, the code produced: ``item_excerpt`` below). Functions of the genome's code run in the sandbox (``Sandbox`` is the genome's code
runner), and so does the scoring code (the candidate's answer against the item's tests); nothing
of either runs in this process. A workflow that fails on an item (the model misbehaved, a task
failed, it ran out of time) scores 0 on it: that is the candidate's failure, not the run's.

Before the first item of a genome that recalls solved train items, the scorer stores the
experiment's (``recall_items``) in the memory's ``solved`` collection (``WorkflowScorer.stock``).

Each item runs on a fresh ``Runtime`` (``WorkflowScorer.runtime``) whose providers hand the
workflow the run's bus, memory, forum and model (``Depends(providers.bus)`` and so on): NATS, NATS KV
and pgvector in the run's namespace, PostgreSQL, and the model client under the item's
``Sampling``; a scorer given none of the first two (a unit test) makes an in-process bus and memory
of its own. Compiled LLM agents post their prompts and answers to that forum; the failure transcript
of an item hangs below the last message the workflow's flow wrote, never below an agent's.

On Ray workers the same scorer runs through ``evoforum.run.remote.RemoteItems``.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from evoforum.errors import (
    BudgetExceeded,
    ConfigError,
    LLMUnavailable,
    RunError,
    ServiceUnavailable,
    Timeout,
    UsageError,
)
from evoforum.evolve.evaluate import ItemResult
from evoforum.evolve.operators.feedback import EXCERPT, EXCERPT_CHARS, FAILURE
from evoforum.genome import WorkflowGenome
from evoforum.llm import LLMClient
from evoforum.llm.accounting import charged_to
from evoforum.run.llm import Sampling
from evoforum.sandbox import Sandbox, SandboxLimits
from evoforum.sandbox.sandbox import CANDIDATE_FILE

MEASURED: dict[str, str] = {"cost": "tokens", "latency": "latency_s"}
"""The objectives after quality (``algorithm.objectives``) and what measures each: the item's
``info`` key, also the objective's name in lineage, MLflow and ``summary.json``. ``tokens``: the
model tokens the item's workflow used (calls and embeddings); ``latency_s``: the wall seconds of
its run (up to the failure or the time limit when it failed). Both are minimised."""


E = TypeVar("E", bound=BaseException)


class WorkflowScorer:
    """The per-item logic of a workflow experiment, on the forum, model and sandbox it is given.

    ``score`` is the item function; it runs on the event loop of whoever holds the services: the
    driver (the ``Plan`` holds its scorer) or a Ray worker (``RemoteItems``). Compiled genomes are
    kept per scorer. ``on_budget`` is told when a model call did not fit the run's LLM budget.
    ``objectives`` are the objectives after quality (keys of ``MEASURED``): an item's values are
    its score, then each of them in that order.
    """

    def __init__(
        self,
        experiment: Any,
        *,
        llm: LLMClient | None,
        forum: Any,
        sandbox: Sandbox,
        model: str | None,
        timeout_s: float,
        objectives: Sequence[str] = (),
        on_budget: Callable[[], None] = lambda: None,
        bus: Any = None,
        memory: Any = None,
    ) -> None:
        unknown = [o for o in objectives if o not in MEASURED]
        if unknown:
            raise ConfigError(f"objective {unknown[0]!r} is not measured (these are: {', '.join(MEASURED)})")
        self.experiment = experiment
        self.llm = llm
        self.forum = forum
        self.sandbox = sandbox
        self.model = model
        self.timeout_s = timeout_s
        self.objectives = tuple(objectives)
        self.on_budget = on_budget
        self.bus = bus if bus is not None else _in_process_bus(forum)
        self.memory = memory if memory is not None else _in_process_memory()
        self.compiled: dict[str, Any] = {}
        self._stocked: asyncio.Task[None] | None = None

    async def stock(self) -> None:
        """Store the experiment's solved train items (``recall_items``) in the memory's ``solved``
        collection, once per scorer (the ids are the items' hashes: a second scorer of the run, a
        Ray worker's or a resumed run's, replaces the same rows); embedded by the run's model."""
        done = self._stocked is not None and self._stocked.done()
        if self._stocked is None or (done and (self._stocked.cancelled() or self._stocked.exception())):
            self._stocked = asyncio.ensure_future(self._stock())  # again after a failure
        await asyncio.shield(self._stocked)

    async def _stock(self) -> None:
        from evoforum.genome.agents import SOLVED
        from evoforum.genome.memory_tasks import store_items

        items = [{"problem": p, "solution": s} for p, s in self.experiment.recall_items()]
        if items and self.llm is not None:
            await store_items(self.memory, self.llm, SOLVED, items, "problem")

    def runtime(self, seed: int, item: str) -> tuple[Any, _Written, Sampling | None]:
        """The ``Runtime`` one item runs on (bus, memory, forum, model), the forum it writes
        through, and the model client under the item's sampling (None: no model)."""
        from evoforum.flow import Runtime

        llm = self.llm
        client = Sampling(llm, seed=seed, item=item, model=self.model) if llm is not None else None
        written = _Written(self.forum)
        runtime = Runtime(forum=written, llm=client, bus=self.bus, memory=self.memory)
        return runtime, written, client

    async def score(self, genome: WorkflowGenome, item: str, seed: int) -> ItemResult:
        from evoforum.genome.runnable import to_workflow

        key = str(genome.hash)
        if key not in self.compiled:
            try:
                self.compiled[key] = to_workflow(genome, runner=self.sandbox)
            except UsageError as error:  # an invalid genome fails as a candidate, not as the run
                failed = f"{type(error).__name__}: {error}"[:2000]
                return ItemResult((), error=failed, info=item_excerpt(item, workflow_failure(error, 0), None))
        runtime, written, client = self.runtime(seed, item)
        transcripts: tuple[str, ...] = ()
        info: dict[str, Any] = {}
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            try:
                if _recalls_solved(genome):
                    await self.stock()
                    started = loop.time()  # the run's latency, not the store's
                with charged_to(candidate=key):
                    async with asyncio.timeout(self.timeout_s):
                        result = await runtime.run(self.compiled[key], self.experiment.inputs(item))
            finally:
                info["latency_s"] = loop.time() - started
            transcripts = (str(result.transcript),) if result.transcript else ()
            source, entry = self.experiment.score(item, result.output)
            verdict = await self.sandbox.call(source, entry, limits=_SCORING)
            score = float(verdict.value) if verdict.ok and isinstance(verdict.value, int | float) else 0.0
            info["scoring"] = verdict.reason
            info.update(item_excerpt(item, scoring_failure(verdict), result.output))
        except (RunError, TimeoutError) as error:
            down = _cause(error, LLMUnavailable)
            if down is not None and down.details.get("status") is None and down.details.get("retryable"):
                await runtime.aclose()  # the server is gone, not the candidate wrong: stop the run
                raise ServiceUnavailable(
                    f"{down}; start it again (evoforum services up), then continue the run with"
                    " evoforum resume: the generation it was in runs again"
                ) from None
            spent = _cause(error, BudgetExceeded)
            if spent is not None:  # not the candidate's failure: no score at all, and the run stops
                self.on_budget()
                await runtime.aclose()
                return ItemResult((), error=f"BudgetExceeded: {spent}")
            score = 0.0
            info["failed"] = f"{type(error).__name__}: {error}"[:500]
            info.update(item_excerpt(item, workflow_failure(error, self.timeout_s), None))
            transcripts = (await _failure_transcript(self.forum, error, key, item, written.last),)
        finally:
            await runtime.aclose()
        info["tokens"] = client.tokens if client is not None else 0
        values = (score, *(float(info[MEASURED[o]]) for o in self.objectives))
        return ItemResult(values, transcripts=transcripts, info=info)


_SCORING = SandboxLimits(cpu_s=5, wall_s=10.0, memory_mb=512)


def _cause(error: BaseException, kind: type[E]) -> E | None:
    """The ``kind`` error behind ``error`` (a task failure names its cause), if any."""
    seen = 0
    current: object = error
    while current is not None and seen < 8:
        if isinstance(current, kind):
            return current
        details = getattr(current, "details", {})
        current = details.get("cause") if isinstance(details, dict) else None
        seen += 1
    return None


def _recalls_solved(genome: WorkflowGenome) -> bool:
    """Whether a task of ``genome`` may recall the experiment's solved train items."""
    from evoforum.genome.agents import SOLVED, RecallSpec

    return any(isinstance(agent, RecallSpec) and agent.collection == SOLVED for agent in genome.agents)


def _in_process_bus(forum: Any) -> Any:
    from evoforum.bus import ForumHook, MemoryBus

    return MemoryBus(forum=ForumHook.into(forum)) if forum is not None else MemoryBus()


def _in_process_memory() -> Any:
    from evoforum.memory import Memory

    return Memory.in_process()


class _Written:
    """A forum that remembers the last message a run's flow posted (where a failed run's branch
    ends): messages of its LLM agents' calls (a branch rooted at an ``ASKED`` prompt) do not count,
    their order depends on timing."""

    def __init__(self, forum: Any) -> None:
        self._forum = forum
        self.last: str | None = None
        self._asked: set[str] = set()

    async def post(self, message: Any) -> Any:
        posted = await self._forum.post(message)
        self._note((message,))
        return posted

    async def post_many(self, messages: Any) -> Any:
        posted = await self._forum.post_many(messages)
        self._note(messages)
        return posted

    def _note(self, messages: Sequence[Any]) -> None:
        from evoforum.genome.runnable import ASKED

        for message in messages:
            if message.parent in self._asked or (
                message.parent is None and message.metadata.get("event") == ASKED
            ):
                self._asked.add(message.hash)
            else:
                self.last = str(message.hash)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._forum, name)


async def _failure_transcript(
    forum: Any, error: BaseException, genome_hash: str, item: str, leaf: str | None
) -> str:
    """The transcript of a failed run: an error message saying what failed, posted below the last
    message the run wrote (so ``show`` prints the conversation up to the failure)."""
    from evoforum.forum import Message

    if isinstance(error, TimeoutError):
        error = Timeout(f"the workflow ran past its time limit on item {item!r}")
    content = Message.error(error, "evoforum.run", None).content
    meta = {"genome_hash": genome_hash, "item": item}
    message = Message(content, "evoforum.run", leaf, kind="error", metadata=meta)
    return str(await forum.post(message))


# -- excerpts of failed items, for the LLM operators (ItemResult.info) --------------------------

CODE_CHARS = 900
FAILED_CHARS = 300


def scoring_failure(verdict: Any) -> dict[str, str]:
    """The excerpt fields of a scoring verdict that did not pass (none when it passed)."""
    if verdict.ok:
        return {}
    if verdict.reason in ("timeout", "cpu"):
        return {
            FAILURE: "timeout",
            "failed": f"the tests ran out of time ({verdict.error or verdict.reason})",
        }
    error = (verdict.error or verdict.reason).strip().rstrip(":")
    kind = "wrong" if error.startswith("AssertionError") else "error"
    example, innermost = _candidate_lines(verdict.traceback or "")
    at = f" (at: {innermost})" if kind == "error" and innermost and innermost != example else ""
    return {FAILURE: kind, "failed": "\n".join(filter(None, [example, error + at]))}


def workflow_failure(error: BaseException, timeout_s: float) -> dict[str, str]:
    """The excerpt fields of a workflow that failed before it answered (or ran out of time)."""
    if isinstance(error, TimeoutError | Timeout):
        return {FAILURE: "timeout", "failed": f"the workflow ran past its time limit ({timeout_s:g} s)"}
    return {FAILURE: "error", "failed": f"{type(error).__name__}: {error}"}


def _candidate_lines(traceback: str) -> tuple[str, str]:
    """The source lines, in the candidate's file, of the failed assertion (the test example that
    failed) and of the innermost frame (where an exception was raised); empty when missing."""
    lines = traceback.splitlines()
    found = [
        lines[index + 1].strip()
        for index, line in enumerate(lines[:-1])
        if line.strip().startswith("File ") and CANDIDATE_FILE in line
    ]
    asserts = [line for line in found if line.startswith("assert")]
    return (asserts[-1] if asserts else ""), (found[-1] if found else "")


def item_excerpt(item: str, failure: dict[str, str], code: Any) -> dict[str, str]:
    """``ItemResult.info`` entries for a failed item: its ``FAILURE`` kind and the ``EXCERPT``."""
    if not failure:
        return {}
    text = code if isinstance(code, str) else ("" if code is None else str(code))
    parts = [f"problem {item}", f"failed: {failure['failed'][:FAILED_CHARS]}"]
    if text.strip():
        shown = text.strip()
        if len(shown) > CODE_CHARS:
            shown = shown[:CODE_CHARS] + "\n# … (cut)"
        parts.append("code produced:\n" + textwrap.indent(shown, "    ", lambda line: True))
    return {FAILURE: failure[FAILURE], EXCERPT: "\n".join(parts)[:EXCERPT_CHARS]}
