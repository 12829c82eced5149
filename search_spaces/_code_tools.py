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

from collections.abc import Sequence

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
    line = f"from {LIBRARY} import {', '.join(sorted(imported))}"
    if len(line) > 88:  # formatted as ruff would (the exported module is checked with it)
        line = f"from {LIBRARY} import (\n" + "".join(f"    {name},\n" for name in sorted(imported)) + ")"
    parts = [line] if imported else []
    parts += [TOOLS[name].strip() for name in tools]
    return "\n\n\n".join(parts) + "\n"
