"""The one error tree of evoforum.

Every error evoforum raises is an ``EvoforumError``. Vendor errors (nats, asyncpg, openai, ray,
mlflow) are translated where evoforum meets the vendor, so callers catch only these::

    EvoforumError
    ├── UsageError                 bad input from a person or a file: the CLI exits with status 2
    │   ├── ConfigError            a config file, a --set override, an unknown key ("did you mean …?")
    │   ├── Invalid                several problems gathered into one error, each with its path
    │   │   ├── GenomeInvalid      a genome that fails validation
    │   │   └── FlowInvalid        a DAG or state machine that fails its build checks
    │   └── CodeRejected           candidate code that does not parse or breaks the sandbox rules
    ├── ServiceError               an embedded or external service
    │   ├── ServiceStartFailed     an embedded service did not come up (its log tail is attached)
    │   └── ServiceUnavailable     a URL that does not answer
    ├── ForumError                 message trees
    │   ├── NotSerializable        content that cannot become canonical JSON
    │   ├── UnknownMessage         a hash the store does not hold (also an unknown parent)
    │   ├── IntegrityError         a stored row whose content no longer matches its hash
    │   └── PromiseCancelled       a promise awaited after it was cancelled
    ├── BackendError               a store, bus or memory backend failed (vendor error translated)
    │   └── SchemaMismatch         a bus message that does not match its subject's schema
    └── RunError                   something failed while running a workflow or an experiment
        ├── AgentFailed            an agent raised; re-raised from its error message on demand
        ├── TaskFailed             a task (or an upstream task it needed) failed
        ├── OutputMismatch         a task returned a value that does not fit its return annotation
        ├── StepLimitExceeded      a state machine ran past its step limit
        ├── Timeout                a call, task or candidate ran past its time limit
        ├── BudgetExceeded         tokens or money ran out
        ├── SandboxFailure         candidate code failed in the sandbox (with the reason)
        └── LLMError               the language model
            ├── LLMUnavailable     down, rate-limited or timing out after every retry
            ├── LLMMisbehaved      answered, but not in the form asked for (raw text attached)
            └── ReplayMiss         replay mode met a request that was never recorded

Errors are picklable with their details (Ray moves them between processes): every error is built
from a message plus keyword details, and ``__reduce__`` rebuilds it from exactly those.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple


class EvoforumError(Exception):
    """Base of every evoforum error. ``details`` holds the keyword arguments it was built with."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        for key, value in details.items():
            setattr(self, key, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[EvoforumError], message: str, details: dict[str, Any]) -> EvoforumError:
    error = cls.__new__(cls)
    EvoforumError.__init__(error, message, **details)
    return error


# -- usage ------------------------------------------------------------------------------------


class UsageError(EvoforumError):
    """Bad input from a person or a file; the command line answers it with exit status 2."""


class ConfigError(UsageError):
    """A config file, an override or a reference in it is wrong."""


class Problem(NamedTuple):
    """One problem of an ``Invalid`` error: where it is (a dotted path) and what is wrong."""

    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}" if self.path else self.what


class Invalid(UsageError):
    """Every problem found, gathered; ``problems`` lists ``Problem(path, what)``."""

    def __init__(self, subject: str, problems: Iterable[tuple[str, str]], **details: Any) -> None:
        found = [Problem(*problem) for problem in problems]
        lines = "\n".join(f"  - {problem}" for problem in found)
        count = f"{len(found)} problem" + ("s" if len(found) != 1 else "")
        details.setdefault("subject", subject)
        super().__init__(f"{subject} is invalid ({count}):\n{lines}", **details)
        self.problems = found

    def __reduce__(self) -> tuple[Any, ...]:
        details = {k: v for k, v in self.details.items() if k != "subject"}
        return (_rebuild_invalid, (type(self), self.details["subject"], list(self.problems), details))


def _rebuild_invalid(
    cls: type[Invalid], subject: str, problems: list[tuple[str, str]], details: dict[str, Any]
) -> Invalid:
    return cls(subject, problems, **details)


class GenomeInvalid(Invalid):
    """A genome failed validation."""


class FlowInvalid(Invalid):
    """A DAG or state machine failed its build checks."""


class CodeRejected(UsageError):
    """Candidate code that does not parse, or that uses what the sandbox forbids."""


# -- services ---------------------------------------------------------------------------------


class ServiceError(EvoforumError):
    """An embedded or external service failed."""


class ServiceStartFailed(ServiceError):
    """An embedded service did not come up."""


class ServiceUnavailable(ServiceError):
    """A service URL does not answer."""


# -- message trees ----------------------------------------------------------------------------


class ForumError(EvoforumError):
    """Message trees: hashing, storing, streaming."""


class NotSerializable(ForumError):
    """Content that cannot become canonical JSON."""


class UnknownMessage(ForumError):
    """A hash the store does not hold."""


class IntegrityError(ForumError):
    """A stored row whose content no longer matches its hash; it is reported, never served."""


class PromiseCancelled(ForumError):
    """A promise was awaited after it was cancelled."""


# -- backends ---------------------------------------------------------------------------------


class BackendError(EvoforumError):
    """A store, bus or memory backend failed; the vendor error is attached as ``cause``."""


class SchemaMismatch(BackendError):
    """A bus message that does not match its subject's schema."""


# -- running ----------------------------------------------------------------------------------


class RunError(EvoforumError):
    """Something failed while running a workflow or an experiment."""


class AgentFailed(RunError):
    """An agent raised; this is what an error message re-raises as."""


class TaskFailed(RunError):
    """A task failed, or an upstream task it needed failed."""


class OutputMismatch(RunError):
    """A task returned a value that does not fit its return annotation; ``fields`` says where."""


class StepLimitExceeded(RunError):
    """A state machine ran past its step limit."""


class Timeout(RunError):
    """A call, task or candidate ran past its time limit."""


class BudgetExceeded(RunError):
    """Tokens or money ran out."""


class SandboxFailure(RunError):
    """Candidate code failed in the sandbox; ``reason`` says how (timeout, memory, signal…)."""


class LLMError(RunError):
    """The language model failed."""


class LLMUnavailable(LLMError):
    """The server is down, rate-limiting or timing out after every retry."""


class LLMMisbehaved(LLMError):
    """The model answered, but not in the form asked for; ``raw`` holds what it said."""


class ReplayMiss(LLMError):
    """Replay mode met a request that was never recorded."""


# -- helpers ----------------------------------------------------------------------------------


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` when a known name is close to ``name``, else an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
