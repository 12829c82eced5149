"""Running experiments: from an ``ExperimentConfig`` and an output folder to a reported winner.

::

    summary = await run_experiment(load_config("configs/quickstart.yaml"), Path("runs/quickstart"))
    summary = await resume_experiment(Path("runs/quickstart"))      # after a crash or a kill

See ``evoforum.run._files`` for what the output folder holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evoforum.run._files import GenomeBook, read_config, read_summary
from evoforum.run._runner import run_experiment


async def resume_experiment(out: Path, *, state_dir: str | None = None) -> dict[str, Any]:
    """Continue the run in ``out`` with the config saved there; the summary."""
    return await run_experiment(read_config(out), out, resume=True, state_dir=state_dir)


__all__ = ["GenomeBook", "read_config", "read_summary", "resume_experiment", "run_experiment"]
