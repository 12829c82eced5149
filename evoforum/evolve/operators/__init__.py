"""Variation operators of the evolution engine.

Every operator is a function ``(parents, rng, context) -> children`` wrapped as an ``Operator``
(a name and an arity); ``await op(parents, rng, context)`` runs it through ``vary``, which checks
each child against the search space and drops (and counts) the invalid ones::

    context = OperatorContext(space=search_spaces.get("qa_ensemble"), llm=client, model="m")
    children = await mut_add_task([genome], random.Random(1), context)
    context.stats.as_dict()     # per operator: calls, children, invalid, invalid_rate, tokens

Kinds: structural mutation (``mut_*``) and crossover (``cx_*``) of the genome; GP on the genome's
code through libcst (``gp_*``); LLM operators (``lmx``, ``lmx_code``, ``llm_rewrite``) described
by operator genomes and run through ``to_workflow``; an ``EditMemory`` of past edits; an
``OperatorBandit`` choosing operators; ``VariationPolicy`` bridging all of it to the engine's
``Operators``; ``CoEvolution`` evolving the operator genomes themselves.
"""

from evoforum.evolve.operators.bandit import Arm, OperatorBandit
from evoforum.evolve.operators.base import Operator, accept, operator, vary
from evoforum.evolve.operators.code_gp import gp_constant, gp_crossover, gp_subtree
from evoforum.evolve.operators.coevolve import CoEvolution, OperatorCandidate, lineage_records
from evoforum.evolve.operators.context import OperatorContext, OperatorCounts, OperatorStats, Space
from evoforum.evolve.operators.crossover import cx_agents, cx_states, cx_tasks
from evoforum.evolve.operators.edit_memory import Edit, EditMemory
from evoforum.evolve.operators.llm_ops import llm_rewrite, lmx_code, lmx_module, make_lmx, make_rewrite
from evoforum.evolve.operators.machines import mut_add_state, mut_remove_state, mut_transition
from evoforum.evolve.operators.operator_genomes import (
    OPERATOR_SPACE,
    lmx_genome,
    rewrite_genome,
    run_operator_genome,
)
from evoforum.evolve.operators.policy import VariationPolicy
from evoforum.evolve.operators.structural import (
    mut_add_task,
    mut_prompt,
    mut_remove_task,
    mut_rewire,
    mut_step_limit,
    mut_swap_agent,
    mut_temperature,
)

STRUCTURAL = (
    mut_temperature,
    mut_prompt,
    mut_step_limit,
    mut_swap_agent,
    mut_add_task,
    mut_remove_task,
    mut_rewire,
    mut_add_state,
    mut_remove_state,
    mut_transition,
    cx_agents,
    cx_tasks,
    cx_states,
)
"""The structural mutations and crossovers of the genome."""

CODE_GP = (gp_constant, gp_subtree, gp_crossover)
"""GP on the genome's code."""

LLM = (lmx_module, lmx_code, llm_rewrite)
"""The LLM operators."""

ALL = (*STRUCTURAL, *CODE_GP, *LLM)

__all__ = [
    "ALL",
    "CODE_GP",
    "LLM",
    "OPERATOR_SPACE",
    "STRUCTURAL",
    "Arm",
    "CoEvolution",
    "Edit",
    "EditMemory",
    "Operator",
    "OperatorBandit",
    "OperatorCandidate",
    "OperatorContext",
    "OperatorCounts",
    "OperatorStats",
    "Space",
    "VariationPolicy",
    "accept",
    "cx_agents",
    "cx_states",
    "cx_tasks",
    "gp_constant",
    "gp_crossover",
    "gp_subtree",
    "lineage_records",
    "llm_rewrite",
    "lmx_code",
    "lmx_genome",
    "lmx_module",
    "make_lmx",
    "make_rewrite",
    "mut_add_state",
    "mut_add_task",
    "mut_prompt",
    "mut_remove_state",
    "mut_remove_task",
    "mut_rewire",
    "mut_step_limit",
    "mut_swap_agent",
    "mut_temperature",
    "mut_transition",
    "operator",
    "rewrite_genome",
    "run_operator_genome",
    "vary",
]
