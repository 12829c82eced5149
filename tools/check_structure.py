"""Check the package's structure: no import cycle, one layer per public class name, small modules.

Run as ``python tools/check_structure.py evoforum [more packages]``. Prints one line per problem and exits 1 when there
is any. What counts:

- an import cycle among the package's modules, from module-level imports (imports inside functions and
  inside ``if TYPE_CHECKING:`` blocks do not run at import time and are not counted);
- a public class name (no leading underscore) defined at module level in two layers, a layer being a
  top-level subpackage (``forum``, ``flow``, ``genome``...) or top-level module of the package;
- a module over the line limit (800 unless ``--max-lines`` says otherwise).

Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run at import time: not inside functions, classes or TYPE_CHECKING blocks."""
    for node in body:
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level(block)
            for handler in node.handlers:
                yield from _module_level(handler.body)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)
        else:
            yield node


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The package module an imported dotted name lives in, or None when it is outside the package."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``module`` imports at import time."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in _module_level(tree.body):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            # ``from pkg import sub`` needs the submodule ``pkg.sub`` when there is one, else ``pkg`` itself.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            ]
        else:
            continue
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                targets.add(target)
    return targets


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return [_one_cycle(graph, set(component)) for component in sorted(components)]


def _one_cycle(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    start = min(members)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError("a strongly connected component always holds a cycle")


def public_classes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.name for node in tree.body if isinstance(node, ast.ClassDef) and not node.name.startswith("_")
    ]


def problems(root: Path, max_lines: int = 800) -> list[str]:
    """Every structure problem of the package at ``root``, one line each."""
    modules = module_names(root)
    found = []
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    for cycle in find_cycles(graph):
        found.append(f"import cycle: {' -> '.join(cycle)}")
    layers_by_class: dict[str, dict[str, str]] = {}
    for name, path in modules.items():
        parts = name.split(".")
        layer = parts[1] if len(parts) > 1 else parts[0]
        for cls in public_classes(path):
            layers_by_class.setdefault(cls, {}).setdefault(layer, name)
    for cls, layers in sorted(layers_by_class.items()):
        if len(layers) > 1:
            where = ", ".join(sorted(layers.values()))
            found.append(f"public class {cls} is defined in {len(layers)} layers: {where}")
    for path in modules.values():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > max_lines:
            found.append(f"{path}: {lines} lines (limit {max_lines}); split it")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", type=Path, nargs="+", help="package folders, e.g. evoforum")
    parser.add_argument("--max-lines", type=int, default=800)
    args = parser.parse_args(argv)
    for package in args.packages:
        if not (package / "__init__.py").is_file():
            print(f"{package}: not a package (no __init__.py)", file=sys.stderr)
            return 2
    found = [line for package in args.packages for line in problems(package, args.max_lines)]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
