"""Reading a run back: the winner as code, its ancestry, and the conversations behind it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from evoforum.errors import ConfigError, UnknownMessage, UsageError
from evoforum.evolve import read_lineage
from evoforum.evolve.checkpoint import load_checkpoint
from evoforum.run import _files as files
from evoforum.run._baselines import base_of


def _winner_hash(out: Path) -> str:
    summary = files.read_json(out / files.SUMMARY)
    if summary is not None:
        return str(summary["best"]["genome_hash"])
    files.read_config(out)
    state = load_checkpoint(out)
    best = max(state["archive"], key=lambda ind: ind.fitness) if state and state["archive"] else None
    if best is None:
        raise ConfigError(f"{out}: no candidate has been evaluated yet")
    return str(best.hash)


def winner_source(out: Path) -> str:
    """The run's winner (or, while it runs, its best so far) as a Python module."""
    from evoforum.run._plan import make_plan

    plan = make_plan(files.read_config(out))
    key = _winner_hash(out)
    if plan.kind == "workflow":
        from evoforum.codegen import export
        from evoforum.genome import WorkflowGenome

        book = files.GenomeBook(out / files.GENOMES, plan.describe)
        text = book.json.get(key)
        if text is None:
            raise ConfigError(f"{out}: genome {key[:12]} is not in {files.GENOMES}")
        data = orjson.loads(text)
        data = data.get("base", data)  # best_of_n: a sample of the seed workflow
        return export(WorkflowGenome.load(data))
    state = load_checkpoint(out)
    found = [ind for ind in (state or {}).get("archive", []) if ind.hash == key]
    if not found:
        raise ConfigError(f"{out}: the winner {key[:12]} is not in the checkpoint")
    return plan.export(base_of(found[0].genome)[0])


def lineage_rows(out: Path) -> list[dict[str, Any]]:
    """The winner's ancestry, newest first down to the seeds: one row per ancestor."""
    from evoforum.tracking import ancestry

    records = read_lineage(out / files.LINEAGE)
    if not records:
        files.read_config(out)
        raise ConfigError(f"{out}: no lineage yet")
    runs: dict[str, str] = {}
    mlflow_runs = out / "mlflow_runs.jsonl"
    if mlflow_runs.exists():
        for line in mlflow_runs.read_bytes().splitlines():
            if line.strip():
                row = orjson.loads(line)
                runs[row["genome_hash"]] = row["run_id"]
    book = files.GenomeBook(out / files.GENOMES, str)
    rows = []
    for record in ancestry(records, _winner_hash(out)):
        operator = record.operator
        detail = _origin_operator(book.json.get(record.genome_hash))
        if detail and detail not in operator:
            operator = f"{operator}:{detail}"
        rows.append(
            {
                "generation": record.generation,
                "operator": operator,
                "fitness": f"{record.values[0]:.4g}" if record.values else "-",
                "run_id": runs.get(record.genome_hash),
                "transcript": record.transcripts[0] if record.transcripts else None,
                "genome": record.genome_hash,
                "parents": list(record.parents),
            }
        )
    return rows


def _origin_operator(text: str | None) -> str | None:
    if not text:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    origin = data.get("metadata", {}).get("origin", {}) if isinstance(data, dict) else {}
    found = origin.get("operator") if isinstance(origin, dict) else None
    return str(found) if found else None


async def show_conversation(prefix: str, out: Path | None, state_dir: str | None) -> str:
    """The conversation (root to leaf) a message hash or unique prefix names, as text."""
    from evoforum.forum import Forum
    from evoforum.run._resources import open_store
    from evoforum.services import local_services

    prefix = check_hash(prefix)
    external = os.environ.get("EVOFORUM_POSTGRES_URL")
    if out is not None:
        run = files.read_json(out / files.RUN)
        if run is None:
            files.read_config(out)
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
