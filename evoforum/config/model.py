"""``ExperimentConfig``: what one YAML file says about one experiment.

Every section is a frozen pydantic model that forbids unknown keys, so a typo is an error (with
"did you mean …?") rather than a silently ignored setting. Services left unset (``None``) are the
embedded ones that ``evoforum run`` starts itself; naming a URL moves that piece to a real cluster.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

Objective = Literal["quality", "cost", "latency"]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExperimentSection(Section):
    """The task to evolve workflows for: a module of ``experiments/`` and its options."""

    name: str = Field(description="an experiment of experiments/ (quickstart, humaneval, …)")
    options: dict[str, Any] = Field(default_factory=dict, description="passed to the experiment")
    baselines: bool = Field(
        default=True,
        description="score the experiment's baselines (one plain call, ...) on the test split beside"
        " the winner; a baseline run of its own, such as random search, can leave them to the run"
        " it is compared with",
    )


class SearchSpaceSection(Section):
    """Where genomes come from: a module of ``search_spaces/`` and its options."""

    name: str = Field(description="a search space of search_spaces/ (code_writing, qa_ensemble, …)")
    options: dict[str, Any] = Field(default_factory=dict)


class AlgorithmSection(Section):
    """The DEAP-driven search; ``random_search`` and ``best_of_n`` are the equal-budget baselines."""

    kind: Literal["mu_plus_lambda", "generational", "nsga2", "islands", "random_search", "best_of_n"] = (
        "mu_plus_lambda"
    )
    population: PositiveInt = 8
    offspring: PositiveInt | None = Field(default=None, description="lambda; default: the population size")
    generations: PositiveInt = 4
    crossover_rate: float = Field(default=0.5, ge=0, le=1)
    mutation_rate: float = Field(default=0.5, ge=0, le=1)
    elites: int = Field(default=1, ge=0)
    tournament: PositiveInt = 3
    islands: PositiveInt = 2
    migration_every: PositiveInt = 2
    migrants: PositiveInt = 1
    objectives: tuple[Objective, ...] = Field(
        default=("quality",),
        description="quality first; then any of cost (tokens per item) and latency (wall seconds of "
        "an item's workflow run), both minimised",
    )
    temperature: float = Field(
        default=0.8,
        gt=0,
        le=2,
        description="best_of_n: every sample but the first (the seed itself) runs the seed's model "
        "agents at least this hot",
    )

    @model_validator(mode="after")
    def _rates(self) -> AlgorithmSection:
        if self.crossover_rate + self.mutation_rate > 1:
            raise ValueError("crossover_rate + mutation_rate must be at most 1")
        if self.objectives[0] != "quality":
            raise ValueError("the first objective must be 'quality'")
        twice = sorted({o for o in self.objectives if self.objectives.count(o) > 1})
        if twice:
            raise ValueError(f"objectives: {', '.join(twice)} named more than once")
        return self


class OperatorModelSection(Section):
    """The LLM operators' own model, when it is not the workers' (``llm``): a strong API model for
    rewrite, LMX and the co-evolution's meta operators, say, and the local model for the workflows.
    Mode, retries and prices (by model name) are ``llm``'s; the calls count in the run's token
    use and budget and are recorded and replayed with the workers'. The edit memory embeds with
    the workers' model."""

    url: str | None = Field(
        default=None, description="OpenAI-compatible base URL (…/v1); unset: the workers' server"
    )
    model: str = Field(description="the model the operators' requests name")
    api_key_env: str | None = Field(
        default=None,
        description="environment variable holding the key (it must be set); unset: the workers' key on their server, none on another",
    )
    timeout_s: PositiveFloat | None = Field(default=None, description="unset: llm.timeout_s")
    max_concurrency: PositiveInt | None = Field(
        default=None,
        description="operator calls in flight at once; unset: on the workers' server as many as it has slots, else 8",
    )


class OperatorsSection(Section):
    """Variation operators, their starting weights, and how the LLM operators learn."""

    weights: dict[str, float] = Field(
        default_factory=lambda: {"mutate": 1.0, "crossover": 1.0, "gp_code": 0.5, "lmx": 1.0, "rewrite": 1.0},
        description="per operator group (mutate, crossover, gp_code, lmx, rewrite: each of its operators at "
        "that weight) or per operator by name (its own weight, over its group's); 0 leaves it out",
    )
    bandit: bool = Field(default=True, description="learn which operators pay off per unit of cost")
    edit_memory: bool = Field(default=True, description="offer past edits and their effect to LLM operators")
    coevolve: bool = Field(
        default=False,
        description="evolve the LLM operators' own genomes alongside the population, scored by their children's gains",
    )
    coevolve_pool: int = Field(
        default=3,
        ge=2,
        description="with coevolve: operator genomes kept per LLM operator kind (the default one and mutations of it)",
    )
    coevolve_every: PositiveInt = Field(
        default=6,
        description="with coevolve: credited children of a kind between replacements of its worst operator genome",
    )
    llm: OperatorModelSection | None = Field(
        default=None, description="the LLM operators' own model; unset: the workers' (the llm section)"
    )


