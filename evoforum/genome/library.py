"""Tool libraries: modules of functions that genome code imports by name instead of copying them.

A library is a module of the standard library alone, known by its import name: an installed
package declares it as an entry point of the group ``evoforum.libraries`` (this project declares
``search_spaces.library.code_tools``), or code registers it with ``register_library(module)``.
Genome code then says ``from <module> import check_code``, and

* validation reads the imported functions' signatures from the registered source (parsed, never
  run), so a function agent may name an imported function;
* ``library_files`` gives the sources as files, which a code runner (the sandbox) writes beside the
  genome's code, so the import works where the code runs;
* an exported genome imports the same module in the user's environment.

The genome's hash covers its import line, not the library's source: a library is versioned with
the project, like the runtime itself.
"""

from __future__ import annotations

import importlib.util
import inspect
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

__all__ = ["GROUP", "library_files", "library_source", "register_library"]

GROUP = "evoforum.libraries"
"""The entry-point group of installed libraries (the value is the module's import name)."""
_LIBRARIES: dict[str, str] = {}


def register_library(module: ModuleType | str, source: str | None = None) -> None:
    """Make ``module`` (a module object, or its import name with its ``source``) importable by
    genome code. Registering the same name again replaces its source."""
    if isinstance(module, ModuleType):
        name, source = module.__name__, inspect.getsource(module) if source is None else source
    else:
        name = module
    if source is None:
        raise ValueError(f"library {name!r} needs its source")
    _LIBRARIES[name] = source


def library_source(name: str) -> str | None:
    """The source of the library ``name`` (registered or installed), or None."""
    return _LIBRARIES.get(name) or _installed().get(name)


def library_files() -> dict[str, str]:
    """Every registered library as files: ``a/b/c.py`` for module ``a.b.c``, with an empty
    ``__init__.py`` for each package above it."""
    files: dict[str, str] = {}
    for name, source in sorted({**_installed(), **_LIBRARIES}.items()):
        parts = name.split(".")
        for depth in range(1, len(parts)):
            files.setdefault("/".join(parts[:depth]) + "/__init__.py", "")
        files["/".join(parts) + ".py"] = source
    return files


@cache
def _installed() -> dict[str, str]:
    """The libraries installed packages declare, by import name: their module files are read,
    never imported (finding one imports the packages above it, which its package declared)."""
    found: dict[str, str] = {}
    for point in entry_points(group=GROUP):
        spec = importlib.util.find_spec(point.value)
        if spec is not None and spec.origin is not None:
            found[point.value] = Path(spec.origin).read_text(encoding="utf-8")
    return found
