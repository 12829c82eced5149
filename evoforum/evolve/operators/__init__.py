"""Variation operators of the evolution engine.

Every operator is a function ``(parents, rng, context) -> children`` wrapped as an ``Operator``
(a name and an arity); ``await op(parents, rng, context)`` runs it through ``vary``, which checks
each child against the search space and drops (and counts) the invalid ones::

    context = OperatorContext(space=search_spaces.get("qa_ensemble"), llm=client, model="m")
    children = await structural.mut_add_task([genome], random.Random(1), context)
    context.stats.as_dict()     # per operator: calls, children, invalid, invalid_rate, tokens

Kinds: structural mutation (``mut_*``) and crossover (``cx_*``) of the genome; GP on the genome's
code through libcst (``gp_*``); LLM operators (``lmx``, ``lmx_code``, ``llm_rewrite``) described
by operator genomes and run through ``to_workflow``; an ``EditMemory`` of past edits; an
``OperatorBandit`` choosing operators; ``VariationPolicy`` bridging all of it to the engine's
``Operators``; ``CoEvolution`` evolving the operator genomes themselves.
"""

from evoforum.evolve.operators.bandit import OperatorBandit
from evoforum.evolve.operators.base import Operator, operator
from evoforum.evolve.operators.coevolve import CoEvolution, OperatorCandidate
from evoforum.evolve.operators.context import OperatorContext, Space
from evoforum.evolve.operators.edit_memory import Edit, EditMemory
from evoforum.evolve.operators.groups import ALL, CODE_GP, LLM, STRUCTURAL
from evoforum.evolve.operators.operator_genomes import OPERATOR_SPACE, lmx_genome, rewrite_genome
from evoforum.evolve.operators.policy import VariationPolicy

__all__ = [
    "ALL",
    "CODE_GP",
    "LLM",
    "OPERATOR_SPACE",
    "STRUCTURAL",
    "CoEvolution",
    "Edit",
    "EditMemory",
    "Operator",
    "OperatorBandit",
    "OperatorCandidate",
    "OperatorContext",
    "Space",
    "VariationPolicy",
    "lmx_genome",
    "operator",
    "rewrite_genome",
]
