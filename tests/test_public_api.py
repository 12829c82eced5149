"""The public surface: every promised name resolves, each subpackage exports exactly its public API,
and importing evoforum loads no backend."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import evoforum

HEAVY = ("ray", "mlflow", "nats", "asyncpg", "libcst", "openai", "deap", "weaviate", "llama_cpp")


def test_every_public_name_resolves() -> None:
    missing = [name for name in evoforum.__all__ if getattr(evoforum, name, None) is None]
    assert missing == []
    assert evoforum.codegen.export is not None
    assert evoforum.codegen.parse is not None


def test_importing_evoforum_loads_no_backend() -> None:
    code = f"import sys, evoforum; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="Mesage"):
        evoforum.Mesage  # type: ignore[attr-defined]  # noqa: B018


SUBPACKAGES = {
    "evoforum.bus": "Bus, DeadLetter, DeadLetters, Envelope, ForumHook, ForumLike, HASH_HEADER, Handler, MemoryBus, MessageFactory, NatsBus, Subject, Subscription",
    "evoforum.cli": "main",
    "evoforum.codegen": "export, parse, run_script",
    "evoforum.config": "ExperimentConfig, json_schema, load_config, validate_config",
    "evoforum.evolve": "Algorithm, Engine, Evaluator, EvolutionResult, GPSpace, Generational, Genome, InMemoryLineage, Islands, Job, JsonlLineage, LineageRecord, LineageSink, LocalEvaluator, MuPlusLambda, NSGA2, Operators, Racing, RayTuneEvaluator, TreeGenome, load_checkpoint",
    "evoforum.evolve.operators": "ALL, CODE_GP, CoEvolution, Edit, EditMemory, LLM, OPERATOR_SPACE, Operator, OperatorBandit, OperatorCandidate, OperatorContext, STRUCTURAL, Space, VariationPolicy, lmx_genome, operator, rewrite_genome",
    "evoforum.evolve.ray": "RayTuneEvaluator",
    "evoforum.flow": "CompiledFlow, CompiledMachine, Depends, Flow, MachineResult, Retry, RunResult, Runtime, Scope, State, StateMachine, Task, TaskOutcome, TaskState, Transition, dag, provider, providers, task",
    "evoforum.flow.compiled": "CompiledFlow, CompiledMachine",
    "evoforum.forum": "Agent, Forum, ForumStore, InMemoryStore, Message, MessagePromise, MessageStore, PostgresStore, agent",
    "evoforum.forum.stores": "ForumStore, InMemoryStore, MessageStore, PostgresStore, RefIndex",
    "evoforum.genome": "AgentSpec, AlwaysSpec, CompareSpec, Constraints, DagSpec, FromInputSpec, FromTaskSpec, FunctionAgentSpec, GuardSpec, HASHED_FIELDS, LLMAgentSpec, MachineSpec, Metadata, OutputSchemaSpec, PredicateSpec, RecallSpec, RememberSpec, RequestSpec, StateSpec, TaskSpec, TransitionSpec, WireSpec, WorkflowGenome, to_workflow",
    "evoforum.llm": "Budget, BudgetPool, ChatMessage, ChatRequest, Completion, LLMClient, Ledger, Limited, Metered, OpenAICompatible, Recording, Retrying, Timed, TokenSink, Usage, chat, chat_request",
    "evoforum.llm.stub": "FAULT_KINDS, StubServer, StubStats",
    "evoforum.memory": "Database, Embedder, Filter, Hit, KeyValue, Memory, MemoryKV, MemoryVectorStore, NatsKV, OpenAIEmbedder, PgVectorStore, SemanticMemory, VectorStore, WeaviateVectorStore",
    "evoforum.run": "ALGORITHMS, Design, Plan, RunFolder, RunSummary, StopFlag, design, lineage_rows, plan, resume_experiment, run_experiment, show_conversation, winner_source",
    "evoforum.sandbox": "Reason, Sandbox, SandboxIsolation, SandboxLimits, SandboxResult",
    "evoforum.services": "LocalServices, MODEL_NAME, ServiceURLs, local_services",
    "evoforum.tracking": "CandidateFiles, MlflowLineage, PopulationLineage, ancestry",
}
"""Each subpackage's ``__all__``: the names users call (README, configs, search spaces, experiments,
benchmarks, exported winners) and the protocols with their in-memory implementations."""


@pytest.mark.parametrize("package", sorted(SUBPACKAGES))
def test_a_subpackage_exports_its_public_api_only(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == SUBPACKAGES[package].split(", ")
    assert [name for name in module.__all__ if getattr(module, name, None) is None] == []


@pytest.mark.parametrize("package", sorted(SUBPACKAGES))
def test_a_subpackage_re_exports_nothing_beyond_its_all(package: str) -> None:
    init = Path(importlib.import_module(package).__file__ or "")
    imported = {
        alias.asname or alias.name
        for node in ast.parse(init.read_text()).body
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evoforum")
        for alias in node.names
    }
    modules = {name for name in imported if f"{package}.{name}" in sys.modules}
    assert imported - modules <= set(importlib.import_module(package).__all__)
