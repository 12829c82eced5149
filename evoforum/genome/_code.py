"""What the genome's code defines, read with ``ast.parse`` (never executed)."""

from __future__ import annotations

import ast
import keyword
from dataclasses import dataclass, field
from functools import lru_cache

from evoforum.genome.library import library_source


@dataclass(frozen=True)
class CodeSignature:
    """The parameters of a function of the code."""

    parameters: tuple[str, ...]
    required: frozenset[str]
    variadic: bool
    line: int


@dataclass
class CodeFacts:
    """Top-level names of a code module, its functions, imports, and a syntax error if any.

    ``functions`` holds the functions imported from a registered tool library too (see
    ``evoforum.genome.library``); ``imports`` names such a library in full, other modules by their
    top-level package."""

    error: str | None = None
    names: list[tuple[str, int]] = field(default_factory=list)
    functions: dict[str, CodeSignature] = field(default_factory=dict)
    imports: list[tuple[str, int]] = field(default_factory=list)
    future_line: int | None = None


def read_code(source: str) -> CodeFacts:
    """The facts of ``source``; ``error`` holds the syntax error (with its line) when it does not parse."""
    facts = CodeFacts()
    try:
        tree = ast.parse(source, filename="<genome code>")
    except SyntaxError as error:
        facts.error = f"does not parse: {error.msg} (line {error.lineno})"
        return facts
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            facts.names.append((node.name, node.lineno))
            facts.functions[node.name] = _signature(node)
        elif isinstance(node, ast.ClassDef):
            facts.names.append((node.name, node.lineno))
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                facts.names.extend((n.id, node.lineno) for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                facts.future_line = node.lineno
            library = _library_functions(node.module) if isinstance(node, ast.ImportFrom) else {}
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if alias.name in library and library[alias.name] == facts.functions.get(bound):
                    continue  # the same library function imported again: one binding
                facts.names.append((bound, node.lineno))
                if alias.name in library:
                    facts.functions[bound] = library[alias.name]
    for inner in ast.walk(tree):
        if isinstance(inner, ast.Import):
            facts.imports.extend((alias.name.split(".")[0], inner.lineno) for alias in inner.names)
        elif isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
            whole = library_source(inner.module) is not None
            facts.imports.append((inner.module if whole else inner.module.split(".")[0], inner.lineno))
    return facts


def _library_functions(module: str | None) -> dict[str, CodeSignature]:
    source = library_source(module) if module else None
    return {} if source is None else _functions_of(source)


@lru_cache(maxsize=16)
def _functions_of(source: str) -> dict[str, CodeSignature]:
    return read_code(source).functions


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> CodeSignature:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    with_default = {a.arg for a in positional[len(positional) - len(args.defaults) :]}
    kw_default = {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
    names = [a.arg for a in [*positional, *args.kwonlyargs]]
    required = frozenset(name for name in names if name not in with_default | kw_default)
    return CodeSignature(tuple(names), required, args.kwarg is not None, node.lineno)


def is_name(text: str) -> bool:
    """Whether ``text`` can be a Python name (an identifier that is not a keyword)."""
    return text.isidentifier() and not keyword.iskeyword(text)
