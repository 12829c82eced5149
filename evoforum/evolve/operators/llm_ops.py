"""The LLM operators: LMX (k parents in a few-shot prompt, the model writes a child) and the LLM
rewrite of one function or one prompt, applied through libcst to exactly that node.

Both are shown what the run knows (``feedback``): each parent's score and the number of items
behind it, an excerpt of one item a parent failed, and the archive of the best genomes so far.
LMX shows its parents best first.

Both run their operator genome (``operator_genomes``) with ``evoforum.genome.to_workflow``. What the
model answers is parsed back (``codegen.parse``, libcst, pydantic) and checked; an answer that
cannot be used raises an evoforum error, which ``vary`` counts as an invalid child.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal

from evoforum.codegen import export, parse
from evoforum.errors import ConfigError, LLMMisbehaved
from evoforum.evolve.operators import _cst, _rewrite
from evoforum.evolve.operators._edit import fence, fenced_blocks
from evoforum.evolve.operators.base import Children, Operator, note
from evoforum.evolve.operators.context import OperatorContext
from evoforum.evolve.operators.edit_memory import EDIT_KEY, format_examples
from evoforum.evolve.operators.feedback import archive, score_line
from evoforum.evolve.operators.operator_genomes import LMX, REWRITE, operator_genome, run_operator_genome
from evoforum.genome import Metadata, WorkflowGenome
from evoforum.genome.model import normalize_code

LMXMode = Literal["module", "code", "json"]
KEEP = 4000
HINTS = (
    "Make one small, targeted change.",
    "Try a different approach.",
    "Make it more specific.",
    "Simplify it.",
    "Fix the failure shown.",
    "Keep what works and change one thing.",
)
"""One is drawn per call (from the operator's generator), so repeated calls explore."""


NO_FAILURE = "(no failing item recorded)"


def _failure(context: OperatorContext, genomes: Sequence[WorkflowGenome], labelled: bool) -> str:
    """The failing item's excerpt of the first of ``genomes`` that has one (naming that parent
    when ``labelled``)."""
    for index, genome in enumerate(genomes):
        excerpt = context.transcripts.get(genome.hash)
        if excerpt:
            return f"Parent {index + 1}:\n{excerpt}" if labelled else excerpt
    return NO_FAILURE


async def _examples(context: OperatorContext, text: str) -> str:
    if context.memory is None:
        return "(none yet)"
    return format_examples(await context.memory.examples(text, k=2))


async def _ask(context: OperatorContext, kind: str, inputs: dict[str, str], name: str) -> str:
    if context.llm is None:
        raise ConfigError(f"operator {name!r} needs a language model: OperatorContext(llm=...)")
    genome = operator_genome(context.operator_genomes, kind)
    text, tokens = await run_operator_genome(genome, inputs, context.llm, context.model)
    context.stats.of(name).tokens += tokens
    return text


def _with_edit(child: WorkflowGenome, kind: str, before: str, after: str) -> WorkflowGenome:
    edit = {"kind": kind, "before": before[:KEEP], "after": after[:KEEP]}
    origin = {**child.metadata.origin, EDIT_KEY: edit}
    metadata = Metadata(name=child.metadata.name, notes=child.metadata.notes, origin=origin)
    return child.model_copy(update={"metadata": metadata})


def make_lmx(k: int = 2, mode: LMXMode = "module", name: str | None = None) -> Operator:
    """LMX over ``k`` parents. ``mode``: ``"module"`` shows each parent as its exported module and
    parses the answer with ``codegen.parse``; ``"code"`` shows only the helper code and gives the
    best parent the answer's code; ``"json"`` shows genome JSON and validates the answer with
    pydantic."""

    label = name or f"lmx_{mode}_{k}"

    async def lmx(
        parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
    ) -> Children:
        ranked = sorted(parents, key=lambda p: -(context.scores.get(p.hash) or 0.0))
        shown = [_show(p, mode) for p in ranked]
        language = "json" if mode == "json" else "python"
        listing = "\n\n".join(
            f"Parent {i + 1} ({p.hash[:8]}, score {score_line(context, p.hash)}):\n{fence(text, language)}"
            for i, (p, text) in enumerate(zip(ranked, shown, strict=True))
        )
        inputs = {
            "parents": listing,
            "count": str(len(parents)),
            "feedback": _failure(context, ranked, labelled=True),
            "archive": archive(context),
            "examples": await _examples(context, shown[0]),
            "hint": HINTS[rng.randrange(len(HINTS))],
        }
        answer = await _ask(context, LMX, inputs, label)
        blocks = fenced_blocks(answer)
        if not blocks:
            raise LLMMisbehaved("the LMX answer holds no fenced code block", raw=answer[:2000])
        child = _read(blocks[0], ranked[0], mode)
        return [_with_edit(child, "program", shown[0], blocks[0])]

    return Operator(label, k, lmx, uses_llm=True)


def _show(genome: WorkflowGenome, mode: LMXMode) -> str:
    if mode == "module":
        return export(genome)
    if mode == "code":
        return genome.code
    return genome.model_dump_json(indent=1, exclude={"metadata"})


def _read(text: str, best: WorkflowGenome, mode: LMXMode) -> WorkflowGenome:
    if mode == "module":
        return parse(text)
    if mode == "code":
        _cst.parse(text)
        return best.model_copy(update={"code": normalize_code(text)})
    return WorkflowGenome.load(text)


def make_rewrite(name: str = "llm_rewrite") -> Operator:
    """The LLM rewrite of one function of the code or one prompt of an LLM agent."""

    async def rewrite(
        parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
    ) -> Children:
        genome = parents[0]
        target = _rewrite.pick_target(genome, rng)
        if target is None:
            return []
        note(context.stats.of(name).targets, f"{target.kind}:{target.name}")
        inputs = {
            "kind": target.kind,
            "target": target.shown,
            "score": score_line(context, genome.hash),
            "feedback": _failure(context, [genome], labelled=False),
            "archive": archive(context),
            "examples": await _examples(context, target.before),
            "hint": HINTS[rng.randrange(len(HINTS))],
        }
        answer = await _ask(context, REWRITE, inputs, name)
        child, after = _rewrite.apply(genome, target, answer)
        return [_with_edit(child, target.kind, target.before, after)]

    return Operator(name, 1, rewrite, uses_llm=True)


lmx_module = make_lmx(2, "module", "lmx")
lmx_code = make_lmx(2, "code", "lmx_code")
llm_rewrite = make_rewrite()
