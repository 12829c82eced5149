"""Variation operators: invalid-offspring rate and cost per improvement, with the stub model.

For each search space (``qa_ensemble``, ``code_writing``) and each operator, ``--trials`` calls
on random parents drawn from seeds plus random genomes. A toy fitness rewards some prompt words,
temperatures near 0.5, small integer constants in the code summing near 7, and shorter code, so
that every kind of operator can move it. Reported per operator: invalid-offspring rate (invalid /
proposed), valid children, improving children, LLM tokens, tokens per unit of fitness improvement
and calls per improving child. Then a bandit-driven hill climb over all operators, and one
co-evolution step of the LMX operator genome. The stub server (seed 1) answers over HTTP.
Prints one JSON object.

    python benchmarks/operators.py [--trials 30] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from typing import Any

import numpy as np
import orjson

import search_spaces
from evoforum.evolve.operators import (
    ALL,
    CoEvolution,
    OperatorCandidate,
    OperatorContext,
    VariationPolicy,
    lmx_genome,
)
from evoforum.genome import LLMAgentSpec, WorkflowGenome
from evoforum.llm import OpenAICompatible
from evoforum.llm.stub import StubServer

WORDS = ("step", "check", "verify", "concise", "edge", "thorough", "reason", "assumptions", "simplest")


def toy_fitness(genome: WorkflowGenome) -> float:
    """Prompt words, temperatures near 0.5, code constants summing near 7, shorter code."""
    agents = [a for a in genome.agents if isinstance(a, LLMAgentSpec)]
    text = " ".join(a.system_prompt + " " + a.prompt for a in agents).lower()
    words = sum(min(2, text.count(w)) for w in WORDS) / 10
    temperature = -sum(abs(a.temperature - 0.5) for a in agents) / max(1, len(agents))
    numbers = [int(n) for n in re.findall(r"(?<![\w.])\d+(?![\w.])", genome.code)]
    constants = -abs(sum(numbers) - 7) / 20
    return round(words + temperature + constants - len(genome.code) / 20000, 6)


def pool(space: str, size: int) -> list[WorkflowGenome]:
    found = search_spaces.get(space)
    return [*found.seeds(), *(found.random_genome(np.random.default_rng(100 + i)) for i in range(size))]


async def per_operator(space: str, client: OpenAICompatible, trials: int, seed: int) -> dict[str, Any]:
    context = OperatorContext(space=search_spaces.get(space), llm=client)
    genomes = pool(space, 12)
    fitness = {g.hash: toy_fitness(g) for g in genomes}
    context.scores = fitness
    rng = random.Random(seed)
    rows: dict[str, Any] = {}
    for op in ALL:
        gain, improving, valid = 0.0, 0, 0
        started = time.perf_counter()
        for _ in range(trials):
            parents = rng.sample(genomes, op.arity)
            best = max(fitness[p.hash] for p in parents)
            for child in await op(parents, rng, context):
                valid += 1
                delta = toy_fitness(child) - best
                if delta > 1e-9:
                    improving += 1
                    gain += delta
        counts = context.stats.of(op.name)
        rows[op.name] = {
            "invalid_rate": round(counts.invalid_rate, 3),
            "proposed": counts.attempted,
            "valid": valid,
            "unchanged": counts.unchanged,
            "improving": improving,
            "fitness_gain": round(gain, 4),
            "tokens": counts.tokens,
            "tokens_per_improvement": round(counts.tokens / gain, 1) if gain > 0 and counts.tokens else None,
            "calls_per_improving_child": round(trials / improving, 2) if improving else None,
            "ms_per_call": round((time.perf_counter() - started) * 1000 / trials, 2),
            "top_problem": max(counts.problems, key=lambda k: counts.problems[k])
            if counts.problems
            else None,
        }
    return rows


async def bandit_climb(client: OpenAICompatible, steps: int, seed: int) -> dict[str, Any]:
    space = "qa_ensemble"
    context = OperatorContext(space=search_spaces.get(space), llm=client)
    policy = VariationPolicy(ALL, context)
    population = pool(space, 6)
    scores = {g.hash: toy_fitness(g) for g in population}
    start = max(scores.values())
    rng = random.Random(seed)
    for _ in range(steps):
        parents = rng.sample(population, 2) if rng.random() < 0.3 else [rng.choice(population)]
        children = await policy.apply(parents, rng)
        for child in children:
            score = toy_fitness(child)
            await policy.observe(child, score, max(scores[p.hash] for p in parents))
            scores[child.hash] = score
            population.append(child)
        population = sorted(population, key=lambda g: -scores[g.hash])[:8]
        context.scores = scores
    assert policy.bandit is not None
    pulls = {n: a.pulls for n, a in policy.bandit.arms.items()}
    top = sorted(pulls, key=lambda n: -pulls[n])[:5]
    return {
        "steps": steps,
        "start_best": round(start, 4),
        "end_best": round(max(scores[g.hash] for g in population), 4),
        "most_pulled": {n: pulls[n] for n in top},
        "best_mean_reward": {
            n: round(m, 4) for n, m in sorted(policy.bandit.means().items(), key=lambda kv: -kv[1])[:5]
        },
        "tokens": sum(c.tokens for c in context.stats.counts.values()),
    }


async def coevolution(client: OpenAICompatible, seed: int) -> dict[str, Any]:
    context = OperatorContext(space=search_spaces.get("qa_ensemble"), llm=client)
    co = CoEvolution(context)
    rng = random.Random(seed)
    survivors, children = await co.step(
        "lmx", [OperatorCandidate(lmx_genome())], pool("qa_ensemble", 6), toy_fitness, rng, 1, trials=3
    )
    survivors, more = await co.step("lmx", survivors, pool("qa_ensemble", 6), toy_fitness, rng, 2, trials=3)
    made = [*children, *more]
    return {
        "children": len(made),
        "child_scores": [round(c.score or 0.0, 4) for c in made],
        "child_invalid_rates": [round(c.invalid_rate, 3) for c in made],
        "best_score": round(survivors[0].score or 0.0, 4),
        "best_is_seed": survivors[0].genome.hash == lmx_genome().hash,
    }


async def main(trials: int, steps: int) -> dict[str, Any]:
    started = time.perf_counter()
    async with StubServer(seed=1) as server:
        client = OpenAICompatible(server.url, "stub")
        try:
            spaces = {
                space: await per_operator(space, client, trials, 7)
                for space in ("qa_ensemble", "code_writing")
            }
            climb = await bandit_climb(client, steps, 3)
            co = await coevolution(client, 5)
        finally:
            await client.aclose()
        requests = server.stats.requests
    return {
        "benchmark": "operators",
        "model": "stub (seed 1, over HTTP)",
        "trials_per_operator": trials,
        "operators": spaces,
        "bandit_climb": climb,
        "coevolution_lmx": co,
        "llm_requests": requests,
        "wall_s": round(time.perf_counter() - started, 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--quick", action="store_true", help="10 trials, 40 steps")
    args = parser.parse_args()
    trials, steps = (10, 40) if args.quick else (args.trials, args.steps)
    result = asyncio.run(main(trials, steps))
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
