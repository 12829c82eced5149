"""The local model file: assembled from its chunk packages, verified, and trusted by its stamp."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from evoforum._files import sha256_of
from evoforum.services import model

pytestmark = pytest.mark.services


def _bytes_at(path: Path, offset: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(16)


def test_the_model_is_assembled_once_and_rebuilt_when_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(model.MODEL_DIR_ENV, str(tmp_path / "models"))
    try:
        path = model.ensure_model()
        assert path.parent == tmp_path / "models"
        assert path.stat().st_size == model.MODEL_SIZE
        assert sha256_of(path) == model.MODEL_SHA256
        original = _bytes_at(path, 1000)
        assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []

        with open(path, "r+b") as handle:  # damage it; a new mtime invalidates the stamp
            handle.seek(1000)
            handle.write(b"\0" * 16)
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        assert _bytes_at(path, 1000) == b"\0" * 16
        assert model.ensure_model() == path  # rehashed, found wrong, assembled again
        assert _bytes_at(path, 1000) == original
    finally:
        shutil.rmtree(tmp_path / "models", ignore_errors=True)
