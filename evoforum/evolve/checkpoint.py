"""Checkpoints: the whole state of a run, written atomically after every generation.

A checkpoint is a pickle of a versioned dict (genomes are arbitrary Python objects), written to a
temporary file, fsynced, then moved over ``checkpoint.pkl`` with ``os.replace``: a reader sees
the previous checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from evoforum._files import write_atomic
from evoforum.errors import ConfigError

VERSION = 1
FILENAME = "checkpoint.pkl"


def save_checkpoint(out_dir: Path, state: dict[str, Any], *, durable: bool = True) -> None:
    """Store ``state`` as the run's current checkpoint."""
    payload = {"version": VERSION, **state}
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    write_atomic(out_dir / FILENAME, data, durable=durable)


def load_checkpoint(out_dir: Path) -> dict[str, Any] | None:
    """The run's last checkpoint, or None when it has none yet."""
    path = out_dir / FILENAME
    for stale in out_dir.glob(f".{FILENAME}.*.tmp"):  # left by a process killed while writing
        stale.unlink(missing_ok=True)
    if not path.exists():
        return None
    with path.open("rb") as handle:
        state: dict[str, Any] = pickle.load(handle)
    if state.get("version") != VERSION:
        raise ConfigError(
            f"{path}: checkpoint version {state.get('version')!r} cannot be resumed by this release "
            f"(it reads version {VERSION})"
        )
    return state
