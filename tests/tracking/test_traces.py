"""Conversations as MLflow traces of candidate runs, against a real MLflow store on a sqlite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from evoforum.evolve.lineage import LineageRecord
from evoforum.forum import Forum, Message
from evoforum.tracking import MlflowLineage
from evoforum.tracking.traces import ConversationTraces, OpenForum, trace_id


def conversation() -> list[Message]:
    """A run's branch: its inputs, a task's output, an agent's turn with token usage, a failed task."""
    inputs = Message({"inputs": {"question": "2+2?"}}, "evoforum.flow", metadata={"event": "run"})
    plan = Message({"steps": ["add"]}, "plan", inputs.hash, metadata={"event": "task", "attempts": 1})
    usage = {"prompt_tokens": 12, "completion_tokens": 3}
    answer = Message("4", "solver", plan.hash, metadata={"model": "stub", "usage": usage})
    failed = Message.error(ValueError("no check"), "check", answer.hash)
    return [inputs, plan, answer, failed]


def record(genome: str, value: float, transcripts: tuple[str, ...], index: int = 0) -> LineageRecord:
    return LineageRecord(
        index=index,
        genome_hash=genome,
        parents=(),
        operator="seed",
        generation=0,
        values=(value,),
        items=len(transcripts),
        transcripts=transcripts,
    )


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def forum() -> Forum:
    forum = Forum()
    asyncio.run(forum.post_many(conversation()))
    return forum


def opener(forum: Forum) -> OpenForum:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Forum]:
        yield forum

    return opened


def traces_of(tracking_uri: str, sink: MlflowLineage, genome: str) -> list[Any]:
    from mlflow.tracing.client import TracingClient

    client = TracingClient(tracking_uri)
    run_id = sink.run_ids[genome]
    experiment = sink.client.get_run(run_id).info.experiment_id
    found = client.search_traces(locations=[experiment], run_id=run_id, include_spans=False)
    return [client.get_trace(t.info.trace_id) for t in found]


def test_a_candidates_conversation_is_a_trace_of_its_run_with_a_span_per_message(
    tmp_path: Path, tracking_uri: str, forum: Forum
) -> None:
    messages = conversation()
    leaf = messages[-1].hash
    traces = ConversationTraces(tracking_uri, opener(forum), "all")
    sink = MlflowLineage(tracking_uri, "exp", tmp_path / "run", traces=traces)
    sink.emit([record("a", 0.5, (leaf, "f" * 64))])  # a transcript the forum does not hold is skipped
    sink.finish()

    [trace] = traces_of(tracking_uri, sink, "a")
    assert trace.info.trace_id == trace_id(sink.run_ids["a"], leaf)
    assert trace.info.trace_metadata["mlflow.sourceRun"] == sink.run_ids["a"]
    assert trace.info.tags["evoforum.transcript"] == leaf
    assert trace.info.state.value == "ERROR"  # the conversation ended in a failed task
    root = next(s for s in trace.data.spans if s.parent_id is None)
    assert root.inputs == {"inputs": {"question": "2+2?"}}
    spans = sorted(
        (s for s in trace.data.spans if s.parent_id == root.span_id), key=lambda s: s.start_time_ns
    )
    assert [s.get_attribute("evoforum.message_hash") for s in spans] == [m.hash for m in messages]
    assert [s.name for s in spans] == ["evoforum.flow", "plan", "solver", "check"]
    assert [s.span_type for s in spans] == ["WORKFLOW", "TASK", "CHAT_MODEL", "AGENT"]
    plan, answer, failed = spans[1:]
    assert (plan.inputs, plan.outputs) == ({"inputs": {"question": "2+2?"}}, {"steps": ["add"]})
    assert answer.get_attribute("mlflow.chat.tokenUsage") == {
        "input_tokens": 12,
        "output_tokens": 3,
        "total_tokens": 15,
    }
    assert failed.status.status_code.value == "ERROR"
    assert trace.info.token_usage == {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15}


def test_elites_mode_traces_only_the_elites_and_logging_again_adds_nothing(
    tmp_path: Path, tracking_uri: str, forum: Forum
) -> None:
    leaf = conversation()[-1].hash
    traces = ConversationTraces(tracking_uri, opener(forum), "elites")
    sink = MlflowLineage(tracking_uri, "exp", tmp_path / "run", traces=traces)
    sink.emit([record("a", 0.5, (leaf,)), record("b", 0.9, (leaf,), index=1)])
    sink.finish(elites=["b"])
    assert traces_of(tracking_uri, sink, "a") == []
    assert len(traces_of(tracking_uri, sink, "b")) == 1
    experiment = sink.client.get_run(sink.run_id).info.experiment_id
    assert traces.log(experiment, sink.run_ids["b"], record("b", 0.9, (leaf,))) == []
    assert len(traces_of(tracking_uri, sink, "b")) == 1


def test_without_traces_a_candidate_run_has_none(tmp_path: Path, tracking_uri: str, forum: Forum) -> None:
    sink = MlflowLineage(tracking_uri, "exp", tmp_path / "run", traces=None)  # tracking.traces: none
    sink.emit([record("a", 0.5, (conversation()[-1].hash,))])
    sink.finish()
    assert traces_of(tracking_uri, sink, "a") == []
