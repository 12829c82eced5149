"""``python -m evoforum.llm.stub``: serve the stub model until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from evoforum.llm.stub._answers import FAULT_KINDS
from evoforum.llm.stub._server import StubServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evoforum.llm.stub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default=",".join(FAULT_KINDS), help="comma-separated fault kinds")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds before each streamed piece")
    parser.add_argument("--hang-seconds", type=float, default=3600.0)
    parser.add_argument("--model", default="stub")
    args = parser.parse_args(argv)
    faults = tuple(kind for kind in args.faults.split(",") if kind)
    unknown = sorted(set(faults) - set(FAULT_KINDS))
    if unknown:
        parser.error(f"unknown fault kinds {unknown}; known: {', '.join(FAULT_KINDS)}")
    if not 0.0 <= args.fault_rate <= 1.0:
        parser.error("--fault-rate must be between 0 and 1")
    stub = StubServer(
        seed=args.seed,
        fault_rate=args.fault_rate,
        faults=faults,
        latency=args.latency,
        token_delay=args.token_delay,
        hang_seconds=args.hang_seconds,
        model=args.model,
        host=args.host,
        port=args.port,
    )

    async def serve() -> None:
        async with stub:
            print(stub.url, flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
