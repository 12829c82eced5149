"""HumanEval benchmark: does evolution beat one call, held out, at equal budget? Prints JSON.

The protocol (``configs/humaneval.yaml``): 4 train, 30 valid and 130 test problems of HumanEval's
164; selection sees the valid split only. Three runs, each resumable (``evoforum resume`` is what
continues a run that was stopped; this script calls it when a run folder holds a run but no
summary):

1. ``evolution``: the config as it is. Its summary holds the winner's test pass@1 and, scored on
   the same test problems, the single call and best-of-k at the winner's tokens per problem.
2. ``random``: random search over the same space with the evolution's search budget (the tokens of
   the workflows and the operators alike, before the test split was scored) as its
   ``budget.llm_tokens``; only its winner is scored on the test split (the baselines are the
   evolution run's: ``experiment.baselines=false``).
3. the report: the winner's pass@1 beside each baseline, with the paired difference and its 95%
   confidence interval (a bootstrap over test problems, resampled together for both sides), whether
   the winner is an evolved offspring, tokens, wall time, the operators' invalid-child rates, what
   the rewrites aimed at, and the ids of the train, valid and test problems.

Writes ``benchmarks/results/humaneval.json`` and the winner's exported module as
``benchmarks/results/humaneval_winner.py`` (into ``--out`` instead when ``--set`` changed the protocol).

The protocol takes longer than one sitting on 2 cores. ``--pack`` writes the run folders as they
are (checkpoints, result cache, lineage, MLflow) to ``benchmarks/results/humaneval_run.tar.gz``, so
another clone continues the run: given no ``--out`` folder yet, the script unpacks that file into
it first, and ``evoforum resume`` goes on from the last checkpoint (the model answers of a
generation cut short are asked again). The file goes once the report is written.

    python benchmarks/humaneval.py [--out runs/humaneval] [--skip-random] [--set key=value ...] [--pack]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on the path, where benchmarks/experiments.py would
# hide the ``experiments`` package: the repository root goes there instead.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent)]
CONFIG = ROOT / "configs" / "humaneval.yaml"
RESULTS = ROOT / "benchmarks" / "results"
BOOTSTRAP = 10_000
LIBRARY = "search_spaces.library.code_tools"
STATE = RESULTS / "humaneval_run.tar.gz"
"""The run folders of a protocol under way (``--pack``)."""


def _evoforum(*args: str) -> None:
    command = [sys.executable, "-m", "evoforum", *args]
    print("$", " ".join(command[2:]), file=sys.stderr, flush=True)
    process = subprocess.Popen(command, cwd=ROOT)
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:  # the run got the same Ctrl-C: let it checkpoint and stop
            continue
    if code:  # stopped (130: resume the protocol by running this script again) or failed
        raise SystemExit(code)


def ensure_run(out: Path, overrides: list[str]) -> dict[str, Any]:
    """The summary of the run in ``out``: read, resumed, or run from the config."""
    summary = out / "summary.json"
    if not summary.exists():
        if (out / "config.yaml").exists():  # started before: resume (model answers are recorded)
            _evoforum("resume", str(out))
        else:
            _evoforum("run", str(CONFIG), "--out", str(out), *(f"--set={o}" for o in overrides))
    return dict(json.loads(summary.read_text()))


def search_tokens(out: Path, summary: dict[str, Any]) -> int:
    """The tokens the search spent, operators included, without the test split's scoring (a run
    that predates ``search_llm_tokens``: its ``progress.json``, written after each generation)."""
    if summary.get("search_llm_tokens") is not None:
        return int(summary["search_llm_tokens"])
    return int(json.loads((out / "progress.json").read_text())["llm_tokens"])


def item_scores(out: Path, genome_hash: str, items: list[str]) -> dict[str, float]:
    """The genome's score on each of ``items`` that the run's result cache holds."""
    from evoforum.evolve.cache import read_journal

    found: dict[str, float] = {}
    for _, batch in read_journal(out / "cache.journal"):
        for (hashed, item, _seed), result in batch:
            if hashed == genome_hash and item in items and result.values:
                found[item] = 0.0 if result.error else float(result.values[0])
    return found


def paired(a: dict[str, float], b: dict[str, float], rng: random.Random) -> dict[str, Any]:
    """Mean of ``a`` minus ``b`` over the items both have, with a 95% bootstrap interval."""
    items = sorted(set(a) & set(b))
    if not items:  # one side was not scored on the test split
        return {"items": 0, "difference": None, "ci95": None, "wins": 0, "losses": 0}
    diffs = [a[item] - b[item] for item in items]
    means = sorted(sum(rng.choices(diffs, k=len(diffs))) / len(diffs) for _ in range(BOOTSTRAP))
    return {
        "items": len(items),
        "difference": sum(diffs) / len(diffs),
        "ci95": [means[int(0.025 * BOOTSTRAP)], means[int(0.975 * BOOTSTRAP) - 1]],
        "wins": sum(d > 0 for d in diffs),
        "losses": sum(d < 0 for d in diffs),
    }


def operator_report(out: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Invalid-child rates of the LLM operators, and what the rewrites aimed at: prompts, or
    functions of the genome's code, which are logic unless they are the library's plumbing. The
    aims are counted over every rewrite call (the operators' ``targets``), or, in a run whose
    counts predate them, over the rewrites' valid children (their recorded edit)."""
    rates, attempts = {}, Counter[str]()
    for name, counts in summary.get("operators", {}).items():
        if "rewrite" in name:
            attempts.update(counts.get("targets", {}))
        if name.startswith(("lmx", "llm_rewrite")) and counts.get("calls"):
            rates[name] = {
                "calls": counts["calls"],
                "children": counts["children"],
                "invalid": counts["invalid"],
                "failures": counts.get("failures", 0),
                "no_valid_child_rate": (counts["invalid"] + counts.get("failures", 0)) / counts["calls"],
                "problems": counts.get("problems", {}),
            }
    targets = attempts or _child_targets(out)
    plumbing = _library_functions()
    aimed = sum(targets.values())
    at_plumbing = sum(n for target, n in targets.items() if target.removeprefix("function:") in plumbing)
    return {
        "llm_operators": rates,
        "rewrite_targets": dict(targets),
        "rewrite_targets_counted_over": "calls" if attempts else "valid children",
        "rewrite_share_prompts_or_logic": (aimed - at_plumbing) / aimed if aimed else None,
    }


