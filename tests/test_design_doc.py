"""docs/design.md cites only what exists, and the docstrings cite only its real sections.

Every ``evoforum.…`` dotted name in backticks imports (or is an MLflow tag evoforum sets), every
repository path in backticks is there, every bare file name is a module of the package or a file
of a run's output folder, and every ``docs/design.md "Section"`` in a docstring names a heading.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "design.md"
TOP = ("evoforum", "tests", "tools", "configs", "docs", "experiments", "search_spaces", "benchmarks")
DOTTED = re.compile(r"(evoforum(?:\.\w+)+)(?:\(.*\))?")
PATH = re.compile(r"[\w.-]+(?:/[\w.-]+)*/?")
FILE = re.compile(r"[\w.-]+\.(?:py|json|jsonl|yaml|pkl|db|journal)")
CITATION = re.compile(r'docs/design\.md "([^"]+)"')


def spans(text: str) -> list[str]:
    """The inline code spans of a Markdown text, outside fenced blocks."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.findall(r"`([^`\n]+)`", prose)


def headings(text: str) -> set[str]:
    return {match.strip() for match in re.findall(r"^#{2,3} (.+)$", text, flags=re.MULTILINE)}


def _attribute(owner: Any, name: str) -> Any:
    """``owner.name``, also for a pydantic field or a dataclass field without a class default."""
    if hasattr(owner, name):
        return getattr(owner, name)
    if isinstance(owner, type) and issubclass(owner, BaseModel) and name in owner.model_fields:
        return owner.model_fields[name]
    if dataclasses.is_dataclass(owner) and name in {f.name for f in dataclasses.fields(owner)}:
        return name
    raise AttributeError(name)


def resolves(name: str) -> bool:
    """Whether the dotted ``name`` is a module of evoforum or an object reachable from one."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            found: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            missing = error.name or ""
            if module_name == missing or module_name.startswith(missing + "."):
                continue  # not a module: the rest are attributes (or the name is wrong)
            raise
        try:
            for attribute in parts[cut:]:
                found = _attribute(found, attribute)
        except AttributeError:
            return False
        return True
    return False


def mlflow_tags() -> set[str]:
    """The tags evoforum sets on MLflow runs: the pinned ones, and the others its sources name."""
    from evoforum.evolve import LineageRecord
    from evoforum.tracking.runs import TAG, pinned_tags

    record = LineageRecord(
        index=0, genome_hash="0" * 64, parents=(), operator="x", generation=0, values=(), items=0
    )
    tags = set(pinned_tags(record, {}))
    for path in [*(ROOT / "evoforum" / "tracking").glob("*.py"), *(ROOT / "evoforum" / "run").glob("*.py")]:
        source = path.read_text(encoding="utf-8")
        tags |= {TAG + suffix for suffix in re.findall(r'\{TAG\}(\w+)"', source)}
        tags |= set(re.findall(r'"(evoforum\.\w+)"', source))
    return tags


def output_files() -> set[str]:
    """The file names of a run's output folder."""
    from evoforum.evolve.checkpoint import FILENAME
    from evoforum.evolve.engine import JOURNAL
    from evoforum.run import RunFolder
    from evoforum.tracking.mlflow_sink import STATE

    names = {value for key, value in vars(RunFolder).items() if key.isupper() and isinstance(value, str)}
    return names | {FILENAME, JOURNAL, STATE}


def cited_names(text: str) -> list[str]:
    return [match.group(1) for span in spans(text) if (match := DOTTED.fullmatch(span))]


def cited_paths(text: str) -> list[str]:
    return [
        span for span in spans(text) if PATH.fullmatch(span) and span.split("/")[0] in TOP and "/" in span
    ]


def cited_files(text: str) -> list[str]:
    return [span for span in spans(text) if FILE.fullmatch(span)]


def unknown_names(text: str) -> list[str]:
    tags = mlflow_tags()
    return [name for name in cited_names(text) if not resolves(name) and name not in tags]


def missing_paths(text: str) -> list[str]:
    missing = []
    for path in cited_paths(text):
        target = ROOT / path
        if not (target.is_dir() if path.endswith("/") else target.is_file()):
            missing.append(path)
    return missing


def unknown_files(text: str) -> list[str]:
    modules = {path.name for path in (ROOT / "evoforum").rglob("*.py")}
    known = modules | output_files()
    return [name for name in cited_files(text) if name not in known]


def test_every_dotted_name_the_design_doc_cites_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert len(set(cited_names(text))) >= 100  # the doc names the code, so this check has teeth
    assert unknown_names(text) == []


def test_every_path_and_file_the_design_doc_cites_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert len(set(cited_paths(text))) >= 30
    assert missing_paths(text) == []
    assert unknown_files(text) == []


def test_the_checks_catch_what_does_not_exist() -> None:
    text = (
        "`evoforum.run.plan.NoSuchPlan` `evoforum.nosuchlayer.Thing` `evoforum.no_such_tag` "
        "`evoforum.run.RunSummary.no_field` `evoforum/no_such.py` `tests/no_such_folder/` `no_such.jsonl`"
    )
    assert unknown_names(text) == [
        "evoforum.run.plan.NoSuchPlan",
        "evoforum.nosuchlayer.Thing",
        "evoforum.no_such_tag",
        "evoforum.run.RunSummary.no_field",
    ]
    assert missing_paths(text) == ["evoforum/no_such.py", "tests/no_such_folder/"]
    assert unknown_files(text) == ["no_such.jsonl"]


def test_fields_tags_and_output_files_count_as_existing() -> None:
    text = (
        "`evoforum.run.RunSummary.wall_s` `evoforum.genome_hash` `evoforum.population` "
        "`evoforum.genome.to_workflow(genome, runner=)` `summary.json` `cache.journal` `runnable.py`"
    )
    assert unknown_names(text) == []
    assert unknown_files(text) == []


def test_docstrings_cite_the_design_doc_by_a_real_section() -> None:
    sections = headings(DOC.read_text(encoding="utf-8"))
    wrong = []
    for path in sorted((ROOT / "evoforum").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "DESIGN.md" in source:  # the design doc is docs/design.md, in the repository
            wrong.append(f"{path.relative_to(ROOT)}: DESIGN.md")
        wrong += [
            f"{path.relative_to(ROOT)}: {cited}"
            for cited in CITATION.findall(source)
            if cited not in sections
        ]
    assert wrong == []
    assert {"Public names", "Command line", "Lineage in MLflow"} <= sections
