"""Reachability and cycles in small directed graphs given as ``{node: successors}``.

The one home of these two walks: genome validation, flow building and the machine operators all
check their graphs with them. Standard library only, so every layer may import it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


def reachable(starts: Iterable[N], edges: Mapping[N, Iterable[N]]) -> set[N]:
    """Every node reachable from ``starts`` along ``edges``, the starts included."""
    seen = set(starts)
    frontier = list(seen)
    while frontier:
        for target in edges.get(frontier.pop(), ()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def find_cycle(edges: Mapping[N, Iterable[N]]) -> list[N]:
    """One cycle along ``edges``, first node repeated at the end (``[a, b, a]``); ``[]`` when none.

    A depth-first search from each node in the mapping's order; successors that are not keys of
    ``edges`` are left out. A node with an edge to itself is the cycle ``[a, a]``.
    """
    on_path, done = 1, 2
    state: dict[N, int] = {}
    for root in edges:
        if root in state:
            continue
        state[root] = on_path
        path, successors = [root], [iter(edges[root])]
        while path:
            for target in successors[-1]:
                if target not in edges:
                    continue
                if state.get(target) == on_path:
                    return [*path[path.index(target) :], target]
                if target not in state:
                    state[target] = on_path
                    path.append(target)
                    successors.append(iter(edges[target]))
                    break
            else:
                state[path.pop()] = done
                successors.pop()
    return []
