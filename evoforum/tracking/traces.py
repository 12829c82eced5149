"""Conversations as MLflow traces: one trace per evaluated item, linked to its candidate's run.

An item's transcript hash names a conversation in the forum (``Forum.branch``: the messages from
the root down to it). Each conversation becomes one trace whose metadata ``mlflow.sourceRun``
names the candidate run, so the run's Traces tab lists what the candidate said:

- a root span ``conversation``: inputs = the first message's content, outputs = the last one's;
  attributes ``evoforum.transcript`` (the leaf hash), ``evoforum.genome_hash``, ``evoforum.messages``;
- under it one span per message, in order (each task's output, each agent turn), named by its
  sender: inputs = the message before it, outputs = its own content; attributes
  ``evoforum.message_hash``, ``evoforum.sender``, ``evoforum.kind``, ``evoforum.index``,
  ``evoforum.metadata``, and when the metadata records ``usage`` MLflow's token usage
  (``mlflow.chat.tokenUsage``, summed by MLflow into the trace's token count). An ``error``
  message's span has status ``ERROR``.

Messages carry no timestamps, so span times only keep the order (1 ms per message from the moment
of logging). Trace and span ids are derived from (run id, transcript hash, message hash), and a
trace already logged for the run is skipped: logging again (a resumed run) adds nothing.

The spans are built as finished MLflow ``Span`` entities and written with a ``TracingClient`` on
the tracker's tracking URI, on the tracker's logging thread: MLflow's live tracing API exports to
the process-wide tracking URI, in the background, and drops failures, none of which suits a run
that names its own store. Which candidates get traces is ``tracking.traces``: ``all`` (every logged
candidate), ``elites`` (the run's elites, when it finishes) or ``none``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

from evoforum.errors import UnknownMessage
from evoforum.evolve.lineage import LineageRecord
from evoforum.forum.message import Message
from evoforum.tracking.runs import TAG

TraceMode = Literal["all", "elites"]
"""Which candidates get traces (``tracking.traces``; ``none`` is no ``ConversationTraces``)."""
PREVIEW = 1000
"""Characters of the first and last message kept as the trace's request and response preview."""
_STEP_NS = 1_000_000


class Branches(Protocol):
    """What traces need of a forum: a conversation by its leaf hash (``evoforum.forum.Forum``)."""

    async def branch(self, hash_: str) -> list[Message]: ...


OpenForum = Callable[[], AbstractAsyncContextManager[Branches]]
"""Opens the forum for one batch of conversations, on the logging thread's own event loop."""


@dataclass(frozen=True)
class Conversation:
    """One item's conversation: its transcript (leaf) hash and its messages, root first."""

    transcript: str
    messages: Sequence[Message]


class ConversationTraces:
    """Logs candidates' conversations as MLflow traces of their runs (see the module docstring)."""

    def __init__(self, tracking_uri: str, open_forum: OpenForum, mode: TraceMode = "elites") -> None:
        from mlflow.tracing.client import TracingClient

        self.mode = mode
        self._open = open_forum
        self._client = TracingClient(tracking_uri)

    def log(self, experiment_id: str, run_id: str, record: LineageRecord) -> list[str]:
        """Log ``record``'s conversations as traces of ``run_id``; the ids of the traces it wrote
        (a transcript the forum does not hold, or one traced before, is skipped)."""
        done = self._traced(experiment_id, run_id)
        wanted = [t for t in dict.fromkeys(record.transcripts) if trace_id(run_id, t) not in done]
        if not wanted:
            return []
        traces = [
            _trace(experiment_id, run_id, record.genome_hash, conversation)
            for conversation in asyncio.run(self._read(wanted))
        ]
        self._write(experiment_id, traces)
        return [t.info.trace_id for t in traces]

    def log_elites(
        self,
        experiment_id: str,
        run_ids: Mapping[str, str],
        records: Sequence[LineageRecord],
        elites: Sequence[str],
    ) -> None:
        """Log the conversations of each elite that has a run (its last record's transcripts)."""
        last = {r.genome_hash: r for r in records}
        for genome_hash in elites:
            if genome_hash in run_ids and genome_hash in last:
                self.log(experiment_id, run_ids[genome_hash], last[genome_hash])

    async def _read(self, transcripts: Sequence[str]) -> list[Conversation]:
        found = []
        async with self._open() as forum:
            for transcript in transcripts:
                try:
                    found.append(Conversation(transcript, await forum.branch(transcript)))
                except UnknownMessage:
                    continue
        return found

    def _traced(self, experiment_id: str, run_id: str) -> set[str]:
        """The ids of the traces already linked to ``run_id``."""
        seen: set[str] = set()
        token = None
        while True:
            page = self._client.search_traces(
                locations=[experiment_id], run_id=run_id, include_spans=False, page_token=token
            )
            seen.update(t.info.trace_id for t in page)
            token = page.token
            if not token:
                return seen

    def _write(self, experiment_id: str, traces: Sequence[Any]) -> None:
        from mlflow.entities import TraceData
        from mlflow.tracing.constant import SpansLocation, TraceTagKey

        in_store = True
        try:
            self._client.log_spans(experiment_id, [s for t in traces for s in t.data.spans])
        except NotImplementedError:  # a store without span logging keeps spans as artifacts
            in_store = False
        for trace in traces:
            info = self._client.start_trace(trace.info)
            if not in_store or info.tags.get(TraceTagKey.SPANS_LOCATION) != SpansLocation.TRACKING_STORE:
                self._client._upload_trace_data(info, TraceData(spans=trace.data.spans))


