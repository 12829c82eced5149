"""The public surface: every promised name resolves, and importing evoforum loads no backend."""

from __future__ import annotations

import subprocess
import sys

import pytest

import evoforum

HEAVY = ("ray", "mlflow", "nats", "asyncpg", "libcst", "openai", "deap", "weaviate", "llama_cpp")


def test_every_public_name_resolves() -> None:
    missing = [name for name in evoforum.__all__ if getattr(evoforum, name, None) is None]
    assert missing == []
    assert evoforum.codegen.export is not None
    assert evoforum.codegen.parse is not None


def test_importing_evoforum_loads_no_backend() -> None:
    code = f"import sys, evoforum; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="Mesage"):
        evoforum.Mesage  # type: ignore[attr-defined]  # noqa: B018
