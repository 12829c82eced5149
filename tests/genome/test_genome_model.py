"""The genome data model: frozen, closed, content-hashed without its metadata."""

from __future__ import annotations

import pydantic
import pytest

from evoforum.errors import GenomeInvalid
from evoforum.genome import HASHED_FIELDS, CompareSpec, DagSpec, LLMAgentSpec, Metadata, WorkflowGenome
from evoforum.hashing import is_hash
from tests.genome.helpers import machine, pipeline


def test_hash_is_content_based_and_ignores_metadata() -> None:
    genome = pipeline()
    renamed = genome.model_copy(update={"metadata": Metadata(name="other", notes="n", origin={"op": "x"})})
    assert is_hash(genome.hash)
    assert renamed.hash == genome.hash
    assert pipeline().hash == genome.hash
    assert HASHED_FIELDS == ("inputs", "agents", "code", "entry")


def test_hash_changes_with_behaviour() -> None:
    genome = pipeline()
    assert pipeline(inputs=("subject",)).hash != genome.hash
    assert pipeline(code=genome.code + "\nX = 1\n").hash != genome.hash
    loud = genome.agents[1]
    assert (
        pipeline(agents=(genome.agents[0].model_copy(update={"temperature": 0.5}), loud)).hash != genome.hash
    )


def test_hash_is_pinned() -> None:
    # Changing this value means every stored genome hash changes: do it on purpose only.
    assert pipeline().hash == PINNED


def test_code_blank_lines_at_the_ends_do_not_count() -> None:
    assert pipeline(code="\n\n" + pipeline().code + "\n\n\n").hash == pipeline().hash


def test_models_are_frozen_and_closed() -> None:
    genome = pipeline()
    with pytest.raises(pydantic.ValidationError):
        genome.code = ""  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="extra"):
        DagSpec(tasks=(), colour="red")  # type: ignore[call-arg]


def test_json_round_trip_keeps_variants() -> None:
    genome = machine()
    loaded = WorkflowGenome.load(genome.model_dump_json())
    assert loaded == genome
    guard = loaded.entry.transitions[1].guard  # type: ignore[union-attr]
    assert isinstance(guard, CompareSpec)


def test_load_turns_shape_errors_into_genome_invalid_with_paths() -> None:
    data = pipeline().model_dump(mode="json")
    data["agents"][0]["temperature"] = 7
    data["entry"]["tasks"][1]["executor"] = "gpu"
    with pytest.raises(GenomeInvalid) as caught:
        WorkflowGenome.load(data)
    paths = [problem.path for problem in caught.value.problems]
    assert "agents[0].llm.temperature" in paths
    assert "entry.dag.tasks[1].executor" in paths


def test_load_runs_validation() -> None:
    data = pipeline().model_dump(mode="json")
    data["entry"]["tasks"][1]["agent"] = "lowd"
    with pytest.raises(GenomeInvalid, match="did you mean 'loud'"):
        WorkflowGenome.load(data)


def test_compare_guard_evaluates_fields() -> None:
    assert CompareSpec(field="passed", op="==", value=True)({"passed": True})
    assert not CompareSpec(field="passed", op="==", value=True)({"passed": False})
    assert not CompareSpec(field="missing", op="==", value=1)({"passed": True})
    assert CompareSpec(field="a.b", op=">=", value=2)({"a": {"b": 3}})
    assert CompareSpec(op="contains", value="OK")("all OK")
    assert not CompareSpec(op="<", value=3)("text")  # types clash: the guard does not hold


PINNED = "8e95b2adc2b12ed9dcaec626717a9bd9c1488ffe1b037fe4478f4b68138e7348"


def test_the_data_model_does_not_import_the_runtime() -> None:
    import subprocess
    import sys

    code = (
        "import sys, evoforum.genome, search_spaces\n"
        "print(sorted(m for m in sys.modules if m.startswith(('evoforum.flow', 'evoforum.llm', 'libcst'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_step_limit_is_max_steps_and_keeps_its_old_json_key() -> None:
    from evoforum.genome import MachineSpec

    old_key = MachineSpec.model_fields["max_steps"].alias
    assert old_key is not None
    assert old_key != "max_steps"
    genome = machine()
    data = genome.model_dump(mode="json")
    assert data["entry"][old_key] == 12
    assert "max_steps" not in data["entry"]
    assert genome.entry.max_steps == 12  # type: ignore[union-attr]
    renamed = {**data, "entry": {**{k: v for k, v in data["entry"].items() if k != old_key}, "max_steps": 12}}
    assert WorkflowGenome.load(data).hash == WorkflowGenome.load(renamed).hash == genome.hash


def test_flow_and_genome_share_the_step_limit_default() -> None:
    from evoforum.flow import StateMachine
    from evoforum.genome import MachineSpec

    flow_default = StateMachine.model_fields["max_steps"].default
    assert flow_default == MachineSpec.model_fields["max_steps"].default == 20


def capped(max_tokens: int | None) -> WorkflowGenome:
    """``pipeline()`` with its writer's ``max_tokens`` set to ``max_tokens``."""
    genome = pipeline()
    writer = LLMAgentSpec.model_validate({**genome.agents[0].model_dump(), "max_tokens": max_tokens})
    return pipeline(agents=(writer, genome.agents[1]))


def test_an_unset_token_cap_keeps_the_hash_and_a_set_one_changes_it() -> None:
    assert capped(None).hash == pipeline().hash == PINNED
    assert "max_tokens" not in capped(None).model_dump(mode="json")["agents"][0]
    assert capped(512).hash != PINNED
    assert capped(512).hash != capped(256).hash
    assert capped(512).model_dump(mode="json")["agents"][0]["max_tokens"] == 512


def test_a_token_cap_survives_json_and_saved_genomes_without_it_load() -> None:
    for genome in (capped(None), capped(512)):
        loaded = WorkflowGenome.load(genome.model_dump_json())
        assert loaded == genome
        assert loaded.hash == genome.hash
    saved = pipeline().model_dump(mode="json")
    saved["agents"][0].pop("max_tokens", None)
    assert WorkflowGenome.load(saved).agents[0] == capped(None).agents[0]


@pytest.mark.parametrize("bad", [0, 15, 4097])
def test_a_token_cap_out_of_range_is_rejected_with_its_path(bad: int) -> None:
    data = capped(512).model_dump(mode="json")
    data["agents"][0]["max_tokens"] = bad
    with pytest.raises(GenomeInvalid) as caught:
        WorkflowGenome.load(data)
    assert "agents[0].llm.max_tokens" in [problem.path for problem in caught.value.problems]
