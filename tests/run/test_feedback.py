"""The LLM operators see what the run knows: a real run with the stub model, whose prompts are kept."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from evoforum.config import validate_config
from evoforum.evolve.cache import read_journal
from evoforum.evolve.lineage import read_lineage
from evoforum.llm.stub import StubServer
from evoforum.run import run_experiment


class PromptKeeping(StubServer):
    """The stub model, keeping the last message of every chat request it is sent."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.prompts: list[str] = []

    async def _chat(self, payload: dict[str, Any], reply: Any) -> bool:
        messages = payload.get("messages") or [{}]
        self.prompts.append(str(messages[-1].get("content", "")))
        return await super()._chat(payload, reply)


@pytest.mark.services
async def test_operator_prompts_hold_the_parents_real_scores_and_failures(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    async with PromptKeeping(seed=3) as stub:
        run_config = validate_config(
            {
                "experiment": {"name": "quickstart", "options": {"seeds": [0, 1]}},
                "search_space": {"name": "code_writing"},
                "algorithm": {
                    "population": 2,
                    "offspring": 4,
                    "generations": 1,
                    "crossover_rate": 0.5,
                    "mutation_rate": 0.5,
                },
                "operators": {"bandit": False, "weights": {"rewrite": 1.0, "lmx": 1.0}},
                "llm": {"url": stub.url, "model": "stub"},
                "runtime": {"postgres_url": postgres_url},
                "evaluation": {"timeout_s": 60},
                "seed": 2,
            }
        )
        out = tmp_path / "run"
        await run_experiment(run_config, out, state_dir=str(tmp_path / "state"))
        prompts = list(stub.prompts)
    first = [r for r in read_lineage(out / "lineage.jsonl") if r.generation == 0]
    scores = {r.genome_hash: (r.values[0], r.items) for r in first}
    excerpts: dict[str, list[str]] = defaultdict(list)
    for _, batch in read_journal(out / "cache.journal"):
        for (genome_hash, _item, _seed), result in batch:
            if "excerpt" in result.info:
                excerpts[genome_hash].append(result.info["excerpt"])
    assert any(excerpts[h] for h in scores), "the seeds fail no item: nothing to show"

    rewrites = [p for p in prompts if "The workflow scored" in p]
    assert rewrites
    for prompt in rewrites:
        assert "not yet known" not in prompt
        parents = [
            h
            for h, (score, items) in scores.items()
            if f"scored {score:.4g} on {items} items." in prompt
            and (not excerpts[h] or any(e in prompt for e in excerpts[h]))
        ]
        assert parents, prompt[:600]
    assert any(any(e in p for e in excerpts[h]) for p in rewrites for h in scores)
    assert any("failed: assert candidate(" in p for p in rewrites)

    crossings = [p for p in prompts if "parent programs, best first" in p]
    assert crossings
    for prompt in crossings:
        shown = re.findall(r"Parent \d+ \(([0-9a-f]{8}), score (\S+) on (\d+) items\)", prompt)
        assert len(shown) == 2
        by_prefix = {h[:8]: value for h, value in scores.items()}
        assert all(f"{by_prefix[prefix][0]:.4g}" == score for prefix, score, _ in shown)
        assert all(int(items) == by_prefix[prefix][1] for prefix, _, items in shown)
        assert float(shown[0][1]) >= float(shown[1][1])  # best first
        best = max(scores, key=lambda h: scores[h][0])
        assert f"- {best[:8]} score " in prompt  # the archive of the best
