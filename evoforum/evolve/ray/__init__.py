"""Evaluation in Ray Tune trials: ``RayTuneEvaluator`` (``evaluator``), the trial functions the
workers run (``_trainables``) and the socket link between the driver and its long-lived trials
(``_channel``). Ray itself is imported only when an evaluator first starts it.
"""

from __future__ import annotations

from evoforum.evolve.ray.evaluator import RayTuneEvaluator

__all__ = ["RayTuneEvaluator"]
