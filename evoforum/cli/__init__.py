"""The ``evoforum`` command line (DESIGN.md "Command line")."""

from evoforum.cli._main import main

__all__ = ["main"]