def _child_targets(out: Path) -> Counter[str]:
    """What the rewrites' valid children changed, as ``prompt`` or ``function:name``."""
    targets: Counter[str] = Counter()
    for line in (out / "genomes.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        origin = json.loads(json.loads(line)["json"]).get("metadata", {}).get("origin", {})
        edit = origin.get("edit")
        if edit and "rewrite" in str(origin.get("operator", "")):
            name = re.match(r"\s*(?:async\s+)?def\s+(\w+)", edit.get("before", ""))
            targets["prompt" if edit["kind"] == "prompt" else f"function:{name[1] if name else '?'}"] += 1
    return targets


def _library_functions() -> set[str]:
    import importlib

    return set(importlib.import_module(LIBRARY).__all__)


def report(evolution: Path, random_run: Path | None) -> dict[str, Any]:
    import experiments

    summary = json.loads((evolution / "summary.json").read_text())
    config = json.loads(json.dumps(_config(evolution)))
    experiment = experiments.get("humaneval", config["experiment"]["options"], config.get("seed", 0))
    splits = experiment.splits()
    test = list(splits.test)
    rng = random.Random(0)
    best = summary["best"]
    winner = item_scores(evolution, best["genome_hash"], test)
    result: dict[str, Any] = {
        "protocol": {
            "config": str(CONFIG.relative_to(ROOT)),
            "model": "qwen2.5-coder-0.5b-instruct (Q4_K_M, llama-server)",
            "splits": {name: list(getattr(splits, name)) for name in ("train", "valid", "test")},
            "bootstrap": BOOTSTRAP,
            "commit": _commit(),
        },
        "winner": {
            "genome_hash": best["genome_hash"],
            "name": _name(evolution, best["genome_hash"]),
            "operator": best["operator"],
            "generation": best["generation"],
            "evolved_offspring": best["operator"] not in ("init", "random", "sample"),
            "valid_pass_at_1": best["valid_score"],
            "test_pass_at_1": best["test_score"],
            "test_items": len(winner),
            "test_tokens_per_problem": best.get("test_tokens_per_item"),
        },
        "baselines": {},
        "evolution": {
            "search_llm_tokens": search_tokens(evolution, summary),
            "llm_tokens": summary["llm_tokens"],
            "llm_calls": summary["llm_calls"],
            "llm_cache_hits": summary.get("llm_cache_hits"),
            "candidates": summary["evaluations"],
            "item_evaluations": summary["item_evaluations"],
            "generations": summary["generations"],
            "wall_s": summary["wall_s"],
        },
        "operators": operator_report(evolution, summary),
    }
    for name, baseline in summary["baselines"].items():
        scores = item_scores(evolution, baseline["genome_hash"], test)
        result["baselines"][name] = {
            "genome_hash": baseline["genome_hash"],
            "test_pass_at_1": baseline["test_score"],
            "tokens_per_problem": baseline.get("tokens_per_item"),
            "winner_minus_baseline": paired(winner, scores, rng),
        }
    if random_run is not None and (random_run / "summary.json").exists():
        searched = json.loads((random_run / "summary.json").read_text())
        found = searched["best"]
        scores = item_scores(random_run, found["genome_hash"], test)
        result["baselines"]["random_search"] = {
            "genome_hash": found["genome_hash"],
            "test_pass_at_1": found["test_score"],
            "llm_tokens": searched["llm_tokens"],
            "candidates": searched["evaluations"],
            "wall_s": searched["wall_s"],
            "winner_minus_baseline": paired(winner, scores, rng),
        }
    return result


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _config(out: Path) -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load((out / "config.yaml").read_text()))


