"""Run untrusted candidate code in a subprocess with limits, and get back what it returned.

    sandbox = Sandbox(SandboxLimits(cpu_s=2, wall_s=5))
    result = await sandbox.call("def main(x):\\n    return x * 2\\n", "main", args=[21])
    result.ok, result.value          # True, 42
    result.raise_for_failure()       # the value, or SandboxFailure / Timeout / CodeRejected
    sandbox.run(code, "main", [21], {})   # 42: the genome's ``CodeRunner`` (blocking, raising)

``call`` returns a ``SandboxResult`` for anything the candidate does (returns, raises, exits,
crashes, loops, floods its output); it raises only for a wrong call (arguments that are not JSON,
bad file names). Each call gets a fresh working folder (its cwd, removed afterwards), a minimal
environment (no variable of the parent passes through; names that look like secrets are refused)
and its own session; the whole process group and every leftover process is SIGKILLed at the end.

What is enforced always: the wall-clock timeout, bounded capture of stdout/stderr/result,
RLIMIT_CPU (per process), RLIMIT_AS, RLIMIT_FSIZE and no core files. What is enforced when the
parent is root and the kernel allows it (``SandboxResult.isolation`` records what was applied to
each call): no network (an empty network namespace, and a seccomp filter refusing AF_UNIX sockets so no
socket file of a local service can be reached), private mount and IPC namespaces with fresh small
``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/run/lock`` (and a folder others may not search, such
as ``/root`` holding the interpreter, reduced to the needed subfolder), ``no_new_privs``, and a
user id of its own (so file permissions stop writes outside its folder, RLIMIT_NPROC is enforced,
it cannot signal other calls, and every process it leaves behind is found by that id).

Not enforced: the number of files in the working folder (each is bounded by RLIMIT_FSIZE, the
time to write them by the wall clock), reading world-readable files, and the honesty of the
isolation record (the child writes it before candidate code runs, but the candidate could
overwrite it). See ``_child`` for the order in which the child applies each step.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from evoforum.errors import CodeRejected, ConfigError, SandboxFailure, Timeout
from evoforum.sandbox._launch import (
    CANDIDATE_FILE as CANDIDATE_FILE,  # re-exported: scoring reads tracebacks by it
)
from evoforum.sandbox._launch import Call, execute

Reason = Literal[
    "ok",
    "rejected",
    "timeout",
    "cpu",
    "memory",
    "output_limit",
    "crashed",
    "killed",
    "exit",
    "exception",
    "error",
]
"""Why a call ended: ``ok`` (returned a JSON value); ``rejected`` (the source does not compile:
nothing ran); ``timeout`` (wall clock); ``cpu`` (RLIMIT_CPU: SIGXCPU); ``memory`` (MemoryError under
RLIMIT_AS); ``output_limit`` (stdout or stderr passed ``max_output_bytes``); ``crashed`` (killed by
a signal such as SIGSEGV or SIGABRT); ``killed`` (SIGKILL not sent by the sandbox: the hard CPU limit
or the kernel's OOM killer); ``exit`` (the process ended without a result: ``sys.exit``,
``os._exit``); ``exception`` (the candidate raised, or returned something that is not JSON);
``error`` (the result file was unreadable)."""

_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
_RESERVED = {"_call.json", "_result.json", "_result.json.part", "_isolation.json", "_isolation.json.part"}


class SandboxLimits(BaseModel):
    """Resource limits of one call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_s: int = Field(default=5, ge=1, description="CPU seconds (RLIMIT_CPU; SIGKILL one second later)")
    memory_mb: int = Field(default=512, ge=64, description="address space (RLIMIT_AS)")
    wall_s: float = Field(default=10.0, gt=0, description="wall clock, then the whole group is SIGKILLed")
    file_mb: int = Field(default=16, ge=1, description="largest file written (RLIMIT_FSIZE)")
    disk_mb: int = Field(default=64, ge=1, description="size of its working folder and of each private /tmp")
    nproc: int = Field(default=32, ge=1, description="processes and threads of the call's user")
    max_output_bytes: int = Field(default=1 << 20, ge=1024, description="kept of stdout, stderr, result")
    network: bool = Field(default=False, description="allow the network (else an empty namespace)")


