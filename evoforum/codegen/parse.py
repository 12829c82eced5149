"""``parse(source) -> WorkflowGenome``: an exported module (edited or not) read back with libcst.

Nothing of the module is executed. The code section is kept as text; the workflow section must
keep the exported form (see ``export``): anything else is ``CodeRejected`` naming the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider
from pydantic import ValidationError

from evoforum.codegen._read import Rejected, callee, keywords, literal, name, text
from evoforum.codegen._read_flow import FlowReader, RawTask
from evoforum.codegen.export import CALLS, CODE_MARKER, WORKFLOW_MARKER
from evoforum.errors import CodeRejected
from evoforum.genome import FunctionAgentSpec, LLMAgentSpec, Metadata, WorkflowGenome
from evoforum.genome.agents import AgentSpec, RecallSpec, RememberSpec, RequestSpec
from evoforum.genome.model import normalize_code

LLM_ARGS = ["name", "model", "system_prompt", "prompt", "temperature", "max_tokens", "tools", "output_schema"]
RUNTIME_SPECS: dict[str, tuple[type[RecallSpec | RememberSpec | RequestSpec], list[str]]] = {
    "RecallSpec": (RecallSpec, ["name", "collection", "k", "template"]),
    "RememberSpec": (RememberSpec, ["name", "collection", "key"]),
    "RequestSpec": (RequestSpec, ["name", "subject", "fields", "responder", "timeout_s"]),
}
TASK_ARGS = ["executor", "output"]
EXECUTORS = ("asyncio", "process", "ray")
SECTION = "(helper code belongs in the code section above '# -- workflow')"


def parse(source: str) -> WorkflowGenome:
    """The genome of an exported module. ``CodeRejected`` (with ``line``) when the module is not in
    the exported form; ``GenomeInvalid`` when it is, but the genome it describes is invalid."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise CodeRejected(
            f"line {error.raw_line}: not valid Python: {error.message}", line=error.raw_line
        ) from None
    try:
        genome = _Reader(module).genome()
    except Rejected as rejected:
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        line = positions[rejected.node].start.line if rejected.node in positions else 1
        raise CodeRejected(f"line {line}: {rejected.message}", line=line) from None
    return genome.validate_all()


def _small(statement: cst.CSTNode) -> cst.BaseSmallStatement | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return statement.body[0]
    return None


def _is_header(statement: cst.CSTNode, index: int) -> bool:
    small = _small(statement)
    if index == 0 and isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString):
        return True
    if not isinstance(small, cst.ImportFrom) or small.module is None:
        return False
    module = cst.Module(body=[]).code_for_node(small.module)
    return module == "evoforum" or module.startswith("evoforum.")


def _is_helper(statement: cst.CSTNode) -> bool:
    """Whether a statement of the workflow section is code that belongs to the code section: a
    function that is not a task, or an import of anything but evoforum."""
    if isinstance(statement, cst.FunctionDef):
        return not statement.decorators
    small = _small(statement)
    return isinstance(small, cst.Import | cst.ImportFrom) and not _is_header(statement, 1)


def _assignment(statement: cst.CSTNode) -> tuple[str, cst.BaseExpression] | None:
    small = _small(statement)
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Name):
            return target.value, small.value
    return None


def _marked(lines: Sequence[cst.EmptyLine], marker: str) -> int | None:
    for index, line in enumerate(lines):
        if line.comment is not None and line.comment.value.startswith(marker.strip()):
            return index
    return None


