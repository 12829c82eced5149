"""Experiment configs: YAML validated by pydantic, overrides, and a JSON schema for editors."""

from evoforum.config.load import apply_override, json_schema, load_config, validate_config
from evoforum.config.model import (
    AlgorithmSection,
    BudgetSection,
    EvaluationSection,
    ExperimentConfig,
    ExperimentSection,
    LLMSection,
    OperatorsSection,
    RuntimeSection,
    SearchSpaceSection,
    TrackingSection,
)

__all__ = [
    "AlgorithmSection",
    "BudgetSection",
    "EvaluationSection",
    "ExperimentConfig",
    "ExperimentSection",
    "LLMSection",
    "OperatorsSection",
    "RuntimeSection",
    "SearchSpaceSection",
    "TrackingSection",
    "apply_override",
    "json_schema",
    "load_config",
    "validate_config",
]
