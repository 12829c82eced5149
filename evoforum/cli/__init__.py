"""The ``evoforum`` command line (docs/design.md "Command line")."""

from evoforum.cli._main import main

__all__ = ["main"]
