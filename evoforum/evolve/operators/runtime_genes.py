"""Structural mutations that add or take out the runtime's genes (``evoforum.genome.edits``).

- ``mut_recall``: an LLM agent begins its prompt with the solved train items nearest to a workflow
  input, recalled from the run's memory, or a recall step goes again. A step is added only in a
  space whose experiment gave solved train items (its ``recalls``), which the run stores.
- ``mut_dialogue``: an LLM task's call goes as a request on a bus subject its agent serves, or a
  request goes back to a direct call.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from evoforum.evolve.operators import _edit as e
from evoforum.evolve.operators.base import Children, operator
from evoforum.evolve.operators.context import OperatorContext
from evoforum.genome import LLMAgentSpec, RecallSpec, RequestSpec, WorkflowGenome
from evoforum.genome.edits import add_recall, drop_recall, off_bus, over_bus

RECALLED = (1, 2, 3)
"""How many solved items a recall step added by ``mut_recall`` shows."""


@operator("mut_recall")
def mut_recall(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """Half the time (or when there is none to add) a recall step goes; else one is added before an
    LLM agent, queried by a workflow input (only in a space that ``recalls``)."""
    genome = parents[0]
    steps = [
        t.name
        for _, dag in e.dags(genome)
        for t in dag.tasks
        if isinstance(genome.agent(t.agent), RecallSpec)
    ]
    recalls = bool(getattr(context.space, "recalls", False))
    agents = [a.name for a in e.llm_agents(genome) if "{examples}" not in a.prompt] if recalls else []
    if steps and (not agents or rng.random() < 0.5):
        dropped = drop_recall(genome, steps[rng.randrange(len(steps))])
        return [dropped] if dropped is not None else []
    if not agents:
        return []
    agent = agents[rng.randrange(len(agents))]
    query = genome.inputs[rng.randrange(len(genome.inputs))]
    added = add_recall(genome, agent, query, k=RECALLED[rng.randrange(len(RECALLED))])
    return [added] if added is not None else []


@operator("mut_dialogue")
def mut_dialogue(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """Half the time (or when no LLM task is left to move) a request task calls its responder
    directly again; else an LLM task's call goes as a request on a subject named after its agent."""
    genome = parents[0]
    tasks = [(t, genome.agent(t.agent)) for _, dag in e.dags(genome) for t in dag.tasks]
    requests = [t.name for t, agent in tasks if isinstance(agent, RequestSpec)]
    direct = [
        (t.name, agent.name)
        for t, agent in tasks
        if isinstance(agent, LLMAgentSpec) and agent.output_schema is None and t.inputs
    ]
    if requests and (not direct or rng.random() < 0.5):
        back = off_bus(genome, requests[rng.randrange(len(requests))])
        return [back] if back is not None else []
    if not direct:
        return []
    task, agent = direct[rng.randrange(len(direct))]
    token = re.sub(r"[^a-z0-9_]", "", agent.lower()).lstrip("_0123456789") or "agent"
    moved = over_bus(genome, task, f"{token}.asked")
    return [moved] if moved is not None else []
