"""Tool libraries: genome code imports functions by name; validation, constraints and the sandbox
know them, and an import of the library is all an exported genome carries of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evoforum.codegen import export, parse
from evoforum.genome import Constraints, DagSpec, FunctionAgentSpec, TaskSpec, WireSpec, WorkflowGenome
from evoforum.genome.flows import FromInputSpec
from evoforum.genome.library import _LIBRARIES, library_files, library_source, register_library
from evoforum.genome.validate import find_problems
from evoforum.sandbox import Sandbox

LIBRARY = "toolbox.text"
SOURCE = 'def shout(text: str, times: int = 1) -> str:\n    return text.upper() + "!" * times\n'


@pytest.fixture(autouse=True)
def toolbox() -> Iterator[None]:
    register_library(LIBRARY, SOURCE)
    yield
    del _LIBRARIES[LIBRARY]


def genome(code: str, *parameters: str) -> WorkflowGenome:
    wires = tuple(WireSpec(parameter=p, source=FromInputSpec(name="text")) for p in parameters)
    return WorkflowGenome(
        inputs=("text",),
        agents=(FunctionAgentSpec(name="loud", function="shout"),),
        code=code,
        entry=DagSpec(tasks=(TaskSpec(name="say", agent="loud", inputs=wires),)),
    )


def test_a_function_agent_may_name_an_imported_library_function() -> None:
    assert find_problems(genome(f"from {LIBRARY} import shout\n", "text")) == []
    # its signature is read from the library: a wire to no parameter is found
    problems = find_problems(genome(f"from {LIBRARY} import shout\n", "text", "volume"))
    assert ("entry.tasks[0].inputs", "function 'shout' has no parameter 'volume'") in problems
    # a module that is no library gives no functions
    unknown = find_problems(genome("from textwrap import shout\n", "text"))
    assert any("unknown function 'shout'" in what for _, what in unknown)


def test_importing_twice_is_one_binding_and_a_def_beside_an_import_is_two() -> None:
    twice = f"from {LIBRARY} import shout\nfrom {LIBRARY} import shout\n"
    assert find_problems(genome(twice, "text")) == []
    shadowed = f"from {LIBRARY} import shout\n\n\ndef shout(text):\n    return text\n"
    assert any("'shout' is defined twice" in what for _, what in find_problems(genome(shadowed, "text")))


def test_constraints_allow_a_library_by_its_whole_name() -> None:
    code = f"from {LIBRARY} import shout\n"
    assert Constraints(allowed_imports=(LIBRARY,)).check(genome(code, "text")) == []
    refused = Constraints(allowed_imports=("toolbox",)).check(genome(code, "text"))
    assert refused == [("code", f"line 1: import of {LIBRARY!r} is not allowed")]


def test_library_files_hold_the_module_and_its_packages() -> None:
    files = library_files()
    assert files["toolbox/text.py"] == SOURCE
    assert files["toolbox/__init__.py"] == ""
    # the project's own library is declared as an entry point, found without registering
    assert library_source("search_spaces.library.code_tools") is not None
    assert "search_spaces/library/code_tools.py" in files


def test_the_sandbox_ships_libraries_to_the_code_that_imports_them() -> None:
    code = f"from {LIBRARY} import shout\n"
    assert Sandbox(files=library_files()).run(code, "shout", ["hi"], {"times": 2}) == "HI!!"


def test_an_export_carries_the_import_and_parses_back() -> None:
    made = genome(f"from {LIBRARY} import shout\n", "text")
    source = export(made)
    assert f"from {LIBRARY} import shout" in source
    assert "def shout" not in source
    assert parse(source).hash == made.hash


def test_a_helper_written_below_the_workflow_section_joins_the_code() -> None:
    made = genome(f"from {LIBRARY} import shout\n", "text")
    moved = (
        export(made)
        .replace(f"from {LIBRARY} import shout\n", "")
        .replace(
            "INPUTS =",
            f"from {LIBRARY} import shout\n\n\ndef whisper(text):\n    return text.lower()\n\n\nINPUTS =",
        )
    )
    read = parse(moved)
    assert f"from {LIBRARY} import shout" in read.code
    assert "def whisper(text):" in read.code
