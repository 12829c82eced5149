"""Lineage walks and MLflow logging, against a real MLflow store on a sqlite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking import CandidateFiles, MlflowLineage, ancestry
from evoforum.tracking.ancestry import closure, pareto_front


def record(index: int, genome: str, parents: tuple[str, ...], generation: int, value: float) -> LineageRecord:
    return LineageRecord(
        index=index,
        genome_hash=genome,
        parents=parents,
        operator="seed" if not parents else "mutate",
        generation=generation,
        values=(value, 1.0 + index),
        items=3,
        transcripts=(f"t{genome}",),
    )


RECORDS = [
    record(0, "a", (), 0, 0.1),
    record(1, "b", (), 0, 0.2),
    record(2, "c", ("a",), 1, 0.3),
    record(3, "d", ("c", "b"), 2, 0.9),
    record(4, "e", ("a",), 2, 0.4),
]


def test_ancestry_walks_from_the_winner_to_every_seed_once() -> None:
    walk = [r.genome_hash for r in ancestry(RECORDS, "d")]
    assert walk == ["d", "c", "a", "b"]
    assert ancestry(RECORDS, "unknown") == []


def test_closure_keeps_elites_and_their_ancestors_only() -> None:
    assert [r.genome_hash for r in closure(RECORDS, ["e"])] == ["a", "e"]


def test_pareto_front_drops_dominated_points() -> None:
    assert pareto_front([(1.0, 1.0), (0.5, 0.5), (2.0, 0.0), (1.0, 1.0)]) == [0, 2, 3]


def describe(genome: str) -> CandidateFiles:
    return CandidateFiles(genome_json=f'{{"id": "{genome}"}}', code=f"def run():\n    return {genome!r}\n")


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_every_candidate_is_a_nested_run_with_pinned_tags_and_artifacts(
    tmp_path: Path, tracking_uri: str
) -> None:
    from mlflow.tracking import MlflowClient

    out = tmp_path / "run"
    sink = MlflowLineage(tracking_uri, "exp", out, params={"seed": 1}, describe=describe)
    sink.emit(RECORDS[:3])
    sink.emit(RECORDS[3:])
    sink.finish(elites=["d"], metrics={"best_valid": 0.9})

    client = MlflowClient(tracking_uri)
    parent = client.get_run(sink.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["seed"] == "1"
    runs = {h: client.get_run(run_id) for h, run_id in sink.run_ids.items()}
    assert set(runs) == {"a", "b", "c", "d", "e"}
    d = runs["d"].data.tags
    assert d["mlflow.parentRunId"] == sink.run_id
    assert d["evoforum.genome_hash"] == "d"
    assert d["evoforum.parent_runs"] == f"{sink.run_ids['c']},{sink.run_ids['b']}"
    assert d["evoforum.operator"] == "mutate"
    assert d["evoforum.generation"] == "2"
    assert d["evoforum.transcripts"] == "td"
    assert runs["d"].data.metrics["quality"] == pytest.approx(0.9)
    artifacts = {a.path for a in client.list_artifacts(sink.run_ids["d"])}
    assert artifacts == {"genome.json", "workflow.py", "diff_parent_1.diff.txt", "diff_parent_2.diff.txt"}
    for name, parent in (("diff_parent_1.diff.txt", "c"), ("diff_parent_2.diff.txt", "b")):
        patch = Path(client.download_artifacts(sink.run_ids["d"], name, str(tmp_path))).read_text()
        assert f"--- parent/{parent}.py" in patch
        assert f"-    return '{parent}'" in patch
        assert "+    return 'd'" in patch
    pictures = {a.path for a in client.list_artifacts(sink.run_id, "plots")}
    assert pictures == {"plots/lineage.png", "plots/fitness.png", "plots/pareto.png"}


def test_elites_mode_logs_only_the_elites_and_their_ancestry(tmp_path: Path, tracking_uri: str) -> None:
    sink = MlflowLineage(tracking_uri, "exp", tmp_path / "run", log="elites")
    sink.emit(RECORDS)
    sink.finish(elites=["e"])
    assert set(sink.run_ids) == {"a", "e"}


def test_a_resumed_run_reuses_its_parent_run_and_logs_no_candidate_twice(
    tmp_path: Path, tracking_uri: str
) -> None:
    from mlflow.tracking import MlflowClient

    out = tmp_path / "run"
    first = MlflowLineage(tracking_uri, "exp", out)
    first.emit(RECORDS[:3])
    first.finish(status="KILLED")
    client = MlflowClient(tracking_uri)
    assert client.list_artifacts(first.run_id, "plots") == []  # a killed run stops fast: no pictures
    again = MlflowLineage(tracking_uri, "exp", out)
    assert again.run_id == first.run_id
    again.emit(RECORDS)
    again.finish()
    assert {Path(a.path).name for a in client.list_artifacts(first.run_id, "plots")} >= {"lineage.png"}
    children = client.search_runs(
        [client.get_run(first.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{first.run_id}'",
    )
    assert sorted(run.data.tags["evoforum.genome_hash"] for run in children) == ["a", "b", "c", "d", "e"]


def test_transcripts_beyond_the_tag_limit_go_to_an_artifact_the_tag_names(
    tmp_path: Path, tracking_uri: str
) -> None:
    from mlflow.tracking import MlflowClient

    many = tuple(f"{i:064x}" for i in range(500))  # 500 message-tree hashes: 32,500 characters
    few, long = record(0, "few", (), 0, 0.5), record(1, "long", (), 0, 0.6)
    long = long.model_copy(update={"transcripts": many})
    sink = MlflowLineage(tracking_uri, "exp", tmp_path / "run", describe=describe)
    sink.emit([few, long])
    sink.finish()
    client = MlflowClient(tracking_uri)
    tag = client.get_run(sink.run_ids["long"]).data.tags["evoforum.transcripts"]
    assert len(tag) <= 8000  # MLflow's limit; a Postgres- or MySQL-backed server refuses more
    assert tag == "artifact:transcripts.json (500 hashes)"
    path = client.download_artifacts(sink.run_ids["long"], "transcripts.json", str(tmp_path))
    assert tuple(json.loads(Path(path).read_text())) == many
    assert client.get_run(sink.run_ids["few"]).data.tags["evoforum.transcripts"] == "tfew"
    assert "transcripts.json" not in {a.path for a in client.list_artifacts(sink.run_ids["few"])}


def steps(client: object, run_id: str, key: str) -> list[tuple[int, float]]:
    history = client.get_metric_history(run_id, key)  # type: ignore[attr-defined]
    return sorted((m.step, round(m.value, 6)) for m in history)


def test_best_so_far_and_mean_fitness_are_logged_once_per_generation(
    tmp_path: Path, tracking_uri: str
) -> None:
    from mlflow.tracking import MlflowClient

    later = record(5, "f", ("d",), 3, 0.5)
    sink = MlflowLineage(tracking_uri, "exp", tmp_path / "run")
    for generation in range(4):
        sink.emit([r for r in [*RECORDS, later] if r.generation == generation])
    sink.finish()
    client = MlflowClient(tracking_uri)
    assert steps(client, sink.run_id, "best_quality") == [(0, 0.2), (1, 0.3), (2, 0.9), (3, 0.9)]
    assert steps(client, sink.run_id, "mean_quality") == [(0, 0.15), (1, 0.3), (2, 0.65), (3, 0.5)]
    experiment = client.get_experiment(client.get_run(sink.run_id).info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # the runs view


def test_a_resumed_run_given_its_history_logs_each_generation_once(tmp_path: Path, tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    out = tmp_path / "run"
    first = MlflowLineage(tracking_uri, "exp", out)
    first.emit(RECORDS[:2])
    first.emit(RECORDS[2:3])  # generation 1 starts: generation 0 is logged
    first.finish(status="KILLED")
    again = MlflowLineage(tracking_uri, "exp", out, history=RECORDS[:3])
    again.emit(RECORDS[2:3])  # the unfinished generation again, then the rest
    again.emit(RECORDS[3:])
    again.finish()
    client = MlflowClient(tracking_uri)
    assert steps(client, first.run_id, "best_quality") == [(0, 0.2), (1, 0.3), (2, 0.9)]


def test_the_experiment_run_and_the_winners_run_are_tagged(tmp_path: Path, tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    sink = MlflowLineage(tracking_uri, "exp", tmp_path / "run")
    sink.emit(RECORDS)
    sink.finish(elites=["d"])
    client = MlflowClient(tracking_uri)
    tags = client.get_run(sink.run_id).data.tags
    assert tags["evoforum.winner"] == "d"
    assert tags["evoforum.winner_run"] == sink.run_ids["d"]
    assert f"runs/{sink.run_ids['d']}?workflowType=machine_learning)" in tags["mlflow.note.content"]
    winners = client.search_runs(
        [client.get_run(sink.run_id).info.experiment_id], filter_string="tags.`evoforum.is_winner` = 'true'"
    )
    assert [run.info.run_id for run in winners] == [sink.run_ids["d"]]


def test_a_candidates_description_links_to_its_parents_runs(tmp_path: Path, tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    long = [r.model_copy(update={"genome_hash": r.genome_hash * 64}) for r in RECORDS[:3]]
    child = RECORDS[3].model_copy(update={"genome_hash": "d" * 64, "parents": ("c" * 64, "b" * 64)})
    sink = MlflowLineage(tracking_uri, "exp", tmp_path / "run", describe=describe)
    sink.emit([*long, child])
    sink.finish()
    client = MlflowClient(tracking_uri)
    run = client.get_run(sink.run_ids["d" * 64])
    experiment = run.info.experiment_id
    note = run.data.tags["mlflow.note.content"]
    assert note.startswith("**mutate** · generation 2 · quality 0.9 on 3 items")
    c, b = sink.run_ids["c" * 64], sink.run_ids["b" * 64]
    assert (
        f"- [cccccccccc](#/experiments/{experiment}/runs/{c}?workflowType=machine_learning) · mutate · quality 0.3 on 3 items"
        in note
    )
    assert (
        f"- [bbbbbbbbbb](#/experiments/{experiment}/runs/{b}?workflowType=machine_learning) · seed · quality 0.2 on 3 items"
        in note
    )
    assert "quality 0.3 on 3 items · `diff_parent_1.diff.txt`" in note
    assert "quality 0.2 on 3 items · `diff_parent_2.diff.txt`" in note
    assert run.data.tags["evoforum.parent_runs"] == f"{c},{b}"  # full run ids
    assert len(c) == 32
    assert run.info.run_name == "g2-dddddddddd"
    seed = client.get_run(sink.run_ids["a" * 64]).data.tags["mlflow.note.content"]
    assert "No parents" in seed


def test_every_lineage_record_has_its_run_a_repeat_pointing_at_the_first(
    tmp_path: Path, tracking_uri: str
) -> None:
    from mlflow.tracking import MlflowClient

    again = RECORDS[2].model_copy(update={"index": 5, "generation": 3, "cached": True, "values": (0.35, 6.0)})
    records = [*RECORDS, again]
    out = tmp_path / "run"
    first = MlflowLineage(tracking_uri, "exp", out, describe=describe)
    first.emit(records[:4])
    first.finish(status="KILLED")
    resumed = MlflowLineage(tracking_uri, "exp", out, describe=describe, history=records[:4])
    resumed.emit(records[3:])  # the unfinished generation again: nothing is logged twice
    resumed.finish()
    client = MlflowClient(tracking_uri)
    runs = client.search_runs(
        [client.get_run(first.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{first.run_id}'",
    )
    assert len(runs) == len(records)  # one run per lineage record
    assert sorted(run.data.tags["evoforum.genome_hash"] for run in runs) == ["a", "b", "c", "c", "d", "e"]
    repeat = next(run for run in runs if "evoforum.repeat_of" in run.data.tags)
    assert repeat.data.tags["evoforum.repeat_of"] == resumed.run_ids["c"] == first.run_ids["c"]
    assert repeat.data.tags["evoforum.cached"] == "True"
    assert repeat.data.metrics["quality"] == pytest.approx(0.35)
    assert (
        f"runs/{resumed.run_ids['c']}?workflowType=machine_learning)"
        in repeat.data.tags["mlflow.note.content"]
    )
    assert client.list_artifacts(repeat.info.run_id) == []  # the first run holds the genome's files
    rows = [json.loads(line) for line in (out / "mlflow_runs.jsonl").read_text().splitlines()]
    assert sorted(row["index"] for row in rows) == [r.index for r in records]


def test_the_experiments_baselines_reach_its_fitness_picture(tmp_path: Path, tracking_uri: str) -> None:
    import numpy as np
    from PIL import Image

    def baseline_pixels(out: Path, references: dict[str, float] | None) -> int:
        sink = MlflowLineage(tracking_uri, out.name, out)
        sink.emit(RECORDS)
        sink.finish(references=references)
        rgb = np.asarray(Image.open(out / "plots" / "fitness.png").convert("RGB")).astype(int)
        red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        return int(((green > red + 60) & (green > blue + 60)).sum())  # the first reference line is green

    assert baseline_pixels(tmp_path / "plain", None) == 0
    assert baseline_pixels(tmp_path / "baselines", {"single_call (test)": 0.5}) > 100


def test_a_finished_run_says_how_to_browse_its_runs_view(tmp_path: Path) -> None:
    from evoforum.tracking.mlflow_sink import browse_hint

    out = tmp_path / "run"
    sink = MlflowLineage(f"sqlite:///{out / 'mlflow.db'}", "exp", out)
    sink.finish()
    hint = browse_hint(out)
    assert hint is not None
    assert (
        f"mlflow ui --backend-store-uri sqlite:///{out / 'mlflow.db'} --artifacts-destination {out / 'mlartifacts'}"
        in hint
    )
    experiment = json.loads((out / "mlflow.json").read_text())["experiment_id"]
    assert hint.endswith(f"http://127.0.0.1:5000/#/experiments/{experiment}?workflowType=machine_learning")
    elsewhere = tmp_path / "shared"
    MlflowLineage(f"sqlite:///{tmp_path / 'shared.db'}", "exp", elsewhere).finish()
    assert browse_hint(elsewhere) is None  # another store: its server, its address


def test_a_moved_run_folder_still_says_how_to_browse_it_and_resumes_in_its_new_place(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from evoforum.tracking.mlflow_sink import browse_hint

    old, new = tmp_path / "old", tmp_path / "new"
    first = MlflowLineage(f"sqlite:///{old / 'mlflow.db'}", "exp", old, describe=describe)
    first.emit(RECORDS[:2])
    first.finish(status="KILLED")
    old.rename(new)
    uri = f"sqlite:///{new / 'mlflow.db'}"
    hint = browse_hint(new)
    assert hint is not None
    assert uri in hint
    resumed = MlflowLineage(uri, "exp", new, describe=describe, history=RECORDS[:2])
    resumed.emit(RECORDS[2:])
    resumed.finish()
    assert resumed.run_id == first.run_id
    assert json.loads((new / "mlflow.json").read_text())["tracking_uri"] == uri
    assert not old.exists()
    client = MlflowClient(uri)
    children = client.search_runs(
        [client.get_run(first.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{first.run_id}'",
    )
    assert len(children) == len(RECORDS)
