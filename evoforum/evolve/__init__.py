"""Evolution: DEAP-driven search over frozen genomes, with seeded randomness, cached and raced
evaluation (in process, in a process pool or in Ray Tune trials), lineage and checkpoints.

``RayTuneEvaluator`` imports Ray only when it is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evoforum.evolve.algorithms import (
    NSGA2,
    Algorithm,
    Generational,
    Islands,
    MuPlusLambda,
    best_distinct,
    migrate_ring,
)
from evoforum.evolve.archive import Archive
from evoforum.evolve.assess import Assessment, Assessor, Racing
from evoforum.evolve.cache import ResultCache
from evoforum.evolve.checkpoint import load_checkpoint, save_checkpoint
from evoforum.evolve.engine import Engine, EvolutionResult, GenerationStats
from evoforum.evolve.evaluate import Evaluator, ItemResult, Job, LocalEvaluator
from evoforum.evolve.gp import GPSpace, TreeGenome
from evoforum.evolve.individual import Fitness, Genome, Individual
from evoforum.evolve.lineage import InMemoryLineage, JsonlLineage, LineageRecord, LineageSink, read_lineage
from evoforum.evolve.rng import derive_seed, numpy_rng, python_rng
from evoforum.evolve.variation import (
    Operators,
    sel_best,
    sel_nsga2,
    sel_random,
    sel_tournament,
    sel_worst,
    var_and,
    var_or,
)

if TYPE_CHECKING:
    from evoforum.evolve.ray import RayTuneEvaluator

__all__ = [
    "NSGA2",
    "Algorithm",
    "Archive",
    "Assessment",
    "Assessor",
    "Engine",
    "Evaluator",
    "EvolutionResult",
    "Fitness",
    "GPSpace",
    "GenerationStats",
    "Generational",
    "Genome",
    "InMemoryLineage",
    "Individual",
    "Islands",
    "ItemResult",
    "Job",
    "JsonlLineage",
    "LineageRecord",
    "LineageSink",
    "LocalEvaluator",
    "MuPlusLambda",
    "Operators",
    "Racing",
    "RayTuneEvaluator",
    "ResultCache",
    "TreeGenome",
    "best_distinct",
    "derive_seed",
    "load_checkpoint",
    "migrate_ring",
    "numpy_rng",
    "python_rng",
    "read_lineage",
    "save_checkpoint",
    "sel_best",
    "sel_nsga2",
    "sel_random",
    "sel_tournament",
    "sel_worst",
    "var_and",
    "var_or",
]


def __getattr__(name: str) -> Any:
    if name == "RayTuneEvaluator":
        from evoforum.evolve.ray import RayTuneEvaluator

        return RayTuneEvaluator
    raise AttributeError(f"module 'evoforum.evolve' has no attribute {name!r}")
