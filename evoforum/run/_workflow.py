"""Scoring a workflow genome on one item: compile, run on the runtime, score the answer in the sandbox.

The workflow's conversation is written to the forum store; its leaf hash is the item's transcript.
Functions of the genome's code run in the sandbox (``SandboxRunner``), and so does the scoring
code (the candidate's answer against the item's tests); nothing of either runs in this process.
A workflow that fails on an item (the model misbehaved, a task failed, it ran out of time)
scores 0 on it: that is the candidate's failure, not the run's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evoforum.errors import BudgetExceeded, RunError, Timeout, UsageError
from evoforum.evolve import ItemResult
from evoforum.evolve.sandbox import Sandbox, SandboxLimits
from evoforum.genome import WorkflowGenome
from evoforum.llm import LLMClient, charged_to
from evoforum.run._llm import Sampling


class SandboxRunner:
    """The genome ``CodeRunner`` that calls functions of a genome's code in the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def run(self, code: str, function: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """Called on a worker thread (``compile`` runs function agents and guards there)."""
        result = self.sandbox.run_sync(code, function, args=list(args), kwargs=dict(kwargs))
        return result.raise_for_failure()


class WorkflowScorer:
    """The per-item logic of a workflow experiment, on the forum, model and sandbox it is given.

    ``score`` is the item function; it runs on the event loop of whoever holds the services: the
    driver (``Plan`` wires ``WorkflowScorer(...).score``) or a Ray worker (``evoforum.run._remote``). Compiled genomes are
    kept per scorer.
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
        cost_objective: bool = False,
        on_budget: Callable[[], None] = lambda: None,
    ) -> None:
        self.experiment = experiment
        self.llm = llm
        self.forum = forum
        self.sandbox = sandbox
        self.model = model
        self.timeout_s = timeout_s
        self.cost_objective = cost_objective
        self.on_budget = on_budget
        self.runner = SandboxRunner(sandbox)
        self.compiled: dict[str, Any] = {}

    async def score(self, genome: WorkflowGenome, item: str, seed: int) -> ItemResult:
        from evoforum.flow import Runtime
        from evoforum.genome.runnable import compile

        key = str(genome.hash)
        if key not in self.compiled:
            try:
                self.compiled[key] = compile(genome, runner=self.runner)
            except UsageError as error:  # an invalid genome fails as a candidate, not as the run
                return ItemResult((), error=f"{type(error).__name__}: {error}"[:2000])
        llm = self.llm
        client = Sampling(llm, seed=seed, model=self.model) if llm is not None else None
        written = _Written(self.forum)
        runtime = Runtime(forum=written, llm=client)
        transcripts: tuple[str, ...] = ()
        info: dict[str, Any] = {}
        try:
            with charged_to(candidate=key):
                async with asyncio.timeout(self.timeout_s):
                    result = await runtime.run(self.compiled[key], self.experiment.inputs(item))
            transcripts = (str(result.transcript),) if result.transcript else ()
            source, entry = self.experiment.score(item, result.output)
            verdict = await self.sandbox.run(source, entry, limits=_SCORING)
            score = float(verdict.value) if verdict.ok and isinstance(verdict.value, int | float) else 0.0
            info["scoring"] = verdict.reason
        except (RunError, TimeoutError) as error:
            spent = _budget_error(error)
            if spent is not None:  # not the candidate's failure: no score at all, and the run stops
                self.on_budget()
                await runtime.aclose()
                return ItemResult((), error=f"BudgetExceeded: {spent}")
            score = 0.0
            info["failed"] = f"{type(error).__name__}: {error}"[:500]
            transcripts = (await _failure_transcript(self.forum, error, key, item, written.last),)
        finally:
            await runtime.aclose()
        tokens = client.tokens if client is not None else 0
        info["tokens"] = tokens
        values = (score, float(tokens)) if self.cost_objective else (score,)
        return ItemResult(values, transcripts=transcripts, info=info)


_SCORING = SandboxLimits(cpu_s=5, wall_s=10.0, memory_mb=512)


def _budget_error(error: BaseException) -> BudgetExceeded | None:
    """The ``BudgetExceeded`` behind ``error`` (a task failure names its cause), if any."""
    seen = 0
    current: object = error
    while current is not None and seen < 8:
        if isinstance(current, BudgetExceeded):
            return current
        details = getattr(current, "details", {})
        current = details.get("cause") if isinstance(details, dict) else None
        seen += 1
    return None


class _Written:
    """A forum that remembers the last message a run posted (where a failed run's branch ends)."""

    def __init__(self, forum: Any) -> None:
        self._forum = forum
        self.last: str | None = None

    async def post(self, message: Any) -> Any:
        posted = await self._forum.post(message)
        self.last = str(posted)
        return posted

    async def post_many(self, messages: Any) -> Any:
        posted = await self._forum.post_many(messages)
        if posted:
            self.last = str(posted[-1])
        return posted

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
