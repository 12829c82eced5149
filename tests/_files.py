"""File helpers shared by tests."""

from __future__ import annotations

import os
from pathlib import Path


def held_open(*paths: Path) -> set[str]:
    """Which of ``paths`` this process holds open (from /proc/self/fd)."""
    held = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            held.add(os.readlink(fd))
        except OSError:
            continue
    return {str(path.resolve()) for path in paths} & held
