"""Another population (co-evolved operator genomes) in the experiment's MLflow run, beside the
workflow candidates and apart from them, against a real MLflow store on a sqlite file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking import CandidateFiles, MlflowLineage


def record(
    index: int,
    genome: str,
    parents: tuple[str, ...] = (),
    values: tuple[float, ...] = (),
    items: int = 0,
    transcripts: tuple[str, ...] = (),
) -> LineageRecord:
    return LineageRecord(
        index=index,
        genome_hash=genome,
        parents=parents,
        operator="coevolve:mut_prompt" if parents else "coevolve:seed",
        generation=1 if parents else 0,
        values=values,
        items=items,
        transcripts=transcripts,
    )


GENOMES = {
    "op-a": {"agents": [{"prompt": "Combine the parents."}], "temperature": 0.7},
    "op-b": {"agents": [{"prompt": "Combine the parents. Be bold."}], "temperature": 0.7},
}


def describe_operator(genome: str) -> CandidateFiles | None:
    found = GENOMES.get(genome)
    return CandidateFiles(genome_json=orjson.dumps(found).decode()) if found is not None else None


def describe_workflow(genome: str) -> CandidateFiles:
    return CandidateFiles(genome_json=f'{{"id": "{genome}"}}', code=f"def run():\n    return {genome!r}\n")


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One store for the module's tests (each test logs to an experiment of its own)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def candidate(index: int, genome: str, parents: tuple[str, ...], value: float) -> LineageRecord:
    return LineageRecord(
        index=index, genome_hash=genome, parents=parents, operator="mutate" if parents else "seed",
        generation=len(parents), values=(value,), items=3,
    )  # fmt: skip


def test_operator_genomes_are_runs_of_their_own_population(tmp_path: Path, uri: str) -> None:
    from mlflow.tracking import MlflowClient

    out = tmp_path / "run"
    sink = MlflowLineage(uri, "tags", out, describe=describe_workflow)
    operators = sink.population(
        "operators", tags={"evoforum.operator_kind": "lmx"}, describe=describe_operator,
        metrics=("improvement",), count="trials",
    )  # fmt: skip
    sink.emit([candidate(0, "w1", (), 0.2), candidate(1, "w2", ("w1",), 0.5)])
    operators.emit([record(0, "op-a"), record(1, "op-b", ("op-a",), transcripts=("t1", "t2"))])
    operators.emit([record(2, "op-b", ("op-a",), (0.25,), 1, ("t1", "t2"))])
    operators.emit([record(3, "op-b", ("op-a",), (0.5,), 2, ("t1", "t2"))])
    sink.finish(elites=["w2"])

    client = MlflowClient(uri)
    assert set(operators.run_ids) == {"op-a", "op-b"}
    assert set(sink.run_ids) == {"w1", "w2"}  # candidates and operator genomes kept apart
    a, b = (client.get_run(operators.run_ids[h]) for h in ("op-a", "op-b"))
    tags = b.data.tags
    assert tags["mlflow.parentRunId"] == sink.run_id
    assert tags["evoforum.population"] == "operators"
    assert tags["evoforum.operator_kind"] == "lmx"
    assert tags["evoforum.genome_hash"] == "op-b"
    assert tags["evoforum.parent_runs"] == a.info.run_id
    assert tags["evoforum.operator"] == "coevolve:mut_prompt"
    assert tags["evoforum.generation"] == "1"
    assert tags["evoforum.transcripts"] == "t1,t2"
    assert a.data.tags["evoforum.parent_runs"] == ""
    assert a.data.tags["evoforum.transcripts"] == ""
    history = client.get_metric_history(b.info.run_id, "improvement")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(1, 0.25), (2, 0.5)]
    assert b.data.metrics["trials"] == 2
    assert "improvement" not in a.data.metrics  # never credited: no fitness yet
    assert {f.path for f in client.list_artifacts(b.info.run_id)} == {
        "genome.json",
        "diff_parent_1.diff.txt",
    }
    patch = Path(
        client.download_artifacts(b.info.run_id, "diff_parent_1.diff.txt", str(tmp_path))
    ).read_text()
    assert '-      "prompt": "Combine the parents."' in patch
    assert '+      "prompt": "Combine the parents. Be bold."' in patch
    assert {f.path for f in client.list_artifacts(a.info.run_id)} == {"genome.json"}
    w2 = client.get_run(sink.run_ids["w2"]).data.tags
    assert w2["evoforum.population"] == "workflows"
    assert w2["evoforum.parent_runs"] == sink.run_ids["w1"]


def test_a_resumed_run_logs_no_operator_genome_twice_and_keeps_populations_apart(
    tmp_path: Path, uri: str
) -> None:
    from mlflow.tracking import MlflowClient

    out = tmp_path / "run"
    first = MlflowLineage(uri, "resume", out)
    first.population("operators", describe=describe_operator).emit([record(0, "op-a")])
    first.emit([candidate(0, "w1", (), 0.1)])
    first.finish(status="KILLED")
    rows = [orjson.loads(line) for line in (out / "mlflow_runs.jsonl").read_bytes().splitlines()]
    assert sorted((row["genome_hash"], row.get("population")) for row in rows) == [
        ("op-a", "operators"),
        ("w1", None),
    ]
    again = MlflowLineage(uri, "resume", out)
    assert set(again.run_ids) == {"w1"}
    operators = again.population("operators", describe=describe_operator)
    assert set(operators.run_ids) == {"op-a"}
    operators.emit([record(0, "op-a"), record(1, "op-b", ("op-a",))])
    again.finish()
    client = MlflowClient(uri)
    experiment = client.get_run(first.run_id).info.experiment_id
    found = client.search_runs([experiment], filter_string="tags.`evoforum.population` = 'operators'")
    assert sorted(run.data.tags["evoforum.genome_hash"] for run in found) == ["op-a", "op-b"]
    b = next(run for run in found if run.data.tags["evoforum.genome_hash"] == "op-b")
    assert b.data.tags["evoforum.parent_runs"] == operators.run_ids["op-a"]


def test_records_after_the_run_finished_are_ignored(tmp_path: Path, uri: str) -> None:
    sink = MlflowLineage(uri, "late", tmp_path / "run")
    operators = sink.population("operators")
    sink.finish()
    operators.emit([record(0, "op-a")])
    sink.emit([candidate(0, "w1", (), 0.1)])
    assert operators.run_ids == {}
    assert sink.run_ids == {}


def test_elites_are_chosen_among_workflow_candidates_only(tmp_path: Path, uri: str) -> None:
    sink = MlflowLineage(uri, "elites", tmp_path / "run", log="elites")
    sink.population("operators").emit([record(0, "op-a", values=(9.0,), items=1)])
    sink.emit([candidate(0, "w1", (), 0.1)])
    sink.finish()
    assert set(sink.run_ids) == {"w1"}  # the best of the workflows, not the operator genome
