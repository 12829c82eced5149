"""The code-writing space's tool library: the plumbing its genomes import by name.

Genome code says ``from search_spaces.library.code_tools import check_code, extract_code`` instead
of carrying these functions, so operators see (and rewrite) only a genome's own prompts, wiring and
selection logic, and an exported genome stays short. The module uses the standard library alone:
the sandbox ships its source beside the genome's code (``evoforum.genome.library``), and an
exported winner imports it from the installed project.

No source here holds a run of three backticks: operators show genome code to a model inside fenced
blocks, so a fence is matched with a repeat (a backtick, ``{3,}`` times) instead.
"""

from __future__ import annotations

import ast
import doctest
import re
import signal
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "assert_lines",
    "behaviour",
    "check_code",
    "example_calls",
    "extract_code",
    "failure_hints",
    "failure_report",
    "final_code",
    "has_passed",
    "tests_passed",
]

T = TypeVar("T")
Case = tuple[str, Any] | doctest.Example
"""An example of a problem's docstring: ``(expression, expected value)``, or a doctest example
whose output is not a literal."""


def extract_code(text: str) -> str:
    """The code of a reply: its first fenced block that defines a function (else its first
    block, else the reply from its first line of code on), without the example calls, prints
    and tests a model likes to add below the function. A block cut off at the end still counts."""
    fence = r"^[ \t]*`{3,}[\w.+-]*[ \t]*\n(.*?)(?:^[ \t]*`{3,}[ \t]*$|\Z)"
    blocks = re.findall(fence, text, re.DOTALL | re.MULTILINE)
    defining = [block for block in blocks if re.search(r"^\s*def ", block, re.MULTILINE)]
    if blocks:
        chosen = (defining or blocks)[0]
    else:
        start = re.search(r"^(?:def |class |import |from |@)", text, re.MULTILINE)
        chosen = text[start.start() :] if start else text
    return _definitions(chosen)


def _definitions(code: str) -> str:
    """The imports, functions, classes and plain assignments of ``code`` (of its longest start
    that parses), in their own words; ``code`` itself when no start of it parses."""
    lines = code.strip("\n").splitlines()
    kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for end in range(len(lines), 0, -1):
        try:
            tree = ast.parse("\n".join(lines[:end]))
        except SyntaxError:
            continue
        kept = []
        for node in tree.body:
            plain = isinstance(node, ast.Assign | ast.AnnAssign) and not any(
                isinstance(part, ast.Call) for part in ast.walk(node)
            )
            if isinstance(node, kinds) or plain:
                decorators = getattr(node, "decorator_list", [])
                first = min([node.lineno, *(d.lineno for d in decorators)])
                kept.append("\n".join(lines[first - 1 : node.end_lineno]))
        if kept:
            return "\n\n".join(kept).strip() + "\n"
        break
    return code.strip("\n").rstrip() + "\n"


def check_code(problem: str, code: str) -> dict[str, Any]:
    """Run the code after the problem's imports and helpers, then each example of the problem's
    docstrings against it: doctest ones, and lines such as ``f(1) == 2`` or ``f(1) => 2`` (a
    second at most each). ``score``: the examples that pass, -1 when the code does not even
    run; ``passed``: it runs and no example fails; ``failures``: one line per wrong example."""
    namespace = _loaded(problem, code)
    if isinstance(namespace, str):
        return _report(code, -1, 0, [namespace])
    cases = _cases(problem)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(verbose=False, optionflags=flags)
    failures: list[str] = []
    untried = 0
    for index, case in enumerate(cases):
        source = _source(case)
        try:
            if isinstance(case, tuple):
                got = _limited(lambda: eval(source, namespace), 1)  # noqa: B023 - called at once
                if not _same(got, case[1]):
                    failures.append(f"{source} returned {got!r:.200} instead of {case[1]!r:.200}")
            else:
                single = doctest.DocTest([case], namespace, "problem", None, 0, None)
                out: list[str] = []
                result = _limited(lambda: runner.run(single, out=out.append, clear_globs=False), 1)  # noqa: B023
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


def failure_report(report: dict[str, Any]) -> str:
    """What a fixer is shown: the best code so far (fenced) and the examples it gets wrong."""
    fence = "`" * 3
    code = report["code"].rstrip()
    return f"{fence}python\n{code}\n{fence}\n\n{failure_hints(report)}"


def failure_hints(report: dict[str, Any]) -> str:
    """The examples the best code so far gets wrong, one a line (and a refused attempt's)."""
    lines = ["It gets these examples from the docstring wrong:"]
    lines += [f"- {failure}" for failure in report.get("failures", [])[:6]]
    if report.get("rejected"):
        lines.append("Another attempt got these wrong:")
        lines += [f"- {failure}" for failure in report["rejected"][:6]]
    return "\n".join(lines)


def final_code(report: dict[str, Any]) -> str:
    """The code a test report was made for."""
    return str(report["code"])


def has_passed(report: dict[str, Any]) -> bool:
    """Whether every example passed."""
    return bool(report.get("passed"))


