"""parse(): edited modules read back; modules not in the exported form are rejected at their line."""

from __future__ import annotations

import pytest

import search_spaces
from evoforum.codegen import export, parse
from evoforum.errors import CodeRejected, GenomeInvalid, UsageError
from evoforum.genome import CompareSpec, LLMAgentSpec
from tests.genome.helpers import machine, pipeline

SEED = search_spaces.get("code_writing").seeds()[0]


def line_of(source: str, text: str) -> int:
    return next(number for number, line in enumerate(source.splitlines(), 1) if text in line)


def rejected(source: str) -> CodeRejected:
    with pytest.raises(CodeRejected) as caught:
        parse(source)
    assert isinstance(caught.value, UsageError)
    return caught.value


# -- edits a person makes ---------------------------------------------------------------------


def test_edited_prompt_string() -> None:
    source = export(SEED).replace("Complete this Python function:", "Finish this function:")
    genome = parse(source)
    writer = genome.agent("writer")
    assert isinstance(writer, LLMAgentSpec)
    assert writer.prompt == "Finish this function:\n\n{problem}"
    assert genome.hash != SEED.hash
    assert genome.model_copy(update={"agents": SEED.agents}).hash == SEED.hash


def test_edited_function_body_and_constant() -> None:
    source = export(pipeline()).replace('return text.upper() + "!"', 'return text.upper() + "?!"')
    source = source.replace("METADATA = ", "PUNCTUATION = 2\n\n\n# -- workflow --\nMETADATA = ", 1)
    source = source.replace("\n# -- workflow ---", "\n# note", 1)
    genome = parse(source)
    assert 'return text.upper() + "?!"' in genome.code
    assert "PUNCTUATION = 2" in genome.code
    assert genome.entry == pipeline().entry


def test_edited_temperature_guard_and_step_limit() -> None:
    source = export(machine())
    source = source.replace("value=True", "value=False").replace("max_steps=12", "max_steps=4")
    genome = parse(source)
    guard = genome.entry.transitions[1].guard  # type: ignore[union-attr]
    assert guard == CompareSpec(field="long", op="==", value=False)
    assert genome.entry.max_steps == 4  # type: ignore[union-attr]


def test_a_token_cap_round_trips_and_an_unset_one_is_not_written() -> None:
    writer, loud = pipeline().agents
    capped = pipeline(agents=(writer.model_copy(update={"max_tokens": 512}), loud))
    source = export(capped)
    assert "max_tokens=512," in source
    assert parse(source).hash == capped.hash != pipeline().hash
    assert "max_tokens" not in export(pipeline())
    assert parse(export(pipeline())).hash == pipeline().hash


def test_a_token_cap_written_by_hand_is_read_and_checked() -> None:
    source = export(pipeline()).replace("temperature=0.0,", "temperature=0.0,\n    max_tokens=300,")
    writer = parse(source).agent("writer")
    assert isinstance(writer, LLMAgentSpec)
    assert writer.max_tokens == 300
    error = rejected(source.replace("max_tokens=300", "max_tokens=8"))
    assert "agent 'writer': max_tokens:" in str(error)


def test_reformatted_module_still_parses() -> None:
    source = export(pipeline()).replace(
        "    return await ask(llm, writer, topic=topic)",
        "    return await ask(\n        llm,\n        writer,\n        topic=topic,\n    )",
    )
    assert parse(source) == pipeline()


def test_docstring_in_a_task_is_allowed() -> None:
    source = export(pipeline()).replace("def final(draft):\n", 'def final(draft):\n    """Shout it."""\n')
    assert parse(source).hash == pipeline().hash


# -- modules not in the exported form ---------------------------------------------------------


def test_syntax_error_names_its_line() -> None:
    source = export(pipeline()).replace("INPUTS = (", "INPUTS = ((", 1)
    error = rejected(source)
    assert str(error).startswith("line ")
    assert "not valid Python" in str(error)


def test_missing_metadata() -> None:
    error = rejected("def f():\n    return 1\n")
    assert str(error) == "line 1: no `METADATA = {...}`: this is not a module exported by evoforum"


def test_unexpected_statement_in_the_workflow_section() -> None:
    source = export(pipeline()).replace('INPUTS = ("topic",)', 'INPUTS = ("topic",)\nprint("hi")')
    error = rejected(source)
    assert error.line == line_of(source, 'print("hi")')  # type: ignore[attr-defined]
    assert "unexpected statement in the workflow section" in str(error)


def test_task_body_must_call_its_agent() -> None:
    source = export(pipeline()).replace(
        "    return loud(text=draft)", "    x = loud(text=draft)\n    return x"
    )
    error = rejected(source)
    assert error.line == line_of(source, "def final")  # type: ignore[attr-defined]
    assert "the body must be `return agent(param=source, ...)`" in str(error)


def test_source_that_is_not_a_parameter() -> None:
    source = export(pipeline()).replace("return loud(text=draft)", "return loud(text=drafts)")
    error = rejected(source)
    assert error.line == line_of(source, "drafts")  # type: ignore[attr-defined]
    assert "'drafts' is not a parameter of task 'final'" in str(error)


def test_unknown_llm_agent_argument_gets_a_hint() -> None:
    source = export(pipeline()).replace("temperature=0.0", "temprature=0.0")
    error = rejected(source)
    assert "LLMAgentSpec has no argument 'temprature' (did you mean 'temperature'?)" in str(error)
    assert error.line == line_of(source, "temprature")  # type: ignore[attr-defined]


def test_edge_without_a_parameter() -> None:
    source = export(pipeline()).replace(
        "def final(draft):\n    return loud(text=draft)", "def final(topic):\n    return loud(text=topic)"
    )
    error = rejected(source)
    assert str(error) == (
        f"line {line_of(source, 'def final')}: task 'final' comes after 'draft' (>>) but has no parameter 'draft' to read its output"
    )


def test_dag_call_with_extra_chains_reads_the_same_graph() -> None:
    source = export(pipeline()).replace("workflow = draft >> final", "workflow = dag(draft >> final, final)")
    assert parse(source) == pipeline()


def test_task_that_is_not_part_of_the_workflow() -> None:
    source = export(pipeline()).replace("workflow = draft >> final", "workflow = draft")
    error = rejected(source)
    assert "task 'final' is not part of the workflow" in str(error)
    assert error.line == line_of(source, "def final")  # type: ignore[attr-defined]


def test_unknown_name_in_the_flow() -> None:
    source = export(pipeline()).replace("workflow = draft >> final", "workflow = draft >> finale")
    error = rejected(source)
    assert (
        str(error) == f"line {line_of(source, 'workflow =')}: 'finale' is not a @task function of this module"
    )


def test_parsed_genome_is_validated() -> None:
    source = export(pipeline()).replace("loud = shout", "loud = shoot")
    with pytest.raises(GenomeInvalid, match="unknown function 'shoot'"):
        parse(source)
