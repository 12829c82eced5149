"""Hypothesis strategies for random valid genomes (for property tests; needs ``hypothesis``)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from evoforum.genome import LLMAgentSpec, Metadata, WorkflowGenome
from search_spaces import SPACES

_TEXT = st.text(max_size=60)
_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40)


@st.composite
def genomes(draw: st.DrawFn, spaces: tuple[str, ...] = tuple(SPACES), fuzz: bool = True) -> WorkflowGenome:
    """A random valid genome of one of ``spaces``; with ``fuzz``, its prompts, temperatures,
    token caps, metadata and a trailing constant and comment of its code are arbitrary too."""
    space = SPACES[draw(st.sampled_from(spaces))]()
    genome = space.random_genome(np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    if not fuzz:
        return genome
    agents = []
    for agent in genome.agents:
        if isinstance(agent, LLMAgentSpec):
            agent = agent.model_copy(
                update={
                    "system_prompt": draw(_TEXT),
                    "prompt": draw(_TEXT),
                    "temperature": draw(st.floats(0.0, 2.0, allow_nan=False)),
                    "max_tokens": draw(st.none() | st.integers(16, 4096)),
                }
            )
        agents.append(agent)
    code = genome.code
    if draw(st.booleans()):
        code += f"\n\nFUZZ_CONSTANT = {draw(_TEXT)!r}\n"
    if draw(st.booleans()):
        code += f"# {draw(_LINE)}\n"
    metadata = Metadata(
        name=draw(_TEXT),
        notes=draw(_TEXT),
        origin={"seed": draw(st.integers()), "note": draw(_TEXT)},
    )
    return WorkflowGenome(
        inputs=genome.inputs, agents=tuple(agents), code=code, entry=genome.entry, metadata=metadata
    )