def example_calls(problem: str) -> list[str]:
    """The expressions the problem's docstring examples evaluate (their inputs), in order."""
    return [_source(case) for case in _cases(problem)]


def behaviour(problem: str, code: str, calls: list[str]) -> tuple[str, ...] | None:
    """What ``code`` returns on each call (an error by its kind), or None when it does not run."""
    namespace = _loaded(problem, code)
    if isinstance(namespace, str):
        return None
    seen = []
    for call in calls:
        try:
            seen.append(repr(_limited(lambda: eval(call, namespace), 1))[:300])  # noqa: B023
        except BaseException as error:
            seen.append(f"raised {type(error).__name__}")
            if isinstance(error, TimeoutError):
                break
    return tuple(seen)


def assert_lines(tests: str) -> list[str]:
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


def tests_passed(problem: str, code: str, asserts: list[str]) -> int:
    """How many of ``asserts`` hold for ``code`` (a second each; a hang ends the count)."""
    namespace = _loaded(problem, code)
    if isinstance(namespace, str):
        return 0
    passed = 0
    for line in asserts:
        try:
            _limited(lambda: exec(line, namespace), 1)  # noqa: B023
            passed += 1
        except TimeoutError:
            break
        except BaseException:
            continue
    return passed


def _loaded(problem: str, code: str) -> dict[str, Any] | str:
    """The namespace of ``code`` run after the problem (two seconds at most), or why it does not run."""
    namespace: dict[str, Any] = {}
    try:
        program = compile(_program(problem, code), "<candidate>", "exec")
        _limited(lambda: exec(program, namespace), 2)
    except BaseException as error:
        return f"the code does not run: {type(error).__name__}: {error}"[:300]
    return namespace


def _cases(problem: str) -> list[Case]:
    """The examples of the problem's docstrings: doctest ones, then stated ones (``f(1) == 2``)."""
    try:
        functions = [n for n in ast.walk(ast.parse(problem)) if isinstance(n, ast.FunctionDef)]
        docs = "\n".join(ast.get_docstring(f) or "" for f in functions)
        cases: list[Case] = [_as_value(e) for e in doctest.DocTestParser().get_examples(docs)]
        return cases + _stated_examples(docs, functions)
    except (SyntaxError, ValueError):
        return []


def _source(case: Case) -> str:
    return case[0] if isinstance(case, tuple) else case.source.strip()


def _report(code: str, score: int, total: int, failures: list[str]) -> dict[str, Any]:
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


def _stated_examples(docs: str, functions: list[ast.FunctionDef]) -> list[Case]:
    """``(call, expected value)`` of docstring lines such as ``f(1) == 2``, ``f(1) => true`` or
    ``f("a") returns 'b'``: calls of the problem's own functions on literals, literal values."""
    names = {function.name for function in functions}
    pattern = (
        r"^[\s*#-]*(?:[A-Za-z ]+:\s*)?(?:for\s+)?([A-Za-z_]\w*\(.*\))\s*#?\s*"
        r"(?:==>|=>|==|->|=|\u279e|returns|should return|will return)\s*(.+?)\.?\s*$"
    )
    found: list[Case] = []
    for line in docs.splitlines():
        match = re.match(pattern, line)
        if match is None or line.lstrip().startswith(">>>"):
            continue
        want = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", match.group(2)))
        try:
            call = ast.parse(match.group(1), mode="eval")
            value = ast.literal_eval(want)
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
        used = {node.id for node in ast.walk(call) if isinstance(node, ast.Name)}
        if isinstance(call.body, ast.Call) and used <= names:
            found.append((match.group(1), value))
    return found


def _as_value(example: doctest.Example) -> Case:
    """A doctest example as ``(expression, expected value)`` when its output is a literal (so
    ``"a"`` and ``'a'`` are the same answer) or it reads ``f(x) == literal``; else itself."""
    try:
        source = example.source.strip()
        tree = ast.parse(source, mode="eval").body
        if example.want.strip():
            return (source, ast.literal_eval(example.want.strip()))
        if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], ast.Eq):
            return (ast.unparse(tree.left), ast.literal_eval(tree.comparators[0]))  # f(x) == 3
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        pass
    return example


def _same(got: Any, want: Any) -> bool:
    """Whether a result is the expected value (numbers to a relative 1e-6)."""
    if isinstance(got, int | float) and isinstance(want, int | float) and not isinstance(got, bool):
        return abs(got - want) <= 1e-6 * max(1.0, abs(want))
    return bool(got == want)


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


def _limited(run: Callable[[], T], seconds: int) -> T:
    """``run()``, stopped by a ``TimeoutError`` after ``seconds`` (where alarms can be set)."""

    def stop(signum: int, frame: object) -> None:
        raise TimeoutError(f"no answer within {seconds} s")

    try:
        previous = signal.signal(signal.SIGALRM, stop)
    except ValueError:  # not the main thread
        return run()
    signal.alarm(seconds)
    try:
        return run()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
