"""Evolution: DEAP-driven search over frozen genomes, with seeded randomness, cached and raced
evaluation (in process, in a process pool or in Ray Tune trials), lineage and checkpoints.

``RayTuneEvaluator`` imports Ray only when it is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evoforum.evolve.algorithms import NSGA2, Algorithm, Generational, Islands, MuPlusLambda
from evoforum.evolve.assess import Racing
from evoforum.evolve.checkpoint import load_checkpoint
from evoforum.evolve.engine import Engine, EvolutionResult
from evoforum.evolve.evaluate import Evaluator, Job, LocalEvaluator
from evoforum.evolve.gp import GPSpace, TreeGenome
from evoforum.evolve.individual import Genome
from evoforum.evolve.lineage import InMemoryLineage, JsonlLineage, LineageRecord, LineageSink
from evoforum.evolve.variation import Operators

if TYPE_CHECKING:
    from evoforum.evolve.ray import RayTuneEvaluator

__all__ = [
    "NSGA2",
    "Algorithm",
    "Engine",
    "Evaluator",
    "EvolutionResult",
    "GPSpace",
    "Generational",
    "Genome",
    "InMemoryLineage",
    "Islands",
    "Job",
    "JsonlLineage",
    "LineageRecord",
    "LineageSink",
    "LocalEvaluator",
    "MuPlusLambda",
    "Operators",
    "Racing",
    "RayTuneEvaluator",
    "TreeGenome",
    "load_checkpoint",
]


def __getattr__(name: str) -> Any:
    if name == "RayTuneEvaluator":
        from evoforum.evolve.ray import RayTuneEvaluator

        return RayTuneEvaluator
    raise AttributeError(f"module 'evoforum.evolve' has no attribute {name!r}")
