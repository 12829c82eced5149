"""Search spaces: building blocks, seed genomes and constraints that evolution draws from.

``get("code_writing")`` and ``get("qa_ensemble")`` return ready spaces; each generates random valid
genomes from a seeded ``numpy.random.Generator`` and checks a genome against its constraints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search_spaces._base import BuildingBlocks, SearchSpace
from search_spaces.code_writing import CodeWriting
from search_spaces.qa_ensemble import QAEnsemble

SPACES: dict[str, type[SearchSpace]] = {"code_writing": CodeWriting, "qa_ensemble": QAEnsemble}


def get(
    name: str,
    examples: Sequence[tuple[str, str]] | None = None,
    options: Mapping[str, Any] | None = None,
) -> SearchSpace:
    """The search space called ``name``; ``ConfigError`` (with a hint) when there is none.
    ``examples``: solved train items ``(problem, solution)`` a space may show in its prompts
    (few-shot; a space that shows none ignores them; None: the space's own). ``options``: the
    config's ``search_space.options`` (the space's ``option_names``; an unknown one is a
    ``ConfigError``)."""
    from evoforum.errors import ConfigError, did_you_mean

    if name not in SPACES:
        known = ", ".join(sorted(SPACES))
        raise ConfigError(f"unknown search space {name!r}{did_you_mean(name, list(SPACES))}; known: {known}")
    return SPACES[name](examples, options)


__all__ = ["SPACES", "BuildingBlocks", "CodeWriting", "QAEnsemble", "SearchSpace", "get"]
