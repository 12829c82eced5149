"""The quickstart through the command line with the real local model (Qwen2.5-Coder-0.5B)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from evoforum.codegen import parse
from tests.e2e.conftest import ROOT, cli_env, evoforum

pytestmark = [pytest.mark.services, pytest.mark.llm]

SMALL = [
    "--set", "algorithm.population=1", "--set", "algorithm.offspring=1", "--set", "algorithm.generations=1",
]  # fmt: skip


def test_quickstart_with_the_local_model_evolves_exports_and_runs(
    tmp_path: Path, postgres_url: str, llm_url: str, llm_model: str
) -> None:
    env = cli_env(tmp_path, postgres_url=postgres_url, llm_url=llm_url, llm_model=llm_model)
    out = tmp_path / "quick"
    done = evoforum(
        "run", str(ROOT / "configs" / "quickstart.yaml"), "--out", str(out), *SMALL, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary["llm_calls"] > 0
    assert summary["evaluations"] == 2
    assert 0.0 <= summary["best"]["test_score"] <= 1.0
    lineage = evoforum("lineage", str(out), env=env)
    assert lineage.returncode == 0, lineage.stderr
    assert lineage.stdout.splitlines()[-1].startswith("gen   0  init")
    target = tmp_path / "winner.py"
    exported = evoforum("export", str(out), "-o", str(target), env=env)
    assert exported.returncode == 0, exported.stderr
    assert parse(target.read_text()).hash == summary["best"]["genome_hash"]
    problem = 'def double(n: int) -> int:\n    """Return twice n.\n    >>> double(4)\n    8\n    """\n'
    ran = subprocess.run(
        [sys.executable, str(target), problem],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "def double" in ran.stdout