def trace_id(run_id: str, transcript: str) -> str:
    """The MLflow trace id of ``transcript``'s conversation in ``run_id`` (``tr-`` and 32 hex)."""
    return f"tr-{_otel_trace_id(run_id, transcript):032x}"


def _otel_trace_id(run_id: str, transcript: str) -> int:
    return int(hashlib.sha256(f"{run_id}:{transcript}".encode()).hexdigest()[:32], 16) or 1


def _span_id(trace: int, key: str) -> int:
    return int(hashlib.sha256(f"{trace:032x}:{key}".encode()).hexdigest()[:16], 16) or 1


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _trace(experiment_id: str, run_id: str, genome_hash: str, conversation: Conversation) -> Any:
    """The finished MLflow ``Trace`` of one conversation."""
    from mlflow.entities import SpanType, Trace, TraceData, TraceInfo, TraceLocation, TraceState
    from mlflow.tracing.constant import TraceMetadataKey, TraceTagKey

    messages = conversation.messages
    otel_id = _otel_trace_id(run_id, conversation.transcript)
    ident = f"tr-{otel_id:032x}"
    start = time.time_ns()
    root_id = _span_id(otel_id, "conversation")
    first, last = messages[0], messages[-1]
    root = _span(
        otel_id,
        root_id,
        None,
        "conversation",
        (start, start + _STEP_NS * len(messages)),
        {
            "mlflow.traceRequestId": ident,
            "mlflow.spanType": SpanType.WORKFLOW,
            "mlflow.spanInputs": first.content,
            "mlflow.spanOutputs": last.content,
            f"{TAG}transcript": conversation.transcript,
            f"{TAG}genome_hash": genome_hash,
            f"{TAG}messages": len(messages),
        },
        error=None,
    )
    spans = [root]
    for index, message in enumerate(messages):
        attributes = {
            "mlflow.traceRequestId": ident,
            "mlflow.spanType": _span_type(message),
            "mlflow.spanInputs": messages[index - 1].content if index else None,
            "mlflow.spanOutputs": message.content,
            **_message_attributes(message, index),
        }
        at = start + _STEP_NS * index
        error = message.text if message.kind == "error" else None
        spans.append(
            _span(
                otel_id,
                _span_id(otel_id, message.hash),
                root_id,
                message.sender,
                (at, at + _STEP_NS),
                attributes,
                error,
            )
        )
    info = TraceInfo(
        trace_id=ident,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=start // 1_000_000,
        state=TraceState.ERROR if last.kind == "error" else TraceState.OK,
        execution_duration=len(messages),
        request_preview=first.text[:PREVIEW],
        response_preview=last.text[:PREVIEW],
        trace_metadata={TraceMetadataKey.SOURCE_RUN: run_id},
        tags={
            TraceTagKey.TRACE_NAME: "conversation",
            f"{TAG}genome_hash": genome_hash,
            f"{TAG}transcript": conversation.transcript,
        },
    )
    return Trace(info=info, data=TraceData(spans=spans))


def _message_attributes(message: Message, index: int) -> dict[str, Any]:
    """A message span's own attributes: its hash, sender, kind, position, metadata and tokens."""
    from mlflow.tracing.constant import SpanAttributeKey

    metadata = dict(message.metadata)
    attributes: dict[str, Any] = {
        f"{TAG}message_hash": message.hash,
        f"{TAG}sender": message.sender,
        f"{TAG}kind": message.kind,
        f"{TAG}index": index,
        f"{TAG}metadata": metadata,
    }
    usage = metadata.get("usage")
    if isinstance(usage, Mapping):
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        attributes[SpanAttributeKey.CHAT_USAGE] = {
            "input_tokens": prompt,
            "output_tokens": completion,
            "total_tokens": prompt + completion,
        }
    model = metadata.get("answered_by") or metadata.get("model")
    if isinstance(model, str):
        attributes[SpanAttributeKey.MODEL] = model
    return attributes


def _span_type(message: Message) -> str:
    """``CHAT_MODEL`` for a model's answer, ``TASK`` for a task's output, ``AGENT`` otherwise."""
    from mlflow.entities import SpanType

    metadata = message.metadata
    if "usage" in metadata or message.sender == "assistant":
        return str(SpanType.CHAT_MODEL)
    if metadata.get("event") == "task":
        return str(SpanType.TASK)
    if "event" in metadata:  # the flow's own markers: a run's inputs, a state entered
        return str(SpanType.WORKFLOW)
    return str(SpanType.AGENT)


def _span(
    trace: int,
    span: int,
    parent: int | None,
    name: str,
    times: tuple[int, int],
    attributes: Mapping[str, Any],
    error: str | None,
) -> Any:
    """A finished MLflow ``Span`` (attribute values JSON-encoded, as MLflow stores them)."""
    from mlflow.entities import Span
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

    def context(span_id: int) -> SpanContext:
        return SpanContext(trace, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))

    status = Status(StatusCode.ERROR, error) if error is not None else Status(StatusCode.OK)
    return Span(
        ReadableSpan(
            name=name,
            context=context(span),
            parent=context(parent) if parent is not None else None,
            start_time=times[0],
            end_time=times[1],
            attributes={key: _json(value) for key, value in attributes.items()},
            status=status,
            resource=Resource.get_empty(),
        )
    )
