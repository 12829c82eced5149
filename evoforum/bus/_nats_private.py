"""The seam to nats-py: connecting, and translating its errors into evoforum's."""

from __future__ import annotations

import logging
from typing import Any

from evoforum.errors import BackendError, ServiceUnavailable

log = logging.getLogger("evoforum.bus")


def nats_errors() -> tuple[type[BaseException], ...]:
    """The exception classes nats-py raises (imported only when a NATS backend is used)."""
    import nats.errors

    return (nats.errors.Error,)


def is_transient(error: BaseException, client: Any) -> bool:
    """Whether trying again may help: the server is away or restarting, not a refused request."""
    import nats.js.errors

    if client.is_closed:
        return False
    return not isinstance(error, nats.js.errors.BadRequestError)


async def flush_in_order(client: Any) -> None:
    """Return once the server has processed everything sent on ``client`` so far.

    nats-py's ``flush()`` writes its PING straight to the socket, ahead of commands still waiting
    in the client's pending buffer (a SUB just sent, say), so its PONG alone does not prove the
    server saw them. The buffer is handed to the socket first, then the PING/PONG round trip.
    """
    await client._flush_pending(force_flush=True)
    await client.flush()


def translate(error: BaseException, doing: str) -> BackendError:
    """A ``BackendError`` saying what failed, with the nats error attached as ``cause``."""
    return BackendError(f"NATS: {doing} failed: {type(error).__name__}: {error}", cause=repr(error))


async def connect_client(url: str, *, name: str = "evoforum") -> Any:
    """A nats-py client connected to ``url`` that reconnects forever after the first connection."""
    try:
        import nats
    except ImportError as error:  # pragma: no cover - nats-py is a dependency
        raise BackendError("the NATS backends need nats-py: pip install nats-py") from error

    async def on_error(error: Exception) -> None:
        log.debug("NATS connection: %r", error)

    try:
        client = await nats.connect(
            servers=[url],
            name=name,
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=3,  # the first connection fails fast ...
            reconnect_time_wait=0.1,
            error_cb=on_error,
        )
    except (OSError, nats.errors.Error) as error:
        raise ServiceUnavailable(f"cannot connect to NATS at {url}: {error!r}", url=url) from None
    client.options["max_reconnect_attempts"] = -1  # ... a lost one is retried for ever
    return client
