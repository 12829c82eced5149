"""Experiment configs: YAML validated by pydantic, overrides, and a JSON schema for editors."""

from evoforum.config.load import json_schema, load_config, validate_config
from evoforum.config.model import ExperimentConfig

__all__ = [
    "ExperimentConfig",
    "json_schema",
    "load_config",
    "validate_config",
]
