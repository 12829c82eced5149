"""How many threads the local LLM server is started with."""

from __future__ import annotations

import os

import pytest

from evoforum.errors import ConfigError
from evoforum.services.llm import THREADS, threads


def test_the_default_is_at_most_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVOFORUM_LLM_THREADS", raising=False)
    assert threads() == min(THREADS, os.cpu_count() or 1)


def test_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOFORUM_LLM_THREADS", "1")
    assert threads() == 1


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_value_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("EVOFORUM_LLM_THREADS", value)
    with pytest.raises(ConfigError, match=f"EVOFORUM_LLM_THREADS .* not '{value}'"):
        threads()
