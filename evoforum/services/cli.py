"""``evoforum services up | down | status | destroy``.

Each prints one line per service: name, state, URL (and a detail). ``status`` exits 0 when every
selected service answers and 3 when one is stopped or unhealthy. Services started by ``up`` run
detached and outlive the command.
"""

from __future__ import annotations

import argparse
import asyncio

from evoforum.services._manager import Manager, Status, external_urls, select
from evoforum.services._state import StateDir, resolve_state_dir

NOT_ALL_RUNNING = 3


def _line(status: Status) -> str:
    text = f"{status.name:<9} {status.state:<9} {status.url or '-'}"
    return f"{text}  ({status.detail})" if status.detail else text


async def _run(args: argparse.Namespace) -> int:
    names = select(getattr(args, "only", None))
    state = StateDir(resolve_state_dir(getattr(args, "state_dir", None)))
    manager = Manager(state, owned=False, external=external_urls())
    if args.action == "up":
        urls = await manager.ensure(names)
        for name in names:
            how = "started" if name in manager.started else "running"
            print(_line(Status(name, "external" if name in manager.external else how, urls[name])))
        return 0
    if args.action == "down":
        for status in await manager.down(names):
            print(_line(status))
        return 0
    if args.action == "destroy":
        await manager.destroy()
        print(f"destroyed {state.root}")
        return 0
    statuses = await manager.status(names)
    for status in statuses:
        print(_line(status))
    healthy = all(status.state in ("running", "external") for status in statuses)
    return 0 if healthy else NOT_ALL_RUNNING


def services_command(args: argparse.Namespace) -> int:
    """Run one ``services`` action; returns the exit status."""
    return asyncio.run(_run(args))