def _name(out: Path, genome_hash: str) -> str:
    for line in (out / "genomes.jsonl").read_text().splitlines():
        row = json.loads(line) if line.strip() else {}
        if row.get("hash") == genome_hash:
            return str(json.loads(row["json"]).get("metadata", {}).get("name", ""))
    return ""


def pack(out: Path) -> None:
    """``out``'s run folders into ``STATE``, without this machine's paths: the folders' own files
    name the checkout (a resume there writes them again), MLflow's default experiment its place."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "runs"
        shutil.copytree(out, copy)
        here = str(ROOT.resolve())
        for path in [*copy.glob("*/mlflow.json"), *copy.glob("*/run.json")]:
            path.write_text(path.read_text().replace(here, "."))
        for path in copy.glob("*/mlflow.db"):
            with sqlite3.connect(path) as db:
                db.execute(
                    "UPDATE experiments SET artifact_location = 'mlruns/' || experiment_id WHERE artifact_location LIKE '/%'"
                )
        with tarfile.open(STATE, "w:gz") as packed:
            packed.add(copy, arcname=".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "humaneval")
    parser.add_argument("--skip-random", action="store_true", help="no random-search run")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--pack", action="store_true", help=f"write the run folders to {STATE.name} and stop")
    args = parser.parse_args()
    if args.pack:
        pack(args.out)
        print(f"packed {args.out} into {STATE.relative_to(ROOT)}", file=sys.stderr)
        return
    if not args.out.exists() and STATE.exists():
        with tarfile.open(STATE) as packed:
            packed.extractall(args.out, filter="data")
        print(f"unpacked {STATE.relative_to(ROOT)} into {args.out}", file=sys.stderr)
    evolution = args.out / "evolution"
    summary = ensure_run(evolution, args.overrides)
    random_run = None
    if not args.skip_random:
        random_run = args.out / "random"
        budget = [
            "algorithm.kind=random_search",
            "algorithm.generations=1000",
            "experiment.baselines=false",  # scored in the evolution run already
            f"budget.llm_tokens={search_tokens(evolution, summary)}",
        ]
        ensure_run(random_run, [*args.overrides, *budget])
    found = report(evolution, random_run)
    found["protocol"]["overrides"] = args.overrides
    results = RESULTS if not args.overrides else args.out  # only the protocol as it is goes to results/
    results.mkdir(parents=True, exist_ok=True)
    text = json.dumps(found, indent=2)
    (results / "humaneval.json").write_text(text + "\n")
    shutil.copyfile(evolution / "winner.py", results / "humaneval_winner.py")
    if results == RESULTS:
        STATE.unlink(missing_ok=True)  # done: nothing left to continue
    print(text)


if __name__ == "__main__":
    main()
