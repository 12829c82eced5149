"""The LLM operators on the local model, given a real run's parents and what that run knew of them.

``benchmarks/operators.py`` measures every operator with the stub model, which always answers
well-formed code. This measures the three LLM operators (``llm_rewrite``, ``lmx``, ``lmx_code``) with
the model a run actually uses, on the population of a run folder (by default the HumanEval
protocol's evolution run): the best ``--pool`` genomes scored on the whole valid split are the
parents, and the operators are told what that run's engine would tell them (each genome's valid
score and items, one failing item's excerpt from the result cache, the archive of the best). Each
operator is called ``--trials`` times on parents drawn at random; no child is evaluated.

Reported per operator: calls, valid children (repaired ones among them), invalid children and why,
unchanged children, tokens and seconds per call; for the rewrite, what each call aimed at (a prompt,
a function of the genome's own logic, or the library's plumbing) and the share of prompts or logic.
The model server is the checkout's (``evoforum services``), shared with any run in progress, so
seconds per call depend on what else it serves. Prints JSON; ``--out`` writes it too, after each
operator.

    python benchmarks/llm_operators.py [--run runs/humaneval/evolution] [--trials 12] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on the path, where benchmarks/experiments.py would
# hide the ``experiments`` package: the repository root goes there instead.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent)]

from evoforum.config.load import load_config  # noqa: E402
from evoforum.evolve.assess import Known  # noqa: E402
from evoforum.evolve.cache import read_journal  # noqa: E402
from evoforum.evolve.lineage import LineageRecord  # noqa: E402
from evoforum.evolve.operators import OperatorContext  # noqa: E402
from evoforum.evolve.operators.base import Operator  # noqa: E402
from evoforum.evolve.operators.feedback import Feedback  # noqa: E402
from evoforum.evolve.operators.llm_ops import llm_rewrite, lmx_code, lmx_module  # noqa: E402
from evoforum.genome import WorkflowGenome  # noqa: E402
from evoforum.llm import OpenAICompatible  # noqa: E402
from evoforum.run.plan import design  # noqa: E402

OPERATORS = (llm_rewrite, lmx_module, lmx_code)
LIBRARY = "search_spaces.library.code_tools"


def known(run: Path) -> tuple[list[Known], Any, int]:
    """What the run's engine knew of each genome it scored (its last lineage record, the results of
    the valid items behind it, in split order), the run's search space and its valid split's size."""
    config = load_config(run / "config.yaml")
    planned = design(config)
    valid = list(planned.splits.valid)
    genomes = {}
    for line in (run / "genomes.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            genomes[row["hash"]] = WorkflowGenome.load(row["json"])
    records = {}
    for line in (run / "lineage.jsonl").read_text().splitlines():
        if line.strip():
            record = LineageRecord.model_validate_json(line)
            records[record.genome_hash] = record
    results: dict[tuple[str, str], Any] = {}
    for _, batch in read_journal(run / "cache.journal"):
        for (genome_hash, item, _seed), result in batch:
            results[(genome_hash, item)] = result
    found = []
    for genome_hash, record in records.items():
        if genome_hash not in genomes:
            continue
        scored = [results[(genome_hash, item)] for item in valid if (genome_hash, item) in results]
        found.append(
            Known(genomes[genome_hash], tuple(record.values), record.items, tuple(scored[: record.items]))
        )
    return found, planned.space, len(valid)


def plumbing() -> set[str]:
    return set(importlib.import_module(LIBRARY).__all__)


async def measure(
    op: Operator, pool: Sequence[WorkflowGenome], context: OperatorContext, trials: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    counts = context.stats.of(op.name)
    seconds = []
    for _ in range(trials):
        started = time.perf_counter()
        await op(rng.sample(list(pool), op.arity), rng, context)
        seconds.append(time.perf_counter() - started)
    row: dict[str, Any] = {
        "calls": counts.calls,
        "valid_children": counts.children,
        "repaired": counts.repaired,
        "invalid": counts.invalid,
        "unchanged": counts.unchanged,
        "invalid_rate": round(counts.invalid / counts.calls, 3) if counts.calls else None,
        "valid_child_rate": round(counts.children / counts.calls, 3) if counts.calls else None,
        "why_invalid": dict(sorted(counts.problems.items(), key=lambda kv: -kv[1])),
        "tokens_per_call": round(counts.tokens / counts.calls) if counts.calls else None,
        "s_per_call": round(sum(seconds) / len(seconds), 1) if seconds else None,
    }
    if counts.targets:
        library = plumbing()
        kinds = {"prompt": 0, "logic": 0, "plumbing": 0}
        for label, n in counts.targets.items():
            kind, name = label.split(":", 1)
            kinds["prompt" if kind == "prompt" else "plumbing" if name in library else "logic"] += n
        aimed = sum(kinds.values())
        row["aimed_at"] = kinds
        row["share_prompts_or_logic"] = round((aimed - kinds["plumbing"]) / aimed, 3)
        row["targets"] = dict(sorted(counts.targets.items()))
    return row


async def main(run: Path, trials: int, size: int, seed: int, out: Path | None = None) -> dict[str, Any]:
    from evoforum.services import local_services  # honours EVOFORUM_LLM_URL; else starts the model

    entries, space, valid = known(run)
    feedback = Feedback()
    feedback.update(entries)
    whole = [e for e in entries if e.items == valid and e.genome.hash in feedback.scores]
    pool = [e.genome for e in sorted(whole, key=lambda e: -e.values[0])[:size]]
    started = time.perf_counter()
    async with local_services(only=["llm"]) as urls:
        assert urls.llm is not None
        client = OpenAICompatible(urls.llm, urls.llm_model, timeout=900)
        context = OperatorContext(
            space=space,
            llm=client,
            model=urls.llm_model,
            scores=feedback.scores,
            items=feedback.items,
            transcripts=feedback.excerpts,
            summaries=feedback.summaries,
            repair=getattr(space, "repair", None),
        )
        found: dict[str, Any] = {
            "benchmark": "llm_operators",
            "model": urls.llm_model,
            "run": run.name,
            "parents": {g.hash[:8]: round(feedback.scores[g.hash], 4) for g in pool},
            "parents_with_failure_excerpt": sum(g.hash in feedback.excerpts for g in pool),
            "trials_per_operator": trials,
            "edit_memory": False,
            "operators": {},
        }
        try:
            for op in OPERATORS:  # each operator's row is written as soon as it is measured
                found["operators"][op.name] = await measure(op, pool, context, trials, seed)
                found["wall_s"] = round(time.perf_counter() - started, 1)
                print(f"{op.name}: {found['operators'][op.name]}", file=sys.stderr, flush=True)
                if out is not None:
                    await asyncio.to_thread(out.write_text, json.dumps(found, indent=2) + "\n")
        finally:
            await client.aclose()
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "humaneval" / "evolution")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument(
        "--pool", type=int, default=6, help="parents: the best genomes on the whole valid split"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.run, args.trials, args.pool, args.seed, args.out)), indent=2))