class PriceSection(Section):
    """Dollars per million tokens."""

    prompt: float = Field(default=0.0, ge=0)
    completion: float = Field(default=0.0, ge=0)


class LLMSection(Section):
    """The language model: the embedded local one unless a URL names another server."""

    url: str | None = Field(default=None, description="OpenAI-compatible base URL (…/v1); unset: embedded")
    model: str | None = None
    api_key_env: str = Field(default="OPENAI_API_KEY", description="environment variable holding the key")
    mode: Literal["live", "record", "replay"] = "record"
    timeout_s: PositiveFloat = 120.0
    max_concurrency: PositiveInt | None = Field(
        default=None,
        description="calls in flight at once; unset: as many as the model server has slots (8 if it does not say)",
    )
    retries: int = Field(default=3, ge=0)
    prices: dict[str, PriceSection] = Field(default_factory=dict, description="per model")


class EvaluationSection(Section):
    """Where candidates run: in this process or as Ray Tune trials."""

    backend: Literal["local", "ray"] = "local"
    ray_address: str | None = Field(
        default=None,
        description="a Ray cluster (host:port of its head; run on one of its nodes); unset: a local Ray",
    )
    concurrency: PositiveInt | None = Field(
        default=None,
        description="items evaluated at once (Ray: workers); unset: local, as many as the model server has slots; Ray, 2",
    )
    batch_size: PositiveInt = Field(default=8, description="candidates per Ray Tune trial, at least")
    racing: bool = False
    racing_min_items: PositiveInt = Field(
        default=1,
        description="with racing: items of the first rung (then twice as many at each next rung, up to all)",
    )
    timeout_s: PositiveFloat = 60.0
    memory_mb: PositiveInt = 1024

    def items_at_once(self, llm_slots: int | None = None) -> int:
        """``concurrency``, else for the local backend the model server's slots (its calls then
        keep every slot busy), else 2."""
        if self.concurrency is not None:
            return self.concurrency
        return llm_slots if self.backend == "local" and llm_slots else 2


class RuntimeSection(Section):
    """The runtime services; unset URLs are the embedded services."""

    nats_url: str | None = None
    postgres_url: str | None = None
    vector_store: Literal["pgvector", "weaviate", "memory"] = "pgvector"
    weaviate_url: str | None = None
    state_dir: str | None = Field(default=None, description="embedded services' folder (default .evoforum)")


class TrackingSection(Section):
    """MLflow lineage."""

    mlflow_uri: str | None = Field(default=None, description="unset: sqlite in the output folder")
    experiment_name: str | None = None
    log: Literal["all", "elites"] = "all"
    traces: Literal["all", "elites", "none"] = Field(
        default="elites",
        description="which candidate runs get their items' conversations as MLflow traces (one per item,"
        " a span per message): every logged candidate, the elites, or none; traces cost storage",
    )


class BudgetSection(Section):
    """Limits on the search; the run stops cleanly at the first one reached. The test split is
    scored after the search, outside them."""

    evaluations: PositiveInt | None = None
    llm_tokens: PositiveInt | None = None
    cost_usd: PositiveFloat | None = None
    wall_s: PositiveFloat | None = None


class ExperimentConfig(Section):
    """One experiment: what to solve, where to search, how, with what, and within which limits."""

    experiment: ExperimentSection
    search_space: SearchSpaceSection
    algorithm: AlgorithmSection = Field(default_factory=AlgorithmSection)
    operators: OperatorsSection = Field(default_factory=OperatorsSection)
    llm: LLMSection = Field(default_factory=LLMSection)
    evaluation: EvaluationSection = Field(default_factory=EvaluationSection)
    runtime: RuntimeSection = Field(default_factory=RuntimeSection)
    tracking: TrackingSection = Field(default_factory=TrackingSection)
    budget: BudgetSection = Field(default_factory=BudgetSection)
    seed: int = 0
