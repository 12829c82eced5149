"""Search spaces: seeds and random genomes are valid, deterministic per seed, and constrained."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import search_spaces
from evoforum.errors import ConfigError
from evoforum.genome import Constraints, LLMAgentSpec, WorkflowGenome
from evoforum.genome.flows import DagSpec, walk
from search_spaces.strategies import genomes

SPACES = sorted(search_spaces.SPACES)


@pytest.mark.parametrize("name", SPACES)
def test_seeds_are_valid_and_within_constraints(name: str) -> None:
    space = search_spaces.get(name)
    seeds = space.seeds()
    assert len(seeds) >= 2
    for seed in seeds:
        assert space.check(seed) == []
    assert len({seed.hash for seed in seeds}) == len(seeds)


@pytest.mark.parametrize("name", SPACES)
def test_random_genomes_are_valid_and_deterministic_per_seed(name: str) -> None:
    space = search_spaces.get(name)
    first = [space.random_genome(np.random.default_rng(seed)).hash for seed in range(40)]
    again = [space.random_genome(np.random.default_rng(seed)).hash for seed in range(40)]
    assert first == again
    assert len(set(first)) > 10  # the space is not degenerate


@pytest.mark.parametrize("name", SPACES)
def test_random_genomes_use_the_blocks_of_their_space(name: str) -> None:
    space = search_spaces.get(name)
    genome = space.random_genome(np.random.default_rng(7))
    for agent in genome.agents:
        if isinstance(agent, LLMAgentSpec):
            assert agent.model in space.blocks.models
            assert agent.temperature in space.blocks.temperatures


def test_code_writing_makes_write_test_fix_machines() -> None:
    genome = search_spaces.get("code_writing").seeds()[0]
    states = [state.name for state in genome.entry.states]  # type: ignore[union-attr]
    assert states == ["write", "fix", "done"]
    assert genome.entry.final == ("done",)  # type: ignore[union-attr]


def test_qa_ensemble_topologies_vary() -> None:
    space = search_spaces.get("qa_ensemble")
    sizes = set()
    for seed in range(30):
        genome = space.random_genome(np.random.default_rng(seed))
        sizes.add(sum(len(b.tasks) for _, b in walk(genome.entry) if isinstance(b, DagSpec)))
    assert len(sizes) >= 4


def test_constraints_report_every_violation() -> None:
    genome = search_spaces.get("code_writing").seeds()[1]
    tight = Constraints(
        max_tasks=3,
        max_states=2,
        max_agents=2,
        max_code_lines=5,
        allowed_models=("gpt",),
        allowed_imports=("re",),
    )
    found = tight.check(genome)
    whats = [what for _, what in found]
    assert any("tasks, more than the 3 allowed" in what for what in whats)
    assert any("states, more than the 2 allowed" in what for what in whats)
    assert any("agents, more than the 2 allowed" in what for what in whats)
    assert any("lines, more than the 5 allowed" in what for what in whats)
    assert ("agents[0].model", "model 'qwen2.5-coder-0.5b-instruct' is not allowed (gpt)") in found
    library = "search_spaces.library.code_tools"
    assert ("code", f"line 1: import of {library!r} is not allowed") in found


def test_space_check_includes_constraints() -> None:
    space = search_spaces.get("qa_ensemble")
    genome = space.seeds()[0]
    other = genome.model_copy(
        update={
            "agents": tuple(
                a.model_copy(update={"model": "big"}) if isinstance(a, LLMAgentSpec) else a
                for a in genome.agents
            )
        }
    )
    assert space.check(other) == [
        ("agents[0].model", "model 'big' is not allowed (qwen2.5-coder-0.5b-instruct)")
    ]


def test_unknown_space_names_a_close_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'qa_ensemble'"):
        search_spaces.get("qa_ensamble")


@settings(max_examples=25, deadline=None)
@given(genomes())
def test_strategy_gives_valid_genomes(genome: WorkflowGenome) -> None:
    assert genome.problems() == []


def test_code_writing_options_set_how_often_random_genomes_use_the_runtime_genes() -> None:
    import experiments
    from evoforum.genome import RecallSpec, RequestSpec

    solved = experiments.get("quickstart", {"solved": True}).examples()
    space = search_spaces.get("code_writing", solved, {"review_chance": 1, "recall_chance": 1})
    for i in range(5):
        kinds = {type(a) for a in space.random_genome(np.random.default_rng(i)).agents}
        assert {RequestSpec, RecallSpec} <= kinds
    never = search_spaces.get("code_writing", solved, {"review_chance": 0, "recall_chance": 0})
    for i in range(5):
        kinds = {type(a) for a in never.random_genome(np.random.default_rng(i)).agents}
        assert not {RequestSpec, RecallSpec} & kinds


@pytest.mark.parametrize(
    ("space", "options", "message"),
    [
        ("code_writing", {"review_chanc": 1}, "did you mean 'review_chance'"),
        ("code_writing", {"recall_chance": 1.5}, "a probability from 0 to 1"),
        ("code_writing", {"review_chance": True}, "a probability from 0 to 1"),
        ("qa_ensemble", {"review_chance": 1}, "known: none"),
    ],
)
def test_a_bad_search_space_option_is_a_config_error(space: str, options: dict, message: str) -> None:
    from evoforum.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        search_spaces.get(space, None, options)


def test_quickstart_gives_solutions_to_recall_only_when_asked() -> None:
    import experiments
    from evoforum.errors import ConfigError

    assert experiments.get("quickstart").recall_items() == ()
    assert len(experiments.get("quickstart", {"solved": True}).recall_items()) == 7
    with pytest.raises(ConfigError, match=r"experiment\.options\.solved"):
        experiments.get("quickstart", {"solved": "yes"})
