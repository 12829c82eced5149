"""The LLM rewrite's targets and how an answer is applied: one node, through libcst.

A function target is replaced as a whole ``FunctionDef`` node in the genome's code (the rest of
the module is byte-identical); its signature must stay the same. A prompt target is the string
argument of one ``LLMAgentSpec(...)`` call in the exported module; that argument node is replaced and
the module parsed back with ``codegen.parse``. The placeholders of a prompt must stay the same; an
answer with no ``<prompt>`` element is taken whole when it keeps them.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass

import libcst as cst

from evoforum.codegen import export, parse
from evoforum.errors import CodeRejected, LLMMisbehaved
from evoforum.evolve.operators import _cst
from evoforum.evolve.operators._edit import fence, fenced_blocks
from evoforum.genome import LLMAgentSpec, WorkflowGenome
from evoforum.genome.agents import placeholders
from evoforum.genome.model import normalize_code

_PROMPT = re.compile(r"<prompt>\n?(.*?)\n?</prompt>", re.DOTALL)
PROMPT_FIELDS = ("prompt", "system_prompt")


@dataclass(frozen=True)
class Target:
    """What the rewrite edits: ``kind`` is "function" or "prompt"; ``name`` the function, or the
    agent and field as ``agent.field``; ``before`` its text, ``shown`` how the model sees it."""

    kind: str
    name: str
    before: str
    shown: str


def pick_target(genome: WorkflowGenome, rng: random.Random) -> Target | None:
    """A function of the code or a non-empty prompt of an LLM agent, drawn from ``rng``."""
    targets: list[Target] = []
    if genome.code:
        for name, function in _cst.functions(_cst.parse(genome.code)).items():
            source = _cst.source(function).strip("\n")
            targets.append(Target("function", name, source, fence(source, "python")))
    for agent in genome.agents:
        if isinstance(agent, LLMAgentSpec):
            for field in PROMPT_FIELDS:
                text = getattr(agent, field)
                if text:
                    targets.append(
                        Target("prompt", f"{agent.name}.{field}", text, f"<prompt>\n{text}\n</prompt>")
                    )
    return targets[rng.randrange(len(targets))] if targets else None


def apply(genome: WorkflowGenome, target: Target, answer: str) -> tuple[WorkflowGenome, str]:
    """The child with the answer applied to the target, and the new text of the target."""
    if target.kind == "function":
        return apply_function(genome, target.name, answer)
    return apply_prompt(genome, target.name, answer)


def apply_function(genome: WorkflowGenome, name: str, answer: str) -> tuple[WorkflowGenome, str]:
    blocks = fenced_blocks(answer)
    if not blocks:
        raise LLMMisbehaved("the rewrite holds no fenced code block", raw=answer[:2000])
    new_module = _cst.parse(blocks[0])
    new = _cst.functions(new_module).get(name)
    if new is None:
        raise CodeRejected(f"the rewrite defines no function {name!r}")
    module = _cst.parse(genome.code)
    old = _cst.functions(module)[name]
    if _args(old) != _args(new):
        raise CodeRejected(f"the rewrite changed the signature of {name!r}")
    edited = _cst.replace_node(module, old, new.with_changes(leading_lines=old.leading_lines))
    code = _cst.checked(module, edited)
    return genome.model_copy(update={"code": normalize_code(code)}), _cst.source(new).strip("\n")


def _args(function: cst.FunctionDef) -> str:
    tree = ast.parse(_cst.source(function.with_changes(decorators=(), leading_lines=())).strip())
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    return ast.dump(node.args) + (ast.dump(node.returns) if node.returns else "")


def apply_prompt(genome: WorkflowGenome, name: str, answer: str) -> tuple[WorkflowGenome, str]:
    """The child with the prompt of ``answer``: its last ``<prompt>`` element or, when it holds
    none, the whole answer (without a fence around it) if it keeps the prompt's placeholders (a
    small model often answers with the bare prompt; a prompt without placeholders, such as a system
    prompt, is taken only from an element)."""
    agent_name, field = name.split(".")
    agent = genome.agent(agent_name)
    assert isinstance(agent, LLMAgentSpec)
    found = _PROMPT.findall(answer)
    if found:
        text = found[-1].strip()
    else:
        text = _bare(answer)
        if not placeholders(getattr(agent, field)) or placeholders(text) != placeholders(
            getattr(agent, field)
        ):
            raise LLMMisbehaved("the rewrite holds no <prompt> element", raw=answer[:2000])
    if not text:
        raise LLMMisbehaved("the rewritten prompt is empty", raw=answer[:2000])
    if placeholders(text) != placeholders(getattr(agent, field)):
        raise LLMMisbehaved("the rewritten prompt changed its {placeholders}", raw=text[:2000])
    module = cst.parse_module(export(genome))
    argument = _agent_argument(module, agent_name, field)
    literal = cst.SimpleString(repr(text))
    edited = _cst.replace_node(module, argument, argument.with_changes(value=literal))
    return parse(edited.code), text


def _bare(answer: str) -> str:
    """``answer`` stripped, without one fence around the whole of it."""
    text = answer.strip()
    fenced = re.fullmatch(r"```[\w-]*\n(.*?)\n?```", text, re.DOTALL)
    return (fenced[1] if fenced else text).strip()


def _agent_argument(module: cst.Module, agent: str, field: str) -> cst.Arg:
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.Assign):
            assign = statement.body[0]
            target = assign.targets[0].target
            if isinstance(target, cst.Name) and target.value == agent and isinstance(assign.value, cst.Call):
                for arg in assign.value.args:
                    if arg.keyword is not None and arg.keyword.value == field:
                        return arg
    raise CodeRejected(f"the exported module has no {field}= argument for agent {agent!r}")
