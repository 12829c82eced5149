"""Selector tools of the code-writing space: pick one of k candidate answers (genome code).

Each takes the problem and the candidates as keyword arguments (``answer_1=...``, in the order
they are wired), extracts each answer's code (``extract_code``) and returns the chosen code:

* ``select_by_examples``: the candidate passing most docstring examples (``check_code``);
* ``select_by_vote``: behavioural voting: candidates are grouped by what they return on the
  examples' inputs, and the largest group wins (code that does not run never votes);
* ``select_by_tests``: CodeT-style: examples passed first, then the model-written ``assert`` lines
  (``tests``) passed.

Ties go to the first candidate. Everything here runs in the sandbox with the rest of the genome's
code; a generated test that hangs is cut off after a second (and ends that candidate's tests).
"""

from __future__ import annotations

SELECT_TOOLS = {
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
    calls = _example_calls(problem)
    keys = [_behaviour(problem, code, calls) for code in codes]
    votes = [keys.count(key) if key is not None else 0 for key in keys]
    return codes[votes.index(max(votes))]
''',
    "select_by_tests": r'''
def select_by_tests(problem: str, tests: str, **answers: str) -> str:
    """The code of the answer that passes most examples, then most of the ``assert`` lines of
    ``tests`` (model-written tests); the first on a tie."""
    codes = [extract_code(answer) for answer in answers.values()]
    asserts = _assert_lines(tests)
    ranks = [
        (check_code(problem, code)["score"], _tests_passed(problem, code, asserts))
        for code in codes
    ]
    return codes[ranks.index(max(ranks))]
''',
    "_example_calls": r'''
def _example_calls(problem: str) -> list:
    """The expressions the problem's docstring examples evaluate (their inputs), in order."""
    try:
        functions = [
            n for n in ast.walk(ast.parse(problem)) if isinstance(n, ast.FunctionDef)
        ]
        docs = "\n".join(ast.get_docstring(f) or "" for f in functions)
        cases = [_as_value(e) for e in doctest.DocTestParser().get_examples(docs)]
        cases += _stated_examples(docs, functions)
    except (SyntaxError, ValueError):
        return []
    return [case[0] if isinstance(case, tuple) else case.source.strip() for case in cases]
''',
    "_behaviour": r'''
def _behaviour(problem: str, code: str, calls: list):
    """What ``code`` returns on each call (an error by its kind), or None when it does not run."""
    namespace: dict = {}
    try:
        program = compile(_program(problem, code), "<candidate>", "exec")
        _limited(lambda: exec(program, namespace), 2)
    except BaseException:
        return None
    seen = []
    for call in calls:
        try:
            seen.append(repr(_limited(lambda: eval(call, namespace), 1))[:300])
        except BaseException as error:
            seen.append(f"raised {type(error).__name__}")
            if isinstance(error, TimeoutError):
                break
    return tuple(seen)
''',
    "_assert_lines": r'''
def _assert_lines(tests: str) -> list:
    """The ``assert`` lines of a model's answer that parse, at most ten."""
    found = []
    for line in tests.splitlines():
        line = line.strip()
        if not line.startswith("assert "):
            continue
        try:
            ast.parse(line)
        except SyntaxError:
            continue
        found.append(line)
    return found[:10]
''',
    "_tests_passed": r'''
def _tests_passed(problem: str, code: str, asserts: list) -> int:
    """How many of ``asserts`` hold for ``code`` (a second each; a hang ends the count)."""
    namespace: dict = {}
    try:
        program = compile(_program(problem, code), "<candidate>", "exec")
        _limited(lambda: exec(program, namespace), 2)
    except BaseException:
        return 0
    passed = 0
    for line in asserts:
        try:
            _limited(lambda: exec(line, namespace), 1)
            passed += 1
        except TimeoutError:
            break
        except BaseException:
            continue
    return passed
''',
}

SELECT_DEPENDS = {
    "select_by_examples": ("extract_code", "check_code"),
    "select_by_vote": ("extract_code", "_example_calls", "_behaviour"),
    "select_by_tests": ("extract_code", "check_code", "_assert_lines", "_tests_passed"),
    "_example_calls": ("_as_value", "_stated_examples"),
    "_behaviour": ("_program", "_limited"),
    "_tests_passed": ("_program", "_limited"),
}
"""The helpers each selector calls (``tools_for`` adds them)."""
