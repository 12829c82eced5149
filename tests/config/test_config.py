"""Configs: valid files load, every kind of mistake is named with where it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evoforum.config import json_schema, load_config
from evoforum.errors import ConfigError

MINIMAL = "experiment: {name: quickstart}\nsearch_space: {name: qa_ensemble}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_a_minimal_config_gets_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.experiment.name == "quickstart"
    assert config.algorithm.kind == "mu_plus_lambda"
    assert config.llm.url is None  # the embedded model
    assert config.seed == 0


def test_overrides_reach_nested_keys_and_read_values_as_yaml(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, MINIMAL),
        ["algorithm.population=12", "llm.url=http://x:8000/v1", "experiment.options.items=[1, 2]", "seed=7"],
    )
    assert config.algorithm.population == 12
    assert config.llm.url == "http://x:8000/v1"
    assert config.experiment.options == {"items": [1, 2]}
    assert config.seed == 7


def test_an_unknown_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, MINIMAL + "algorithm: {populaton: 3}\n"))
    assert "algorithm.populaton: unknown key (did you mean 'population'?)" in str(caught.value)


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    text = "experiment: {name: quickstart}\nalgorithm: {generations: 0, kind: annealing}\nsed: 1\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "4 problems" in message
    assert "search_space: required, missing" in message
    assert "algorithm.generations:" in message
    assert "algorithm.kind:" in message
    assert "sed: unknown key (did you mean 'seed'?)" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("experiment: [unclosed\n", "line 2: not valid YAML"),
        ("- a list\n", "a config is a mapping of sections"),
        (MINIMAL + "algorithm: {crossover_rate: 0.8, mutation_rate: 0.5}\n", "must be at most 1"),
    ],
)
def test_malformed_files_get_one_clear_message(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, text))


def test_a_missing_file_and_a_malformed_override_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"expected KEY\.PATH=VALUE"):
        load_config(write(tmp_path, MINIMAL), ["seed"])
    with pytest.raises(ConfigError, match="'name' is a value, not a section"):
        load_config(write(tmp_path, MINIMAL), ["experiment.name.x=1"])


def test_the_json_schema_describes_every_section() -> None:
    schema = json_schema()
    assert set(schema["required"]) == {"experiment", "search_space"}
    assert {"algorithm", "llm", "evaluation", "runtime", "tracking", "budget", "seed"} <= set(
        schema["properties"]
    )
    assert schema["additionalProperties"] is False


def test_the_coevolution_pool_and_interval_are_config_keys(tmp_path: Path) -> None:
    defaults = load_config(write(tmp_path, MINIMAL)).operators
    assert (defaults.coevolve_pool, defaults.coevolve_every) == (3, 6)
    chosen = load_config(
        write(tmp_path, MINIMAL), ["operators.coevolve_pool=5", "operators.coevolve_every=2"]
    ).operators
    assert (chosen.coevolve_pool, chosen.coevolve_every) == (5, 2)
    described = json_schema()["$defs"]["OperatorsSection"]["properties"]
    assert described["coevolve_pool"]["minimum"] == 2
    assert described["coevolve_every"]["exclusiveMinimum"] == 0
    assert "operator genomes" in described["coevolve_pool"]["description"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("operators.coevolve_pool=1", "operators.coevolve_pool: Input should be greater than or equal to 2"),
        ("operators.coevolve_every=0", "operators.coevolve_every: Input should be greater than 0"),
        ("operators.coevolve_pool=many", "operators.coevolve_pool: Input should be a valid integer"),
    ],
)
def test_a_bad_coevolution_setting_is_named(tmp_path: Path, override: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(write(tmp_path, MINIMAL), [override])


def test_a_bad_coevolution_setting_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evoforum.cli import main

    out = tmp_path / "never"
    status = main(
        ["run", str(write(tmp_path, MINIMAL)), "--out", str(out), "--set", "operators.coevolve_pool=1"]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "operators.coevolve_pool: Input should be greater than or equal to 2" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_the_operators_own_model_is_an_optional_section(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).operators.llm is None  # the workers' model
    section = load_config(
        write(tmp_path, MINIMAL),
        [
            "operators.llm.url=https://api.example.com/v1",
            "operators.llm.model=strong",
            "operators.llm.timeout_s=30",
        ],
    ).operators.llm
    assert section is not None
    assert (section.url, section.model, section.timeout_s, section.api_key_env) == (
        "https://api.example.com/v1",
        "strong",
        30.0,
        None,
    )
    described = json_schema()["$defs"]["OperatorModelSection"]
    assert described["required"] == ["model"]
    assert described["additionalProperties"] is False


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["operators.llm.model=strong", "operators.llm.api_key=sk-x"],
            "operators.llm.api_key: unknown key (did you mean 'api_key_env'?)",
        ),
        (["operators.llm.url=http://x/v1"], "operators.llm.model: required, missing"),
        (
            ["operators.llm.model=strong", "operators.llm.timeout_s=0"],
            "operators.llm.timeout_s: Input should be greater than 0",
        ),
    ],
)
def test_a_bad_operator_model_setting_is_named(tmp_path: Path, overrides: list[str], expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(write(tmp_path, MINIMAL), overrides)