class _Reader:
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.agents: list[AgentSpec] = []
        self.tasks: dict[str, RawTask] = {}
        self.values: dict[str, cst.BaseExpression] = {}
        self.calls: dict[str, tuple[str, list[str], cst.Call]] = {}
        """Per task that calls through the runtime: the function, the names passed before the
        keywords (resources, the agent, a responder) and the call."""

    def genome(self) -> WorkflowGenome:
        body: list[cst.BaseStatement] = list(self.module.body)
        start = 0
        while start < len(body) and _is_header(body[start], start):
            start += 1
        names = [(_assignment(s) or ("",))[0] for s in body]
        if "METADATA" not in names[start:]:
            raise Rejected(self.module, "no `METADATA = {...}`: this is not a module exported by evoforum")
        meta_at = names.index("METADATA", start)
        helpers = [s for s in body[meta_at:] if _is_helper(s)]  # helpers written below METADATA
        code = self._code(body[start:meta_at] + helpers, body[meta_at])
        for statement in body[meta_at:]:
            if not any(statement is helper for helper in helpers):
                self._statement(statement)
        for required in ("INPUTS", "workflow"):
            if required not in self.values:
                raise Rejected(self.module, f"no `{required} = ...` in the workflow section")
        try:
            metadata = Metadata.model_validate(literal(self.values["METADATA"]))
        except ValidationError as error:
            raise Rejected(self.values["METADATA"], f"METADATA: {error.errors()[0]['msg']}") from None
        inputs = literal(self.values["INPUTS"])
        if not isinstance(inputs, tuple | list) or not all(isinstance(i, str) for i in inputs):
            raise Rejected(self.values["INPUTS"], "INPUTS must be a tuple of input names")
        flows = FlowReader(self.tasks)
        entry = flows.body(self.values["workflow"])
        for raw in self.tasks.values():
            if raw.name not in flows.used:
                raise Rejected(raw.node, f"task {raw.name!r} is not part of the workflow")
        agents = tuple(self.agents)
        self._check_calls(agents)
        return WorkflowGenome(inputs=tuple(inputs), agents=agents, code=code, entry=entry, metadata=metadata)

    def _code(self, statements: list[cst.BaseStatement], metadata: cst.BaseStatement) -> str:
        assert isinstance(metadata, cst.SimpleStatementLine)
        leading = list(metadata.leading_lines)
        mark = _marked(leading, WORKFLOW_MARKER)
        footer = leading[:mark] if mark is not None else leading
        if statements:
            first = statements[0]
            assert isinstance(first, cst.SimpleStatementLine | cst.BaseCompoundStatement)
            mark = _marked(first.leading_lines, CODE_MARKER)
            if mark is not None:
                statements[0] = first.with_changes(leading_lines=first.leading_lines[mark + 1 :])
        if not statements and not any(line.comment for line in footer):
            return ""
        return normalize_code(self.module.with_changes(body=statements, header=(), footer=footer).code)

    def _statement(self, statement: cst.BaseStatement) -> None:
        assigned = _assignment(statement)
        if assigned is not None:
            target, value = assigned
            if target in ("METADATA", "INPUTS", "workflow"):
                self.values[target] = value
            elif isinstance(value, cst.Name):
                self.agents.append(FunctionAgentSpec(name=target, function=value.value))
            elif isinstance(value, cst.Call) and callee(value) == "LLMAgentSpec":
                self.agents.append(self._llm_agent(target, value))
            elif isinstance(value, cst.Call) and callee(value) in RUNTIME_SPECS:
                self.agents.append(self._runtime_agent(target, value))
            else:
                raise Rejected(
                    statement, f"unexpected assignment to {target!r} in the workflow section {SECTION}"
                )
        elif isinstance(statement, cst.FunctionDef):
            raw = self._task(statement)
            if raw.name in self.tasks:
                raise Rejected(statement, f"task {raw.name!r} is defined twice")
            self.tasks[raw.name] = raw
        elif not _is_main(statement):
            raise Rejected(statement, f"unexpected statement in the workflow section {SECTION}")

    def _llm_agent(self, target: str, call: cst.Call) -> AgentSpec:
        args = keywords(call, LLM_ARGS, "LLMAgentSpec")
        data: dict[str, Any] = {key: literal(node) for key, node in args.items()}
        if data.get("name", target) != target:
            raise Rejected(args["name"], f"the agent is assigned to {target!r} but named {data['name']!r}")
        try:
            return LLMAgentSpec.model_validate({**data, "name": target})
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise Rejected(call, f"agent {target!r}: {where}: {problem['msg']}") from None

    def _runtime_agent(self, target: str, call: cst.Call) -> AgentSpec:
        what = callee(call) or ""
        model, allowed = RUNTIME_SPECS[what]
        args = keywords(call, allowed, what)
        data: dict[str, Any] = {key: literal(node) for key, node in args.items()}
        if data.get("name", target) != target:
            raise Rejected(args["name"], f"the agent is assigned to {target!r} but named {data['name']!r}")
        try:
            return model.model_validate({**data, "name": target})
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise Rejected(call, f"agent {target!r}: {where}: {problem['msg']}") from None

    def _check_calls(self, agents: Sequence[AgentSpec]) -> None:
        """Each task calls its agent the way the agent's kind is called: ``ask(llm, agent, …)``,
        ``recall(memory, llm, agent, …)``, ``request(bus, llm, agent, responder, …)``…"""
        kinds = {agent.name: agent for agent in agents}
        for task, (function, passed, call) in self.calls.items():
            agent = kinds.get(passed[-1]) if function != "request" else kinds.get(passed[-2])
            if agent is None:
                continue  # validation names the unknown agent
            expected, resources = CALLS.get(agent.kind, ("", ()))
            responder = [agent.responder] if isinstance(agent, RequestSpec) else []
            want = [*resources, agent.name, *responder]
            if function != expected or passed != want:
                raise Rejected(
                    call, f"task {task!r}: expected {expected}({', '.join(want)}, param=source, ...)"
                )

    def _task(self, function: cst.FunctionDef) -> RawTask:
        task_name = function.name.value
        executor, output = _options(function)
        params = [p.name.value for p in function.params.params if not _is_injected(p)]
        statements = list(function.body.body) if isinstance(function.body, cst.IndentedBlock) else []
        if statements and _is_docstring(statements[0]):
            statements = statements[1:]
        call = _returned_call(statements)
        if call is None:
            raise Rejected(
                function, f"task {task_name!r}: the body must be `return agent(param=source, ...)`"
            )
        args = list(call.args)
        called = callee(call) or ""
        runtime = {function: len(resources) for function, resources in CALLS.values()}
        if called in runtime:
            count = runtime[called] + (2 if called == "request" else 1)
            if len(args) < count or any(arg.keyword is not None or arg.star for arg in args[:count]):
                raise Rejected(call, f"expected {called}(resources..., agent, param=source, ...)")
            passed = [name(arg.value, "a resource or an agent") for arg in args[:count]]
            agent = passed[runtime[called]]
            self.calls[task_name] = (called, passed, call)
            args = [arg for arg in args[count:] if not _is_site_seed(arg)]
        else:
            agent = called
        raw = RawTask(task_name, agent, executor, output, function)
        used: set[str] = set()
        for arg in args:
            if arg.keyword is None or arg.star:
                raise Rejected(arg, "pass the agent's inputs as keywords: param=source")
            value, key = arg.value, None
            if isinstance(value, cst.Subscript):
                index = value.slice[0].slice if len(value.slice) == 1 else None
                if not isinstance(index, cst.Index):
                    raise Rejected(value, 'expected source["field"]')
                key = text(index.value, "a field name")
                value = value.value
            source = name(value, "a source (a parameter of the task)")
            if source not in params:
                raise Rejected(value, f"{source!r} is not a parameter of task {task_name!r}")
            used.add(source)
            raw.wires.append((arg.keyword.value, source, key))
        for param in params:
            if param not in used:
                raise Rejected(function, f"parameter {param!r} of task {task_name!r} is not used")
        return raw


