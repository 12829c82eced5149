"""The sandbox: untrusted candidate code run in a confined subprocess, with limits.

``Sandbox`` is the launcher (``evoforum.sandbox.sandbox``); a private reaper finds and kills what
a call leaves behind (``_reaper``), and the child program (``_child``) confines itself and calls
the candidate, importing the standard library alone (it runs in a clean interpreter). ``Sandbox``
is also the genome's ``CodeRunner``: ``to_workflow(genome, runner=Sandbox(limits))`` runs a workflow's
code functions in it.

This is infrastructure for ``evolve`` and ``run``; it imports neither.
"""

from __future__ import annotations

from evoforum.sandbox.sandbox import Reason, Sandbox, SandboxIsolation, SandboxLimits, SandboxResult

__all__ = ["Reason", "Sandbox", "SandboxIsolation", "SandboxLimits", "SandboxResult"]
