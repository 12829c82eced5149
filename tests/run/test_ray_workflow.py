"""Workflow experiments on Ray Tune workers: same scores as on the driver, transcripts in PostgreSQL,
and the workers' model calls counted by the driver.

Real PostgreSQL and a real Ray instance; the seeded stub model answers (any model does here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

import experiments
import search_spaces
from evoforum.config import ExperimentConfig, load_config
from evoforum.evolve import RayTuneEvaluator
from evoforum.evolve.evaluate import Job
from evoforum.evolve.lineage import read_lineage
from evoforum.forum import Forum, PostgresStore
from evoforum.llm import Ledger, OpenAICompatible
from evoforum.llm.stub import StubServer
from evoforum.run import run_experiment
from evoforum.run.remote import ENTRIES, RemoteItems, Tallied
from evoforum.run.scoring import WorkflowScorer
from evoforum.sandbox import Sandbox, SandboxLimits

pytestmark = pytest.mark.services

QUICKSTART = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    async with StubServer(seed=2) as server:
        yield server


def quickstart(postgres_url: str, llm_url: str, *overrides: str) -> ExperimentConfig:
    return load_config(
        QUICKSTART,
        [
            # a model name of its own: answers other tests recorded in the shared store do not count
            f"runtime.postgres_url={postgres_url}", f"llm.url={llm_url}", "llm.model=stub-ray",
            "evaluation.backend=ray", "evaluation.concurrency=2", *overrides,
        ],
    )  # fmt: skip


async def test_a_quickstart_run_on_ray_scores_and_keeps_its_transcripts(
    ray_session: None, postgres_url: str, stub: StubServer, store: PostgresStore, tmp_path: Path
) -> None:
    sizes = ["algorithm.population=2", "algorithm.offspring=2", "algorithm.generations=1"]
    config = quickstart(postgres_url, stub.url, *sizes)
    out = tmp_path / "run"
    summary = await run_experiment(config, out, state_dir=str(tmp_path / "state"))
    assert summary["evaluations"] > 0
    assert summary["best"]["valid_score"] is not None
    assert summary["llm_calls"] > 0
    records = read_lineage(out / "lineage.jsonl")
    transcripts = [t for record in records for t in record.transcripts]
    assert transcripts
    forum = Forum(store)
    for transcript in transcripts[:4]:  # written by the workers, read back from PostgreSQL
        assert await forum.branch(transcript)


async def test_an_item_scores_the_same_on_a_worker_as_on_the_driver(
    ray_session: None, postgres_url: str, stub: StubServer, store: PostgresStore
) -> None:
    config = quickstart(postgres_url, stub.url, "llm.mode=live")
    experiment = experiments.get(config.experiment.name, config.experiment.options, config.seed)
    space = search_spaces.get("code_writing")
    rng = np.random.default_rng(0)
    genomes = [space.random_genome(rng) for _ in range(2)]
    jobs = [Job(genome, "quick/largest", 0) for genome in genomes]
    client = OpenAICompatible(stub.url, "stub")
    try:
        local_fn = WorkflowScorer(
            experiment, llm=client, forum=Forum(store), sandbox=Sandbox(), model="stub", timeout_s=60
        ).score
        local = [await local_fn(job.genome, job.item, job.seed) for job in jobs]
    finally:
        await client.aclose()
    remote = RemoteItems(
        config=config, postgres_url=postgres_url, llm_url=stub.url, model="stub",
        sandbox=SandboxLimits(), timeout_s=60,
    )  # fmt: skip
    ledger = Ledger()
    evaluator = Tallied(RayTuneEvaluator(remote.score, workers=1), ledger, lambda: None)
    try:
        on_ray = await evaluator.evaluate(jobs)
    finally:
        await evaluator.aclose()
    assert [r.values for r in on_ray] == [r.values for r in local]
    assert [r.info["tokens"] for r in on_ray] == [r.info["tokens"] for r in local]
    assert all(ENTRIES not in r.info for r in on_ray)  # moved into the driver's ledger
    assert ledger.total().tokens == sum(r.info["tokens"] for r in on_ray) > 0
    forum = Forum(store)
    for result in on_ray:
        assert await forum.branch(result.transcripts[0])
