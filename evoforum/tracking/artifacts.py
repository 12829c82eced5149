"""Where runs' artifacts go, so that a run folder can be moved or copied and keep them.

A run folder's own MLflow store (an sqlite file inside the folder, ``mlflow.db`` by default) gives
its experiment the artifact location ``mlflow-artifacts:/`` (``PROXIED``): the store then holds no
absolute path, and ``mlflow ui --backend-store-uri sqlite:///mlflow.db`` started in the folder serves
``mlflow-artifacts:/<run id>/artifacts/...`` from ``./mlartifacts/<run id>/artifacts/...`` (its
default artifacts destination), wherever the folder now is. MLflow's client writes to such a
location only through a server, so ``RunArtifacts`` writes the files there itself; a run with any
other artifact location (a shared store, a tracking server) logs through the client.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from evoforum._files import write_atomic

PROXIED = "mlflow-artifacts:/"
"""The artifact location of an experiment in a run folder's own store (served by ``mlflow ui``)."""
FOLDER = "mlartifacts"
"""The folder, inside the run folder, holding the artifacts (``mlflow ui``'s default destination)."""


def own_store(tracking_uri: str, out_dir: Path) -> bool:
    """Whether ``tracking_uri`` is an sqlite file inside ``out_dir`` (the run folder's own store)."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return False
    return Path(tracking_uri[len(prefix) :]).resolve().parent == out_dir.resolve()


class RunArtifacts:
    """Logs files to runs: under ``root`` for runs whose artifact URI is ``PROXIED``, else through
    the MLflow client (call from the logging thread only)."""

    def __init__(self, client: Any, root: Path) -> None:
        self._client = client
        self.root = root
        self._uris: dict[str, str] = {}

    def log_text(self, run_id: str, text: str, name: str) -> None:
        folder = self.folder(run_id)
        if folder is None:
            self._client.log_text(run_id, text, name)
            return
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, text.encode(), durable=False)

    def log_artifact(self, run_id: str, local: Path, under: str = "") -> None:
        folder = self.folder(run_id)
        if folder is None:
            self._client.log_artifact(run_id, str(local), under or None)
            return
        target = folder / under / local.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)

    def folder(self, run_id: str) -> Path | None:
        """Where the run's artifacts are written here (None: through the client)."""
        uri = self._uris.get(run_id)
        if uri is None:
            uri = self._uris[run_id] = str(self._client.get_run(run_id).info.artifact_uri)
        return self.root / uri[len(PROXIED) :] if uri.startswith(PROXIED) else None
