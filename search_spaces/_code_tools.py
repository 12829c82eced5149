"""Tool sources of the code-writing space (genome code: parsed, run only in the sandbox)."""

from __future__ import annotations

HEADER = """
import ast
import doctest
import re
"""

TOOLS = {
    "extract_code": '''
def extract_code(text: str) -> str:
    """The first fenced code block of a reply, or the whole reply."""
    match = re.search(r"```(?:python)?\\n(.*?)```", text, re.DOTALL)
    return (match.group(1) if match else text).strip() + "\\n"
''',
    "check_code": '''
def check_code(problem: str, code: str) -> dict:
    """Run the code, then the examples in the problem's docstring against it."""
    namespace: dict = {}
    try:
        exec(compile(code, "<candidate>", "exec"), namespace)
    except Exception as error:
        report = f"{type(error).__name__}: {error}"
        return {"passed": False, "report": report, "code": code}
    try:
        tree = ast.parse(problem)
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        examples = "\\n".join(ast.get_docstring(f) or "" for f in functions)
    except SyntaxError:
        examples = problem
    test = doctest.DocTestParser().get_doctest(examples, namespace, "problem", None, 0)
    lines: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=lines.append)
    report = "".join(lines)[-2000:] or "all examples pass"
    return {"passed": result.failed == 0, "report": report, "code": code}
''',
    "final_code": '''
def final_code(report: dict) -> str:
    """The code a test report was made for."""
    return report["code"]
''',
    "has_passed": '''
def has_passed(report: dict) -> bool:
    """Whether every example passed."""
    return bool(report.get("passed"))
''',
}
