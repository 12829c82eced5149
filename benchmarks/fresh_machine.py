"""The two commands on a fresh machine: how long ``make run`` takes from a new clone. Prints JSON.

Clones this repository's ``HEAD`` into a new private folder (mode 0700, as ``mktemp -d`` and root's
home are) and runs it with every cache the project uses empty and its own: uv's (``UV_CACHE_DIR``,
so llama.cpp's server is compiled again), pip's and the model's (``XDG_CACHE_HOME``) and root's
copy of PostgreSQL (``EVOFORUM_POSTGRES_DIR``). uv itself is bootstrapped by the Makefile unless
one is on ``PATH`` (``uv_on_path`` says which). What a fresh machine has that this one keeps: the
Python interpreter, the C compiler and the package registries.

Figures (seconds):
  install_s      ``make install`` (uv, the packages, the llama-server build)
  first_run_s    the first ``make run`` after it (model assembled, PostgreSQL set up, services up,
                 the quickstart experiment, services down)
  total_s        install_s + first_run_s: ``make run`` on a fresh machine (target: <= 11 min)
  second_run_s   ``make run`` again, once installed: the same run seed, so the model answers the
                 first run recorded are read back, not asked again
and the quickstart's outcome in each run (generation 0's best valid score and the final one).


    python benchmarks/fresh_machine.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from quickstart import figures  # this script's folder is first on the path

ROOT = Path(__file__).resolve().parents[1]
SERVICE_URLS = ("EVOFORUM_NATS_URL", "EVOFORUM_POSTGRES_URL", "EVOFORUM_LLM_URL", "EVOFORUM_MODEL_DIR")


def _timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("ab") as sink:
        subprocess.run(command, cwd=cwd, env=env, check=True, stdout=sink, stderr=subprocess.STDOUT)
    return round(time.perf_counter() - started, 1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="leave the clone and its caches (printed)")
    args = parser.parse_args(argv)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    )
    report: dict[str, Any] = {
        "commit": commit.stdout.strip(),
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "uv_on_path": shutil.which("uv") is not None,
    }
    private = Path(tempfile.mkdtemp(prefix="evoforum-fresh-"))  # mode 0700
    # root's PostgreSQL copy must be reachable by the server's own user: outside the private folder
    postgres = Path(tempfile.mkdtemp(prefix="evoforum-fresh-postgres-", dir="/var/tmp"))
    postgres.chmod(0o755)
    clone, log = private / "evoforum", private / "make.log"
    env = {
        key: value for key, value in os.environ.items() if key not in SERVICE_URLS and key != "VIRTUAL_ENV"
    }
    env |= {
        "UV_CACHE_DIR": str(private / "uv-cache"),
        "XDG_CACHE_HOME": str(private / "cache"),
        "EVOFORUM_POSTGRES_DIR": str(postgres),
        "PIP_NO_CACHE_DIR": "1",
    }
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        report["install_s"] = _timed(["make", "install"], clone, env, log)
        report["first_run_s"] = _timed(["make", "run", "OUT=runs/first"], clone, env, log)
        report["total_s"] = round(report["install_s"] + report["first_run_s"], 1)
        report["second_run_s"] = _timed(["make", "run", "OUT=runs/second"], clone, env, log)
        for name in ("first", "second"):
            outcome = figures(clone / "runs" / name, report[f"{name}_run_s"])
            report[f"{name}_run"] = {
                key: outcome[key] for key in ("generation_0_best", "final_best", "improved")
            }
    except subprocess.CalledProcessError as error:
        report["failed"] = f"{' '.join(map(str, error.cmd))} exited {error.returncode}; see {log}"
        args.keep = True
    finally:
        if (clone / ".venv" / "bin" / "evoforum").exists():
            subprocess.run(
                [str(clone / ".venv/bin/evoforum"), "services", "down"],
                cwd=clone,
                env=env,
                check=False,
                stdout=subprocess.DEVNULL,
            )
        if args.keep:
            report["kept"] = [str(private), str(postgres)]
        else:
            shutil.rmtree(private, ignore_errors=True)
            shutil.rmtree(postgres, ignore_errors=True)
    report["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
    sys.exit(0)
