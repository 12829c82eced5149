"""A short excerpt of an item a workflow failed, for the LLM operators (``ItemResult.info``).

It names the problem, says what failed (the failed assertion and the exception, read from the
scoring verdict's traceback; the workflow's own error; or that time ran out) and shows the code
the workflow produced (indented, so that it reads as a quoted block and not as the code the
operator is asked to edit), within ``EXCERPT_CHARS``. Its kind (``wrong``, ``error``, ``timeout``)
lets the feedback prefer an informative failure to a timeout.
"""

from __future__ import annotations

import textwrap
from typing import Any

from evoforum.errors import Timeout
from evoforum.evolve.operators.feedback import EXCERPT, EXCERPT_CHARS, FAILURE

CANDIDATE_FILE = "candidate.py"
"""The file the sandbox runs scoring source from (the frames of the candidate and its tests)."""
CODE_CHARS = 900
FAILED_CHARS = 300


def scoring_failure(verdict: Any) -> dict[str, str]:
    """The excerpt fields of a scoring verdict that did not pass (none when it passed)."""
    if verdict.ok:
        return {}
    if verdict.reason in ("timeout", "cpu"):
        return {
            FAILURE: "timeout",
            "failed": f"the tests ran out of time ({verdict.error or verdict.reason})",
        }
    error = (verdict.error or verdict.reason).strip().rstrip(":")
    kind = "wrong" if error.startswith("AssertionError") else "error"
    example, innermost = _candidate_lines(verdict.traceback or "")
    at = f" (at: {innermost})" if kind == "error" and innermost and innermost != example else ""
    return {FAILURE: kind, "failed": "\n".join(filter(None, [example, error + at]))}


def workflow_failure(error: BaseException, timeout_s: float) -> dict[str, str]:
    """The excerpt fields of a workflow that failed before it answered (or ran out of time)."""
    if isinstance(error, TimeoutError | Timeout):
        return {FAILURE: "timeout", "failed": f"the workflow ran past its time limit ({timeout_s:g} s)"}
    return {FAILURE: "error", "failed": f"{type(error).__name__}: {error}"}


def _candidate_lines(traceback: str) -> tuple[str, str]:
    """The source lines, in the candidate's file, of the failed assertion (the test example that
    failed) and of the innermost frame (where an exception was raised); empty when missing."""
    lines = traceback.splitlines()
    found = [
        lines[index + 1].strip()
        for index, line in enumerate(lines[:-1])
        if line.strip().startswith("File ") and CANDIDATE_FILE in line
    ]
    asserts = [line for line in found if line.startswith("assert")]
    return (asserts[-1] if asserts else ""), (found[-1] if found else "")


def item_excerpt(item: str, failure: dict[str, str], code: Any) -> dict[str, str]:
    """``ItemResult.info`` entries for a failed item: its ``FAILURE`` kind and the ``EXCERPT``."""
    if not failure:
        return {}
    text = code if isinstance(code, str) else ("" if code is None else str(code))
    parts = [f"problem {item}", f"failed: {failure['failed'][:FAILED_CHARS]}"]
    if text.strip():
        shown = text.strip()
        if len(shown) > CODE_CHARS:
            shown = shown[:CODE_CHARS] + "\n# … (cut)"
        parts.append("code produced:\n" + textwrap.indent(shown, "    ", lambda line: True))
    return {FAILURE: failure[FAILURE], EXCERPT: "\n".join(parts)[:EXCERPT_CHARS]}
