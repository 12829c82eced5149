"""The operator groups a config weighs (``operators.weights``): structural, code GP, LLM, all."""

from evoforum.evolve.operators.code_gp import gp_constant, gp_crossover, gp_subtree
from evoforum.evolve.operators.crossover import cx_agents, cx_states, cx_tasks
from evoforum.evolve.operators.llm_ops import llm_rewrite, lmx_code, lmx_module
from evoforum.evolve.operators.machines import (
    mut_add_state,
    mut_guard_value,
    mut_remove_state,
    mut_transition,
)
from evoforum.evolve.operators.runtime_genes import mut_dialogue, mut_recall
from evoforum.evolve.operators.structural import (
    mut_add_task,
    mut_examples,
    mut_fan_out,
    mut_max_tokens,
    mut_prompt,
    mut_remove_task,
    mut_rewire,
    mut_step_limit,
    mut_swap_agent,
    mut_temperature,
)

STRUCTURAL = (
    mut_temperature,
    mut_max_tokens,
    mut_prompt,
    mut_step_limit,
    mut_swap_agent,
    mut_add_task,
    mut_remove_task,
    mut_rewire,
    mut_add_state,
    mut_remove_state,
    mut_transition,
    mut_guard_value,
    mut_examples,
    mut_fan_out,
    mut_recall,
    mut_dialogue,
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
