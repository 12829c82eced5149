"""What the LLM operators are told about results: scores, one failing item, the best so far.

``Feedback`` is filled by the engine (its ``update`` is an ``on_known`` hook): after every
generation, for each genome of the population and the archive, its fitness over the items it has
been scored on (the engine's current mean), the number of those items, a short excerpt of one
item it failed, and a one-line summary. The operator context reads these through its mappings
(``scores``, ``items``, ``transcripts``, ``summaries``), which are the ``Feedback``'s own.

The excerpt is what the item function put into ``ItemResult.info`` (``EXCERPT``, with its
``FAILURE`` kind): an informative failure (a wrong answer with the failed assertion, or an
exception) is preferred to a timeout, and items earlier in the split to later ones. ``archive``
is the few best genomes so far, one line each, as ADAS's meta agent sees its archive: short,
because the operators' model may have a context of a few thousand tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evoforum.evolve.individual import is_failure

if TYPE_CHECKING:
    from evoforum.evolve.assess import Known
    from evoforum.evolve.operators.context import OperatorContext

EXCERPT = "excerpt"
"""The ``ItemResult.info`` key of a failed item's excerpt (problem, failure, code produced)."""
FAILURE = "failure"
"""The ``ItemResult.info`` key of the failure's kind: ``wrong``, ``error`` or ``timeout``."""
PREFERENCE = {"wrong": 0, "error": 1, "timeout": 2}
EXCERPT_CHARS = 1500
"""The longest excerpt an operator is shown."""
ARCHIVE_SIZE = 3
SUMMARY_CHARS = 100
NO_SCORE = "not yet known"
NO_ARCHIVE = "(none yet)"


class Feedback:
    """What the engine knows of the genomes at hand, as the operators read it (see the module
    docstring). Each ``update`` replaces what the last one said, so it is a function of what the
    engine's checkpoint and cache hold, and a resumed run rebuilds it exactly."""

    def __init__(self) -> None:
        self.scores: dict[str, float] = {}
        self.items: dict[str, int] = {}
        self.excerpts: dict[str, str] = {}
        self.summaries: dict[str, str] = {}

    def update(self, known: Sequence[Known]) -> None:
        """Replace what is known by ``known`` (the engine's ``on_known`` hook)."""
        for found in (self.scores, self.items, self.excerpts, self.summaries):
            found.clear()
        for entry in known:
            genome_hash = str(entry.genome.hash)
            if entry.items and not is_failure(entry.values):
                self.scores[genome_hash] = float(entry.values[0])
                self.items[genome_hash] = entry.items
            excerpt = failing_excerpt(entry.results)
            if excerpt is not None:
                self.excerpts[genome_hash] = excerpt
            self.summaries[genome_hash] = summary(entry.genome)


def failing_excerpt(results: Sequence[Any]) -> str | None:
    """The excerpt of the most informative failed item of ``results`` (``ItemResult``s), capped."""
    failed = [
        (PREFERENCE.get(str(r.info.get(FAILURE)), len(PREFERENCE)), index, str(r.info[EXCERPT]))
        for index, r in enumerate(results)
        if r.info.get(EXCERPT)
    ]
    return min(failed)[2][:EXCERPT_CHARS] if failed else None


def summary(genome: Any) -> str:
    """One line about ``genome``: the operator that made it, then its agents' names and the first
    words of their prompts."""
    metadata = getattr(genome, "metadata", None)
    origin = getattr(metadata, "origin", None) or {}
    operator = str(origin.get("operator") or "seed")
    agents = [
        f"{agent.name}: {' '.join(str(getattr(agent, 'prompt', '') or '').split()[:5])}"
        for agent in getattr(genome, "agents", ())
    ]
    return f"{operator} · {'; '.join(agents) or 'no agents'}"[:SUMMARY_CHARS]


def score_line(context: OperatorContext, genome_hash: str) -> str:
    """``0.62 on 8 items``, or ``not yet known``."""
    score = context.scores.get(genome_hash)
    if score is None:
        return NO_SCORE
    count = context.items.get(genome_hash)
    return f"{score:.4g} on {count} items" if count else f"{score:.4g}"


def archive(context: OperatorContext, size: int = ARCHIVE_SIZE) -> str:
    """The ``size`` best-scored genomes known, one line each: hash prefix, score, items, summary
    (the operator and the agents); ties keep the order the engine gave them."""
    summaries: Mapping[str, str] = context.summaries
    ranked = sorted((h for h in context.scores if h in summaries), key=lambda h: -context.scores[h])
    lines = [f"- {h[:8]} score {score_line(context, h)} · {summaries[h]}" for h in ranked[:size]]
    return "\n".join(lines) or NO_ARCHIVE
