"""Code and genomes: ``export(genome) -> str`` writes a readable module, ``parse(source)`` reads it back.

``parse(export(genome)).hash == genome.hash`` for every valid genome; a person may edit prompts,
constants and helper functions in between. Code is only ever parsed (libcst), never executed.
"""

from evoforum.codegen.export import export
from evoforum.codegen.parse import parse
from evoforum.codegen.script import run_script

__all__ = ["export", "parse", "run_script"]
