"""Consuming a durable subject: fetch from the JetStream pull consumer, handle, then settle.

A message is acknowledged only after its handler returned; a handler that raised gets it back
(nak, with a back-off that grows per attempt) until ``max_attempts``; a message that fails the
schema is terminated (never redelivered). A subscription closed mid-handler naks what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from evoforum.bus._dispatch import Dispatch
from evoforum.bus._nats_private import nats_errors
from evoforum.bus._protocol import log
from evoforum.bus._subject import Subject

_FETCH_BATCH = 8
_FETCH_WAIT = 1.0
_NAK_DELAY = 0.05


async def consume(
    client: Any, subject: Subject[Any, Any], pull: Any, dispatch: Dispatch, max_attempts: int
) -> None:
    """Fetch from a durable pull consumer and settle each message, until cancelled."""
    from nats.errors import TimeoutError as NatsTimeout

    while True:
        try:
            messages = await pull.fetch(batch=_FETCH_BATCH, timeout=_FETCH_WAIT)
        except NatsTimeout:
            continue
        except nats_errors() as error:  # disconnected, server restarting: try again
            if client.is_closed:
                log.warning("stopped consuming %r: the NATS connection is closed", subject.name)
                return
            log.debug("fetch on %r failed, retrying: %r", subject.name, error)
            await asyncio.sleep(0.1)
            continue
        for index, msg in enumerate(messages):
            try:
                await _settle(subject, msg, dispatch, max_attempts)
            except asyncio.CancelledError:
                for unsettled in messages[index:]:
                    with contextlib.suppress(*nats_errors()):
                        await unsettled.nak()
                raise


async def _settle(subject: Subject[Any, Any], msg: Any, dispatch: Dispatch, max_attempts: int) -> None:
    """Handle one JetStream message, then ack, nak or terminate it."""
    attempt = msg.metadata.num_delivered
    outcome = await dispatch(msg.data, msg.headers, attempt)
    try:
        if outcome.status == "handled":
            await msg.ack()
        elif outcome.status == "rejected":
            await msg.term()
        elif attempt >= max_attempts:
            log.error("gave up on a message on %r after %d attempts", subject.name, attempt)
            await msg.term()
        else:
            await msg.nak(delay=_NAK_DELAY * attempt)
    except nats_errors() as error:  # the server redelivers what it did not hear settled
        log.debug("could not settle a message on %r: %r", subject.name, error)
