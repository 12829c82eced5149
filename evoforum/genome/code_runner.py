"""Running functions of a genome's code outside the driver process.

``CodeRunner`` is the hook: a run plugs in its sandbox (``evoforum.sandbox.Sandbox`` is one).
``UnconfinedRunner`` is the simple default, and it is not a sandbox: one fresh ``python -I`` process
per call, a clean environment and a time limit, but no resource limits, no network or file
isolation; arguments and result pass as JSON (so results are JSON values: tuples come back as
lists). Use it for trusted code only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from evoforum.errors import SandboxFailure, Timeout

_BOOT = """
import contextlib, json, sys
request = json.load(sys.stdin)
namespace = {"__name__": "genome_code"}
with contextlib.redirect_stdout(sys.stderr):
    exec(compile(request["code"], "<genome code>", "exec"), namespace)
    result = namespace[request["function"]](*request["args"], **request["kwargs"])
json.dump({"result": result}, sys.stdout)
"""


@runtime_checkable
class CodeRunner(Protocol):
    """Calls ``function`` of the module ``code`` with JSON arguments and returns its JSON result."""

    def run(self, code: str, function: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """The function's return value; ``SandboxFailure`` or ``Timeout`` when it fails."""
        ...


class UnconfinedRunner:
    """Each call in a new Python process (``-I``, empty environment), ``timeout`` seconds; unconfined
    otherwise (trusted code only: ``evoforum.sandbox.Sandbox`` confines untrusted code)."""

    def __init__(self, timeout: float = 30.0, python: str | None = None) -> None:
        self.timeout = timeout
        self.python = python or sys.executable

    def run(self, code: str, function: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        request = json.dumps({"code": code, "function": function, "args": list(args), "kwargs": dict(kwargs)})
        try:
            done = subprocess.run(
                [self.python, "-I", "-c", _BOOT],
                input=request,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env={},
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise Timeout(f"{function}() ran past {self.timeout} s", function=function) from None
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            raise SandboxFailure(
                f"{function}() failed: {tail[0]}", function=function, reason=done.stderr[-2000:]
            )
        return json.loads(done.stdout)["result"]
