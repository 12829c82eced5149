"""Fail when a module grows past the size limit (STYLE.md: ~200 lines is the norm, 800 means split)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def oversized(roots: list[str], limit: int) -> list[tuple[Path, int]]:
    found = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            lines = sum(1 for _ in path.open(encoding="utf-8"))
            if lines > limit:
                found.append((path, lines))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max", type=int, default=800)
    parser.add_argument("roots", nargs="+")
    args = parser.parse_args()
    too_big = oversized(args.roots, args.max)
    for path, lines in too_big:
        print(f"{path}: {lines} lines (limit {args.max}); split it", file=sys.stderr)
    return 1 if too_big else 0


if __name__ == "__main__":
    raise SystemExit(main())
