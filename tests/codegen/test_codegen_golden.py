"""Golden exports: the exported code of fixed genomes, byte for byte.

Set EVOFORUM_UPDATE_GOLDEN=1 to rewrite the files after an intended change of the export form.
They end in ``.py.txt`` so that the project's own linters leave them alone; the test below checks
them with ``ruff format --isolated`` (default settings, as a user's project would have).
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import search_spaces
from evoforum.codegen import export, parse
from evoforum.genome import WorkflowGenome
from tests.genome.helpers import machine, pipeline, structured

GOLDEN = Path(__file__).parent / "golden"


def cases() -> dict[str, WorkflowGenome]:
    found = {"pipeline": pipeline(), "machine": machine(), "structured": structured()}
    for name in sorted(search_spaces.SPACES):
        for index, seed in enumerate(search_spaces.get(name).seeds()):
            found[f"{name}_{index}"] = seed
    return found


CASES = cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_export_matches_golden_file(name: str) -> None:
    path = GOLDEN / f"{name}.py.txt"
    source = export(CASES[name])
    if os.environ.get("EVOFORUM_UPDATE_GOLDEN") == "1":
        path.write_text(source, encoding="utf-8")
    assert source == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_file_parses_back_to_the_same_genome(name: str) -> None:
    genome = parse((GOLDEN / f"{name}.py.txt").read_text(encoding="utf-8"))
    assert genome.hash == CASES[name].hash
    assert genome == CASES[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_files_are_formatted(name: str) -> None:
    source = (GOLDEN / f"{name}.py.txt").read_text(encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--isolated",
            "--check",
            "--diff",
            "--stdin-filename",
            "w.py",
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_exported_modules_import_only_public_names(name: str) -> None:
    tree = ast.parse(export(CASES[name]))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evoforum"):
            module = importlib.import_module(node.module)
            public = set(getattr(module, "__all__", ()))
            assert {alias.name for alias in node.names} <= public, node.module
