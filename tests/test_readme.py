"""Every Python example in the README runs, and every command it names exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
PYTHON = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
YAML = re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.S)


def test_the_readme_opens_with_exactly_the_two_commands() -> None:
    first_block = re.search(r"```\n(.*?)```", TEXT, flags=re.S)
    assert first_block is not None
    assert first_block.group(1).split("\n")[:2] == ["make run", "make test"]
    assert first_block.group(1).strip().count("\n") == 1


@pytest.mark.parametrize("source", PYTHON, ids=[f"example{i}" for i in range(len(PYTHON))])
def test_python_examples_run(source: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(source)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_the_second_example_loops_until_the_tests_pass() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PYTHON[1]], capture_output=True, text=True, timeout=120, check=False
    )
    assert "['write', 'test', 'fix', 'test', 'fix', 'test', 'done']" in result.stdout


@pytest.mark.parametrize("source", YAML, ids=[f"yaml{i}" for i in range(len(YAML))])
def test_config_snippets_are_valid_config_sections(source: str) -> None:
    import yaml

    from evoforum.config import validate_config

    data = {
        "experiment": {"name": "quickstart"},
        "search_space": {"name": "code_writing"},
        **yaml.safe_load(source),
    }
    validate_config(data)


def test_every_cli_command_the_readme_names_is_a_real_subcommand() -> None:
    named = set(re.findall(r"^evoforum (\w+)", TEXT, flags=re.M))
    assert named >= {"run", "resume", "lineage", "show", "export", "services"}
    for command in sorted(named):
        result = subprocess.run(
            [sys.executable, "-m", "evoforum", command, "--help"], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, (command, result.stderr)