class SandboxIsolation(BaseModel):
    """What the child applied to itself before any candidate code ran."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    network: bool = False
    """It ran in an empty network namespace (no interface, not even loopback)."""
    filesystem: bool = False
    """It had private ``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/run/lock`` (own mount namespace)."""
    folder: bool = False
    """Its working folder was a tmpfs of its own, of ``disk_mb``."""
    user: int | None = None
    """The user id it ran as, when it dropped root; then RLIMIT_NPROC is enforced."""
    no_new_privs: bool = False
    """Set-user-id programs could not raise its privileges."""
    unix_sockets_denied: bool = False
    """A seccomp filter refused new AF_UNIX sockets: no service reachable through a socket file."""


class SandboxResult(BaseModel):
    """How one call ended; ``value`` is what the entry point returned (when ``ok``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    reason: Reason
    value: JsonValue = None
    error: str | None = None
    traceback: str | None = None
    returncode: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    duration_s: float = 0.0
    pid: int | None = Field(default=None, description="the child's pid: its process group and session")
    leftovers: int = Field(default=0, description="processes that outlived a call that ended by itself")
    isolation: SandboxIsolation | None = None

    def raise_for_failure(self) -> JsonValue:
        """The value when the call succeeded, else the matching evoforum error."""
        if self.ok:
            return self.value
        message = f"candidate failed in the sandbox ({self.reason})" + (
            f": {self.error}" if self.error else ""
        )
        if self.reason == "rejected":
            raise CodeRejected(message, reason=self.reason)
        if self.reason == "timeout":
            raise Timeout(message, reason=self.reason, duration_s=self.duration_s)
        raise SandboxFailure(message, reason=self.reason, returncode=self.returncode, signal=self.signal)


class Sandbox:
    """Runs candidate code in fresh subprocesses; safe to use for many concurrent calls.

    ``evoforum_importable`` puts evoforum and its installed dependencies on the child's import
    path (slower to import, but the candidate can use the public API); otherwise the child sees
    the standard library and its own files only. ``env`` adds variables to the minimal
    environment; names that look like secrets are refused. ``drop_user`` (default: when root)
    runs each call as a user id of its own. ``folder`` is where the parent makes working folders
    (default: ``/dev/shm`` when the child gets a tmpfs of its own, else the temporary folder).
    ``python`` must be this interpreter's installation (or a virtual environment of it): the
    folders the child may still read are taken from it. ``files`` are written to the working
    folder of every call (relative names; a call's own ``files`` win), for example the tool
    libraries that genome code imports.
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        python: str | None = None,
        evoforum_importable: bool = False,
        env: Mapping[str, str] | None = None,
        drop_user: bool | None = None,
        folder: str | os.PathLike[str] | None = None,
        files: Mapping[str, str] | None = None,
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.python = python or sys.executable
        secret = [name for name in env or {} if _SECRET.search(name)]
        if secret:
            raise ConfigError(f"sandbox environment variables look like secrets: {', '.join(secret)}")
        self.env = dict(env or {})
        self.drop_user = os.geteuid() == 0 if drop_user is None else drop_user
        self.extra_path = _package_paths() if evoforum_importable else []
        self.folder = _default_folder(self.drop_user) if folder is None else os.fspath(folder)
        self.files = _checked_files(files or {})

    async def call(
        self,
        source: str | None,
        entry: str | None = "main",
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        files: Mapping[str, str] | None = None,
        limits: SandboxLimits | None = None,
    ) -> SandboxResult:
        """Call ``entry`` with JSON ``args``/``kwargs`` in a fresh subprocess.

        ``source`` becomes the module ``candidate``; ``entry`` is a function name in it, or
        ``"module:function"`` for another module (one of ``files`` or an importable one), or
        None to run ``source`` as a script (its value is then None). ``files`` are written to
        the working folder first (relative names).
        """
        if source is not None:
            problem = _compile_problem(source)
            if problem is not None:
                return SandboxResult(ok=False, reason="rejected", error=problem)
        call = Call(
            source=source,
            entry=entry,
            args=list(args),
            kwargs=dict(kwargs or {}),
            files={**self.files, **_checked_files(files or {})},
            limits=(limits or self.limits).model_dump(),
            python=self.python,
            env=self.env,
            drop_user=self.drop_user,
            extra_path=self.extra_path,
            folder=self.folder,
        )
        return SandboxResult.model_validate(await execute(call))

    def call_sync(self, source: str | None, entry: str | None = "main", **options: Any) -> SandboxResult:
        """``call`` for code without an event loop of its own."""
        return asyncio.run(self.call(source, entry, **options))

    def run(self, code: str, function: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> JsonValue:
        """The genome's ``CodeRunner``: ``function`` of ``code`` called in the sandbox, its value, or
        the matching evoforum error (``SandboxFailure``, ``Timeout``, ``CodeRejected``). Blocking: a
        compiled workflow calls it on a worker thread."""
        return self.call_sync(code, function, args=list(args), kwargs=dict(kwargs)).raise_for_failure()


def _compile_problem(source: str) -> str | None:
    """Why ``source`` does not parse (it is parsed only, never compiled or run, in this process)."""
    try:
        ast.parse(source, CANDIDATE_FILE)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def _checked_files(files: Mapping[str, str]) -> dict[str, str]:
    for name in files:
        path = Path(name)
        if path.is_absolute() or ".." in path.parts or not path.parts or name in _RESERVED:
            raise CodeRejected(f"sandbox file name {name!r} must be a relative path inside the folder")
        if name == CANDIDATE_FILE:
            raise CodeRejected("sandbox file name 'candidate.py' is taken by the source")
    return dict(files)


def _default_folder(drop_user: bool) -> str | None:
    """Where the parent makes working folders: ``/dev/shm`` (fast) when the child will move onto
    a bounded tmpfs of its own, else the system's temporary folder (on disk)."""
    return "/dev/shm" if drop_user and os.access("/dev/shm", os.W_OK | os.X_OK) else None


def _package_paths() -> list[str]:
    paths = [str(Path(__file__).resolve().parents[2])]
    for key in ("purelib", "platlib"):
        paths.append(os.path.realpath(sysconfig.get_paths()[key]))
    return list(dict.fromkeys(paths))
