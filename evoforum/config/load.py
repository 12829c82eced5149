"""Reading a config: YAML, ``--set key.path=value`` overrides, and errors a person can act on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from evoforum.config.model import ExperimentConfig
from evoforum.errors import ConfigError, did_you_mean


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """The validated config in ``path`` with ``overrides`` applied; ``ConfigError`` names every problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: cannot read it ({error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{file}: {where}not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: a config is a mapping of sections, got {type(data).__name__}")
    for override in overrides:
        apply_override(data, override)
    return validate_config(data, source=str(file))


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in nested ``data``; the value is read as YAML (``3``, ``true``, ``[a, b]``)."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE")
    parts = key.strip().split(".")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {override!r}: {part!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def validate_config(data: dict[str, Any], source: str = "config") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as error:
        lines = [_describe(problem, data) for problem in error.errors()]
        count = f"{len(lines)} problem" + ("s" if len(lines) != 1 else "")
        raise ConfigError(f"{source}: {count}:\n" + "\n".join(f"  - {line}" for line in lines)) from None


def _describe(problem: Any, data: dict[str, Any]) -> str:
    location = [str(part) for part in problem["loc"]]
    path = ".".join(location) or "(top)"
    if problem["type"] == "extra_forbidden":
        known = _known_fields(location[:-1])
        return f"{path}: unknown key{did_you_mean(location[-1], known)}"
    if problem["type"] == "missing":
        return f"{path}: required, missing"
    return f"{path}: {problem['msg']}"


def _known_fields(location: list[str]) -> list[str]:
    model: type[BaseModel] = ExperimentConfig
    for part in location:
        field = model.model_fields.get(part)
        section = _section(field.annotation) if field else None
        if section is None:
            return []
        model = section
    return list(model.model_fields)


def _section(annotation: Any) -> type[BaseModel] | None:
    """The section an annotation names (``X`` or an optional ``X | None``), if any."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def json_schema() -> dict[str, Any]:
    """The JSON schema of a config file, for editors (``configs/schema.json``)."""
    schema = ExperimentConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "evoforum experiment config"
    return schema
