"""An exported module runs as a script: ``python winner.py "input"``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import search_spaces
from evoforum.codegen import export
from tests.genome.helpers import machine


def run(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
        env={**os.environ, **(env or {})},
    )


def test_exported_machine_runs_on_the_command_line_input(tmp_path: Path) -> None:
    path = tmp_path / "winner.py"
    path.write_text(export(machine()), encoding="utf-8")
    done = run(path, "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "HI!!!!!\n"


def test_wrong_number_of_inputs_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "winner.py"
    path.write_text(export(machine()), encoding="utf-8")
    done = run(path)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python")
    assert done.stderr.rstrip().endswith("TOPIC")


def test_llm_workflow_without_a_model_url_says_what_to_set(tmp_path: Path) -> None:
    path = tmp_path / "winner.py"
    path.write_text(export(search_spaces.get("qa_ensemble").seeds()[0]), encoding="utf-8")
    done = run(path, "What is 2 + 2?", env={"EVOFORUM_LLM_URL": ""})
    assert done.returncode == 2
    assert done.stderr.startswith("error: this workflow asks a language model: set EVOFORUM_LLM_URL")


@pytest.mark.llm
@pytest.mark.services
def test_exported_qa_workflow_answers_with_the_local_model(tmp_path: Path, llm_url: str) -> None:
    path = tmp_path / "winner.py"
    path.write_text(export(search_spaces.get("qa_ensemble").seeds()[0]), encoding="utf-8")
    done = run(path, "What is the capital of France? Answer in one word.", env={"EVOFORUM_LLM_URL": llm_url})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
