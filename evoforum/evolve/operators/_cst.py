"""libcst helpers: functions of a module, the sites GP may edit, and editing exactly one node.

An edit replaces one node, found by identity in the parsed tree, so every other byte of the
module stays as it was. Only right-hand-side expressions and whole statements inside function
bodies are sites: signatures, decorators, docstrings and the insides of f-strings (where quotes
and braces of a transplanted expression would not parse) are never touched.
"""

from __future__ import annotations

import ast

import libcst as cst

from evoforum.errors import CodeRejected

EXPRESSIONS: tuple[type[cst.BaseExpression], ...] = (
    cst.BinaryOperation,
    cst.Comparison,
    cst.BooleanOperation,
    cst.UnaryOperation,
    cst.Call,
    cst.Integer,
    cst.Float,
)
NUMBERS = (cst.Integer, cst.Float)


def parse(code: str) -> cst.Module:
    """``code`` as a libcst module; ``CodeRejected`` when it does not parse."""
    try:
        return cst.parse_module(code)
    except cst.ParserSyntaxError as error:
        raise CodeRejected(f"line {error.raw_line}: not valid Python: {error.message}") from None


def functions(module: cst.Module) -> dict[str, cst.FunctionDef]:
    """The module's top-level functions by name."""
    return {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}


def signatures(module: cst.Module) -> dict[str, str]:
    """The source of every top-level function's name and parameters (what must not change)."""
    empty = cst.Module(body=[])
    return {name: empty.code_for_node(f.params) for name, f in functions(module).items()}


class _Collect(cst.CSTVisitor):
    def __init__(self, kinds: tuple[type[cst.CSTNode], ...]) -> None:
        self.kinds = kinds
        self.found: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.FormattedString):
            return False
        if isinstance(node, self.kinds):
            self.found.append(node)
        return True


def expression_sites(
    function: cst.FunctionDef, kinds: tuple[type[cst.CSTNode], ...] = EXPRESSIONS
) -> list[cst.CSTNode]:
    """The expressions of ``kinds`` in the body of ``function``, in source order."""
    collect = _Collect(kinds)
    for statement in _body(function):
        statement.visit(collect)
    return collect.found


def statement_sites(function: cst.FunctionDef) -> list[cst.BaseStatement]:
    """The statements directly in the body of ``function`` (its docstring left out)."""
    return list(_body(function))


def _body(function: cst.FunctionDef) -> list[cst.BaseStatement]:
    if not isinstance(function.body, cst.IndentedBlock):
        return []
    statements = list(function.body.body)
    if statements and _is_docstring(statements[0]):
        statements = statements[1:]
    return statements


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


class _Replace(cst.CSTTransformer):
    def __init__(self, target: cst.CSTNode, new: cst.CSTNode) -> None:
        self.target, self.new, self.done = target, new, False

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:  # type: ignore[override]
        if original_node is self.target:
            self.done = True
            return self.new
        return updated_node


def replace_node(module: cst.Module, target: cst.CSTNode, new: cst.CSTNode) -> cst.Module:
    """``module`` with exactly the node ``target`` (by identity) replaced by ``new``."""
    replacer = _Replace(target, new)
    edited = module.visit(replacer)
    if not replacer.done:
        raise CodeRejected("the node to edit is not part of the module")
    return edited


def checked(before: cst.Module, after: cst.Module) -> str:
    """The edited module's code when it parses and keeps every signature; else ``CodeRejected``."""
    code = after.code
    try:
        ast.parse(code)
    except SyntaxError as error:
        raise CodeRejected(f"the edited code does not parse: {error.msg} (line {error.lineno})") from None
    if signatures(after) != signatures(before):
        raise CodeRejected("the edit changed a function signature")
    return code


def source(node: cst.CSTNode) -> str:
    """The source text of ``node``."""
    return cst.Module(body=[]).code_for_node(node)
