"""Tool sources of the code-writing space (genome code: parsed, run only in the sandbox).

No tool source holds a run of three backticks: operators show genome code to a model inside
fenced blocks, so a fence is matched with a repeat (a backtick, ``{3,}`` times) instead.
"""

from __future__ import annotations

from search_spaces._select_tools import SELECT_DEPENDS, SELECT_TOOLS

HEADER = """
import ast
import doctest
import re
import signal
"""

TOOLS = {
    "extract_code": r'''
def extract_code(text: str) -> str:
    """The code of a reply: its first fenced block that defines a function (else its first
    block, else the reply from its first line of code on), without the example calls, prints
    and tests a model likes to add below the function. A block cut off at the end still counts."""
    fence = r"^[ \t]*`{3,}[\w.+-]*[ \t]*\n(.*?)(?:^[ \t]*`{3,}[ \t]*$|\Z)"
    blocks = re.findall(fence, text, re.DOTALL | re.MULTILINE)
    defining = [
        block for block in blocks if re.search(r"^\s*def ", block, re.MULTILINE)
    ]
    if blocks:
        chosen = (defining or blocks)[0]
    else:
        start = re.search(r"^(?:def |class |import |from |@)", text, re.MULTILINE)
        chosen = text[start.start() :] if start else text
    return _definitions(chosen)
''',
    "_definitions": r'''
def _definitions(code: str) -> str:
    """The imports, functions, classes and plain assignments of ``code`` (of its longest start
    that parses), in their own words; ``code`` itself when no start of it parses."""
    lines = code.strip("\n").splitlines()
    kinds = (
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
    )
    for end in range(len(lines), 0, -1):
        try:
            tree = ast.parse("\n".join(lines[:end]))
        except SyntaxError:
            continue
        kept = []
        for node in tree.body:
            plain = isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(
                isinstance(part, ast.Call) for part in ast.walk(node)
            )
            if isinstance(node, kinds) or plain:
                first = min(
                    [
                        node.lineno,
                        *(d.lineno for d in getattr(node, "decorator_list", [])),
                    ]
                )
                kept.append("\n".join(lines[first - 1 : node.end_lineno]))
        if kept:
            return "\n\n".join(kept).strip() + "\n"
        break
    return code.strip("\n").rstrip() + "\n"
''',
    "check_code": r'''
def check_code(problem: str, code: str) -> dict:
    """Run the code after the problem's imports and helpers, then each example of the problem's
    docstrings against it: doctest ones, and lines such as ``f(1) == 2`` or ``f(1) => 2`` (a
    second at most each). ``score``: the examples that pass, -1 when the code does not even
    run; ``passed``: it runs and no example fails; ``failures``: one line per wrong example."""
    namespace: dict = {}
    program = _program(problem, code)
    try:
        _limited(lambda: exec(compile(program, "<candidate>", "exec"), namespace), 2)
    except BaseException as error:
        failures = [f"the code does not run: {type(error).__name__}: {error}"[:300]]
        return _report(code, -1, 0, failures)
    try:
        functions = [
            n for n in ast.walk(ast.parse(problem)) if isinstance(n, ast.FunctionDef)
        ]
        docs = "\n".join(ast.get_docstring(f) or "" for f in functions)
        cases = [_as_value(e) for e in doctest.DocTestParser().get_examples(docs)]
        cases += _stated_examples(docs, functions)
    except (SyntaxError, ValueError):
        cases = []
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(verbose=False, optionflags=flags)
    failures: list = []
    untried = 0
    for index, case in enumerate(cases):
        source = case[0] if isinstance(case, tuple) else case.source.strip()
        try:
            if isinstance(case, tuple):
                got = _limited(lambda: eval(source, namespace), 1)
                if not _same(got, case[1]):
                    failures.append(
                        f"{source} returned {got!r:.200} instead of {case[1]!r:.200}"
                    )
            else:
                single = doctest.DocTest([case], namespace, "problem", None, 0, None)
                out: list = []
                result = _limited(
                    lambda: runner.run(single, out=out.append, clear_globs=False), 1
                )
                if result.failed:
                    failures.append(f"{source} did not give {case.want.strip()!r:.200}")
                if "TimeoutError" in "".join(out):
                    raise TimeoutError("no answer within 1 s")
        except BaseException as error:
            failures.append(f"{source} raised {type(error).__name__}: {error}"[:300])
            if isinstance(error, TimeoutError):  # a loop that never ends: stop here
                untried = len(cases) - index - 1
                break
    score = len(cases) - len(failures) - untried
    return _report(code, score, len(cases), failures)
''',
    "_report": r'''
def _report(code: str, score: int, total: int, failures: list) -> dict:
    """A test report: see ``check_code``."""
    return {
        "passed": score == total,
        "score": score,
        "total": total,
        "failures": failures,
        "report": "\n".join(failures) or "all examples pass",
        "code": code,
        "attempts": 0,
    }
''',
    "_stated_examples": r'''
def _stated_examples(docs: str, functions: list) -> list:
    """``(call, expected value)`` of docstring lines such as ``f(1) == 2``, ``f(1) => true`` or
    ``f("a") returns 'b'``: calls of the problem's own functions on literals, literal values."""
    names = {function.name for function in functions}
    pattern = (
        r"^[\s*#-]*(?:[A-Za-z ]+:\s*)?(?:for\s+)?([A-Za-z_]\w*\(.*\))\s*#?\s*"
        r"(?:==>|=>|==|->|=|\u279e|returns|should return|will return)\s*(.+?)\.?\s*$"
    )
    found = []
    for line in docs.splitlines():
        match = re.match(pattern, line)
        if match is None or line.lstrip().startswith(">>>"):
            continue
        want = re.sub(
            r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", match.group(2))
        )
        try:
            call = ast.parse(match.group(1), mode="eval")
            value = ast.literal_eval(want)
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
        used = {node.id for node in ast.walk(call) if isinstance(node, ast.Name)}
        if isinstance(call.body, ast.Call) and used <= names:
            found.append((match.group(1), value))
    return found
''',
    "_as_value": r'''
def _as_value(example):
    """A doctest example as ``(expression, expected value)`` when its output is a literal (so
    ``"a"`` and ``'a'`` are the same answer) or it reads ``f(x) == literal``; else itself."""
    try:
        source = example.source.strip()
        tree = ast.parse(source, mode="eval").body
        if example.want.strip():
            return (source, ast.literal_eval(example.want.strip()))
        if (
            isinstance(tree, ast.Compare)
            and len(tree.ops) == 1
            and isinstance(tree.ops[0], ast.Eq)
        ):
            return (
                ast.unparse(tree.left),
                ast.literal_eval(tree.comparators[0]),
            )  # f(x) == 3
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        pass
    return example
''',
    "_same": r'''
def _same(got, want) -> bool:
    """Whether a result is the expected value (numbers to a relative 1e-6)."""
    if (
        isinstance(got, (int, float))
        and isinstance(want, (int, float))
        and not isinstance(got, bool)
    ):
        return abs(got - want) <= 1e-6 * max(1.0, abs(want))
    return bool(got == want)
''',
    "_program": r'''
def _program(problem: str, code: str) -> str:
    """The module code runs as: the problem (its imports and helpers; its last function a stub)
    then the code; or the problem completed by the code, when that defines no such function."""
    names = re.findall(r"^def (\w+)", problem, re.MULTILINE)
    if not names or not re.search(rf"^\s*def {names[-1]}\b", code, re.MULTILINE):
        return problem + code
    last = problem.rstrip().splitlines()[-1]
    stub = problem.rstrip() + "\n" + last[: len(last) - len(last.lstrip())] + "pass\n"
    try:
        compile(stub, "<problem>", "exec")
    except SyntaxError:
        return code
    return stub + "\n\n" + code
''',
    "_limited": r'''
def _limited(run, seconds: int):
    """``run()``, stopped by a ``TimeoutError`` after ``seconds`` (where alarms can be set)."""

    def stop(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    try:
        previous = signal.signal(signal.SIGALRM, stop)
    except ValueError:
        return run()
    signal.alarm(seconds)
    try:
        return run()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
''',
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
    "failure_report": r'''
def failure_report(report: dict) -> str:
    """What a fixer is shown: the best code so far (fenced) and the examples it gets wrong."""
    fence = "`" * 3
    code = report["code"].rstrip()
    return f"{fence}python\n{code}\n{fence}\n\n{failure_hints(report)}"
''',
    "failure_hints": r'''
def failure_hints(report: dict) -> str:
    """The examples the best code so far gets wrong, one a line (and a refused attempt's)."""
    lines = ["It gets these examples from the docstring wrong:"]
    lines += [f"- {failure}" for failure in report.get("failures", [])[:6]]
    if report.get("rejected"):
        lines.append("Another attempt got these wrong:")
        lines += [f"- {failure}" for failure in report["rejected"][:6]]
    return "\n".join(lines)
''',
    "final_code": r'''
def final_code(report: dict) -> str:
    """The code a test report was made for."""
    return report["code"]
''',
    "has_passed": r'''
def has_passed(report: dict) -> bool:
    """Whether every example passed."""
    return bool(report.get("passed"))
''',
    **SELECT_TOOLS,
}

DEPENDS = {
    "extract_code": ("_definitions",),
    "check_code": ("_program", "_limited", "_as_value", "_stated_examples", "_same", "_report"),
    "keep_better": ("check_code",),
    "failure_report": ("failure_hints",),
    **SELECT_DEPENDS,
}
"""The helpers each tool calls (``tools_for`` adds them)."""


def tools_for(names: list[str]) -> list[str]:
    """``names`` with every helper they call, each once, each helper right before its first user."""
    order: list[str] = []

    def add(name: str) -> None:
        for needed in DEPENDS.get(name, ()):
            add(needed)
        if name not in order:
            order.append(name)

    for name in names:
        add(name)
    return order
