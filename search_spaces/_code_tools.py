"""The tools of the code-writing space that genomes carry (genome code: parsed, run only in the
sandbox): how a loop keeps the better code and how one of k drafts is selected. The plumbing
they call (extracting, running and checking code, reporting failures) is imported from the space's
library, ``search_spaces.library.code_tools``, so operators aim at this logic only.

Selectors take the problem and the candidates as keyword arguments (``answer_1=...``, in the order
they are wired) and return the chosen code:

* ``select_by_examples``: the candidate passing most docstring examples;
* ``select_by_vote``: behavioural voting: candidates are grouped by what they return on the
  examples' inputs, and the largest group wins (code that does not run never votes);
* ``select_by_tests``: CodeT-style: examples passed first, then the model-written ``assert`` lines
  (``tests``) passed.

Ties go to the first candidate. No tool source holds a run of three backticks: operators show
genome code to a model inside fenced blocks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence

from search_spaces.library import code_tools

LIBRARY = code_tools.__name__

TOOLS = {
    "keep_better": r'''
def keep_better(problem: str, code: str, best: dict) -> dict:
    """Check ``code``; it replaces ``best`` only when it passes more examples, so a fix never
    swaps working code for worse. One more attempt is counted either way; what a refused code
    got wrong is kept as ``rejected`` (the next attempt is told)."""
    report = check_code(problem, code)
    attempts = int(best.get("attempts", 0)) + 1
    if report["score"] > best.get("score", -1):
        return {**report, "attempts": attempts, "rejected": []}
    return {**best, "attempts": attempts, "rejected": report["failures"]}
''',
    "select_by_examples": r'''
def select_by_examples(problem: str, **answers: str) -> str:
    """The code of the answer that passes most of the problem's examples (the first on a tie)."""
    codes = [extract_code(answer) for answer in answers.values()]
    scores = [check_code(problem, code)["score"] for code in codes]
    return codes[scores.index(max(scores))]
''',
    "select_by_vote": r'''
def select_by_vote(problem: str, **answers: str) -> str:
    """The code of the first answer of the largest group of answers that return the same values
    on the examples' inputs (answers whose code does not run vote only when none runs)."""
    codes = [extract_code(answer) for answer in answers.values()]
    calls = example_calls(problem)
    keys = [behaviour(problem, code, calls) for code in codes]
    votes = [keys.count(key) if key is not None else 0 for key in keys]
    return codes[votes.index(max(votes))]
''',
    "select_by_tests": r'''
def select_by_tests(problem: str, tests: str, **answers: str) -> str:
    """The code of the answer that passes most examples, then most of the ``assert`` lines of
    ``tests`` (model-written tests); the first on a tie."""
    codes = [extract_code(answer) for answer in answers.values()]
    asserts = assert_lines(tests)
    ranks = [
        (check_code(problem, code)["score"], tests_passed(problem, code, asserts))
        for code in codes
    ]
    return codes[ranks.index(max(ranks))]
''',
}

USES = {
    "keep_better": ("check_code",),
    "select_by_examples": ("extract_code", "check_code"),
    "select_by_vote": ("extract_code", "example_calls", "behaviour"),
    "select_by_tests": ("extract_code", "check_code", "assert_lines", "tests_passed"),
}
"""What each tool calls: library functions and other tools (``code_for`` adds them)."""


def code_for(names: Sequence[str]) -> str:
    """Genome code for the functions ``names`` (tools or library functions) and everything they
    call: one import from the library, then the tools, each right after the tools it calls."""
    imported: list[str] = []
    tools: list[str] = []

    def add(name: str) -> None:
        for needed in USES.get(name, ()):
            add(needed)
        chosen = tools if name in TOOLS else imported
        if name not in chosen:
            chosen.append(name)

    for name in names:
        add(name)
    parts = [_import(imported)] if imported else []
    parts += [TOOLS[name].strip() for name in tools]
    return "\n\n\n".join(parts) + "\n"


def _import(names: Iterable[str]) -> str:
    """The import of ``names`` from the library, formatted as ruff would (the exported module is
    checked with it)."""
    line = f"from {LIBRARY} import {', '.join(sorted(names))}"
    if len(line) > 88:
        line = f"from {LIBRARY} import (\n" + "".join(f"    {name},\n" for name in sorted(names)) + ")"
    return line


def with_tools(code: str, names: Sequence[str]) -> str:
    """A genome's ``code`` that also has the tools ``names`` and everything they call: library
    functions it lacks join its import from the library, tools it lacks come at its end. What the
    code already defines stays as it is (an evolved ``keep_better`` is not replaced)."""
    tree = ast.parse(code)
    lines = code.splitlines()
    found = next(
        (n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == LIBRARY and n.level == 0),
        None,
    )
    imported = {a.asname or a.name for a in found.names} if found is not None else set()
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    wanted = [n for n in _split(code_for(names)) if n not in imported and n not in defined]
    added = [n for n in wanted if n not in TOOLS]
    if added and found is not None:
        assert found.end_lineno is not None
        lines[found.lineno - 1 : found.end_lineno] = _import(imported | set(added)).splitlines()
    elif added:
        lines = [_import(added), "", "", *lines]
    tools = [TOOLS[n].strip() for n in wanted if n in TOOLS]
    return "\n\n\n".join(["\n".join(lines).rstrip(), *tools]) + "\n"


def lacking(code: str, names: Iterable[str]) -> list[str]:
    """The tools and library functions among ``names`` that ``code`` neither defines nor imports
    (``SyntaxError`` when it does not parse)."""
    present = set(_split(code))
    known = set(TOOLS) | set(code_tools.__all__)
    return [name for name in dict.fromkeys(names) if name in known and name not in present]


def _split(code: str) -> list[str]:
    """The names ``code_for``'s output imports and defines, in order."""
    tree = ast.parse(code)
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.FunctionDef):
            names.append(node.name)
    return names


def without_tools(code: str, names: Iterable[str]) -> str:
    """A genome's ``code`` without the definitions of the tools ``names`` (a selector no agent
    calls any more, say); the library import stays as it is."""
    gone = set(names) & set(TOOLS)
    lines = code.splitlines()
    for node in reversed(ast.parse(code).body):
        if isinstance(node, ast.FunctionDef) and node.name in gone:
            assert node.end_lineno is not None
            del lines[node.lineno - 1 : node.end_lineno]
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(lines).strip()) + "\n"
