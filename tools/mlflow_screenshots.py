"""Screenshots of a finished run in MLflow's UI, taken in headless Chromium (docs/mlflow/).

    .venv/bin/python tools/mlflow_screenshots.py RUN_FOLDER OUT_DIR

Starts ``mlflow ui`` as the README says (from the run folder's parent, on its own store and
``mlartifacts/``), drives Chromium over the DevTools protocol and writes, as small palette PNGs:
``runs.png`` (the runs view, the experiment run expanded), ``candidate.png`` (a candidate with the
most parents: description, tags, metrics), ``diff.png`` (its first diff artifact previewing),
``fitness.png`` (the experiment run's metric charts) and ``trace.png`` (the winner's first trace,
its first task span selected). Needs Debian's ``chromium`` (not part of the project's install).
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from mlflow.tracking import MlflowClient
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
FLAGS = [  # without the background-networking ones it hangs on a closed network
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]  # fmt: skip
VIEW = "workflowType=machine_learning"
CLOSE_ASSISTANT = """[...document.querySelectorAll('button')]
    .filter(b => b.getAttribute('aria-label') === 'Close').forEach(b => b.click())"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Page:
    """One Chromium tab driven over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        await self.ws.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json()
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    async def js(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def open(self, url: str, text: str, height: int = 900) -> None:
        """Load ``url`` and wait until the page shows ``text`` (and the assistant panel is closed)."""
        await self.send(
            "Emulation.setDeviceMetricsOverride", width=1400, height=height, deviceScaleFactor=1, mobile=False
        )
        await self.send("Page.navigate", url=url)
        deadline = time.monotonic() + 90
        while not await self.js(f"!!document.body && document.body.innerText.includes({json.dumps(text)})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} never showed {text!r}")
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)  # charts and previews finish drawing
        await self.js(CLOSE_ASSISTANT)
        await asyncio.sleep(1)

    async def click_text(self, text: str) -> None:
        """Click the innermost element that reads ``text``."""
        clicked = await self.js(
            f"""(() => {{ const hits = [...document.querySelectorAll('body *')]
                .filter(e => e.children.length === 0 && e.textContent.trim() === {json.dumps(text)});
              if (!hits.length) return false; hits[0].click(); return true; }})()"""
        )
        if not clicked:
            raise RuntimeError(f"nothing reads {text!r}")
        await asyncio.sleep(3)

    async def shot(self, path: Path) -> None:
        data = base64.b64decode((await self.send("Page.captureScreenshot", format="png"))["data"])
        await asyncio.to_thread(save_small, data, path)


def save_small(png: bytes, path: Path) -> None:
    """Save a screenshot as a 128-colour PNG (a fifth of the size, the text as sharp)."""
    picture = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
    picture.save(path, optimize=True)
    print(f"{path}  {path.stat().st_size // 1024} KB")


async def devtools(http: aiohttp.ClientSession, port: int) -> Page:
    """The first tab of the Chromium whose DevTools listen on ``port``."""
    for _ in range(150):
        try:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as answer:
                pages = [t for t in await answer.json() if t["type"] == "page"]
            if pages:
                page = Page(await http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0))
                await page.send("Page.enable")
                return page
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("Chromium's DevTools did not answer")


async def capture(folder: Path, out: Path, ui: int, debugger: int) -> None:
    """Take the screenshots, ``mlflow ui`` listening on port ``ui`` and Chromium's DevTools on ``debugger``."""
    state = json.loads((folder / "mlflow.json").read_text())
    experiment, parent = str(state["experiment_id"]), str(state["run_id"])
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    rows = [json.loads(line) for line in (folder / "mlflow_runs.jsonl").read_text().splitlines() if line]
    candidates = [
        client.get_run(row["run_id"]) for row in rows if not row.get("repeat") and "population" not in row
    ]
    child = max(
        candidates, key=lambda run: len([p for p in run.data.tags["evoforum.parent_runs"].split(",") if p])
    )
    winner = client.get_run(client.get_run(parent).data.tags["evoforum.winner_run"])
    trace = client.search_traces(locations=[experiment], run_id=winner.info.run_id, max_results=1)[0]
    spans = client.get_trace(trace.info.trace_id).data.spans
    span = next(s.name for s in spans if s.parent_id is not None and s.name != "evoforum.flow")  # a task's
    base = f"http://127.0.0.1:{ui}/#/experiments/{experiment}"
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 120
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{ui}/health") as answer:
                    if answer.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow ui did not answer")
            await asyncio.sleep(0.5)
        page = await devtools(http, debugger)
        # the runs view, the experiment run expanded, the columns a user picks under "Columns"
        await page.send("Page.navigate", url=f"http://127.0.0.1:{ui}/")
        await asyncio.sleep(2)
        columns = ["metrics.`quality`", "tags.`evoforum.operator`", "tags.`evoforum.generation`",
                   "tags.`evoforum.is_winner`"]  # fmt: skip
        view = {"selectedColumns": columns, "runsExpanded": {parent: True}}
        key = f'MLflowLocalStorage-1.1-ExperimentPage-["{experiment}"]-ReactComponentState'
        await page.js(f"localStorage.setItem({json.dumps(key)}, {json.dumps(json.dumps(view))})")
        await page.open(f"{base}?{VIEW}", child.info.run_name)
        await page.shot(out / "runs.png")
        await page.open(f"{base}/runs/{child.info.run_id}?{VIEW}", "Parents", height=1250)
        await page.shot(out / "candidate.png")
        await page.open(
            f"{base}/runs/{child.info.run_id}/artifacts/diff_parent_1.diff.txt?{VIEW}", "+++ child/"
        )
        await page.shot(out / "diff.png")
        await page.open(f"{base}/runs/{parent}/model-metrics?{VIEW}", "best_quality")
        await page.shot(out / "fitness.png")
        traces = f"{base}/runs/{winner.info.run_id}/traces?{VIEW}&selectedEvaluationId={trace.info.trace_id}"
        await page.open(traces, "conversation")
        await page.click_text(span)
        await page.shot(out / "trace.png")
        await page.ws.close()


def main(folder: Path, out: Path) -> None:
    """Serve the run folder as the README says (from its parent), start Chromium, take the shots."""
    out.mkdir(parents=True, exist_ok=True)
    ui, debugger = free_port(), free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    serve = [str(mlflow), "ui", "--backend-store-uri", f"sqlite:///{folder.name}/mlflow.db",
             "--artifacts-destination", f"{folder.name}/mlartifacts", "--port", str(ui)]  # fmt: skip
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory() as profile:
        browse = [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={debugger}",
            "about:blank",
        ]
        quiet = subprocess.DEVNULL
        with (
            subprocess.Popen(serve, cwd=folder.parent, env=env, stdout=quiet, stderr=quiet) as server,
            subprocess.Popen(browse, stdout=quiet, stderr=quiet) as browser,
        ):
            try:
                asyncio.run(capture(folder, out, ui, debugger))
            finally:
                browser.terminate()
                server.terminate()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
