"""How the local LLM server uses the machine: threads and slots from the cores, or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from evoforum.errors import ConfigError
from evoforum.services.llm import (
    MAX_SLOTS,
    SLOT_CONTEXT,
    SLOTS_PER_CORE,
    LLMService,
    ServerSettings,
    server_settings,
)


@pytest.mark.parametrize("cores", [1, 2, 8])
def test_the_defaults_follow_the_cores(cores: int) -> None:
    settings = server_settings({}, cpus=cores)
    assert settings.threads == max(1, cores - 1)  # a core for the run's own work
    assert settings.slots == min(MAX_SLOTS, SLOTS_PER_CORE * cores)


def test_the_environment_overrides_threads_and_slots() -> None:
    env = {"EVOFORUM_LLM_THREADS": "1", "EVOFORUM_LLM_SLOTS": "3"}
    assert server_settings(env, cpus=8) == ServerSettings(threads=1, slots=3)


@pytest.mark.parametrize("name", ["EVOFORUM_LLM_THREADS", "EVOFORUM_LLM_SLOTS"])
@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_value_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} .* not '{value}'"):
        server_settings({name: value}, cpus=2)


def test_each_slot_gets_the_whole_context_of_one_request() -> None:
    argv = LLMService().argv_for(Path("model.gguf"), 8080, ServerSettings(threads=2, slots=6))

    def option(name: str) -> str:
        return argv[argv.index(name) + 1]

    assert argv[0].endswith("llama-server")
    assert option("--parallel") == "6"
    assert option("--ctx-size") == str(6 * SLOT_CONTEXT)
    assert option("--threads") == option("--threads-batch") == "2"
    assert option("--poll") == "0"  # waiting threads sleep instead of spinning on busy cores
