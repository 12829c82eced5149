"""``best_of_n`` samples a greedy seed for real: sample 0 is the seed, later ones run it hot, each
with its own sampling seeds."""

from __future__ import annotations

import random

import experiments
import search_spaces
from evoforum.config.model import AlgorithmSection
from evoforum.evolve import Operators
from evoforum.forum import Forum
from evoforum.genome import LLMAgentSpec, WorkflowGenome
from evoforum.genome.runnable import call_seed
from evoforum.llm import ChatRequest, OpenAICompatible
from evoforum.llm.stub import StubServer
from evoforum.run.algorithms import (
    ALGORITHMS,
    SAMPLE_STRIDE,
    BestOfN,
    Origins,
    Sample,
    heated,
    unwrap_samples,
)
from evoforum.run.llm import sampling_seed
from evoforum.run.scoring import WorkflowScorer
from evoforum.sandbox import Sandbox
from tests.run.test_sampling_seeds import Seen

QUICK = experiments.get("quickstart")
SINGLE_CALL = search_spaces.get("code_writing").seeds()[2]  # one greedy model call
ITEM = "quick/largest"


def best_of_n(seed: WorkflowGenome, temperature: float = 0.8) -> BestOfN:
    origins = Origins(random_init=lambda rng: None, seed_genome=lambda: seed, remember=lambda genome: genome)
    operators = Operators(init=lambda rng: None, mutate=lambda genome, rng: genome)
    section = AlgorithmSection(kind="best_of_n", population=2, temperature=temperature)
    algorithm = ALGORITHMS["best_of_n"](section, operators, origins).algorithm
    assert isinstance(algorithm, BestOfN)
    return algorithm


def temperatures(genome: WorkflowGenome) -> list[float]:
    return [agent.temperature for agent in genome.agents if isinstance(agent, LLMAgentSpec)]


async def _sent(samples: list[Sample], run_seed: int) -> list[ChatRequest]:
    """What the model is sent when each sample is scored on ``ITEM`` the way a run scores it."""
    async with StubServer(seed=3) as server:
        client = OpenAICompatible(server.url, "stub")
        seen = Seen(client)
        try:
            scorer = WorkflowScorer(
                QUICK, llm=seen, forum=Forum(), sandbox=Sandbox(), model="stub", timeout_s=60
            )
            score = unwrap_samples(scorer.score)
            for sample in samples:
                await score(sample, ITEM, run_seed)
        finally:
            await client.aclose()
    return seen.requests


async def test_two_samples_of_a_greedy_seed_ask_the_model_at_a_sampling_temperature_and_own_seeds() -> None:
    assert temperatures(SINGLE_CALL) == [0.0]
    init = best_of_n(SINGLE_CALL).sampler()
    first, second = init(random.Random(0)), init(random.Random(0))
    assert first.base == SINGLE_CALL  # sample 0 is the seed itself
    requests = await _sent([first, second], run_seed=5)
    assert [r.params.temperature for r in requests] == [0.0, 0.8]
    assert requests[0].messages == requests[1].messages  # the same prompt, sampled
    site = call_seed(str(SINGLE_CALL.entry.tasks[0].name), 0)  # type: ignore[union-attr]
    assert requests[1].params.seed == sampling_seed(5 + SAMPLE_STRIDE, ITEM, site)
    assert requests[0].params.seed != requests[1].params.seed
    again = await _sent([first, second], run_seed=5)  # a rerun asks the very same requests
    assert [r.hash for r in again] == [r.hash for r in requests]


async def test_later_generations_sample_hot_and_each_sample_is_its_own_candidate() -> None:
    algorithm = best_of_n(SINGLE_CALL, temperature=0.5)
    initial = algorithm.sampler()
    population = [initial(random.Random(0)) for _ in range(algorithm.mu)]
    bred = [algorithm.sample(algorithm.mu + i) for i in range(algorithm.lambda_)]
    assert [temperatures(s.base) for s in population + bred] == [[0.0], [0.5], [0.5], [0.5]]
    assert len({s.hash for s in population + bred}) == 4


def test_heating_keeps_hotter_agents_and_leaves_other_genomes_alone() -> None:
    loop = search_spaces.get("code_writing").seeds()[1]  # writer at 0.0, fresh attempts at 0.7
    assert sorted(temperatures(heated(loop, 0.5))) == [0.5, 0.7]
    assert heated(loop, 0.5).code == loop.code
    assert heated("a simulation's team", 0.8) == "a simulation's team"