def _options(function: cst.FunctionDef) -> tuple[Any, str | None]:
    if len(function.decorators) != 1:
        raise Rejected(function, f"function {function.name.value!r} needs exactly one decorator, @task")
    decorator = function.decorators[0].decorator
    if isinstance(decorator, cst.Name) and decorator.value == "task":
        return "asyncio", None
    if isinstance(decorator, cst.Call) and callee(decorator) == "task":
        args = keywords(decorator, TASK_ARGS, "@task")
        executor = text(args["executor"], "the executor") if "executor" in args else "asyncio"
        if executor not in EXECUTORS:
            raise Rejected(decorator, f"unknown executor {executor!r} (one of {', '.join(EXECUTORS)})")
        output = text(args["output"], "the output name") if "output" in args else None
        return executor, output
    raise Rejected(decorator, "expected @task or @task(executor=..., output=...)")


def _is_site_seed(arg: cst.Arg) -> bool:
    """``seed=sites.seed("state/task")``: the call-site seed an exported call passes (the genome
    does not store it: it follows from where the task is)."""
    value = arg.value
    return (
        arg.keyword is not None
        and arg.keyword.value == "seed"
        and isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == "seed"
    )


def _is_injected(param: cst.Param) -> bool:
    return isinstance(param.default, cst.Call) and callee(param.default) == "Depends"


def _is_docstring(statement: cst.BaseStatement) -> bool:
    small = _small(statement)
    return isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString | cst.ConcatenatedString)


def _returned_call(statements: Sequence[cst.BaseStatement]) -> cst.Call | None:
    small = _small(statements[0]) if len(statements) == 1 else None
    if not isinstance(small, cst.Return) or small.value is None:
        return None
    value = small.value.expression if isinstance(small.value, cst.Await) else small.value
    return value if isinstance(value, cst.Call) and callee(value) is not None else None


def _is_main(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.If) or not isinstance(statement.test, cst.Comparison):
        return False
    left = statement.test.left
    return isinstance(left, cst.Name) and left.value == "__name__"
