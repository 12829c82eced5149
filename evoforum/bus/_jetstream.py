"""Consuming a durable subject: fetch from the JetStream pull consumer, handle, then settle.

A message is acknowledged only after its handler returned; a handler that raised gets it back
(nak, with a back-off that grows per attempt) until ``max_attempts``; a message that fails the
schema is terminated (never redelivered). A subscription closed mid-handler naks what it holds.

Handlers may be slow (an LLM call): messages are fetched one at a time, so none waits unacknowledged
in this process while another is handled, and while a handler runs the message gets an
``in_progress`` heartbeat every third of the consumer's ``ack_wait``, so the server does not
redeliver it. A message given up on is a dead letter told to ``on_dead``: after its handler's last
failed attempt here, or, through the server's max-deliveries advisory, when ``max_attempts``
deliveries went unacknowledged (the consumers holding it died or hung).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import orjson

from evoforum.bus._dispatch import Dispatch
from evoforum.bus._nats_private import nats_errors
from evoforum.bus._protocol import DeadLetter, DeadLetters, log, report_dead
from evoforum.bus._subject import Subject

FETCH_BATCH = 1
"""Messages fetched at once: handlers run one at a time, so one (a fetched message's ack timer runs)."""
HEARTBEAT_FRACTION = 1 / 3
"""A running handler's message gets an ``in_progress`` every this fraction of ``ack_wait``."""
_FETCH_WAIT = 1.0
_NAK_DELAY = 0.05
_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"


@dataclass(frozen=True)
class Durable:
    """One subscription to a durable consumer: what ``consume`` needs."""

    subject: Subject[Any, Any]
    consumer: str
    pull: Any
    dispatch: Dispatch
    max_attempts: int
    ack_wait: float
    """The consumer's ``ack_wait`` as the server holds it (seconds)."""
    on_dead: DeadLetters


async def consume(client: Any, durable: Durable) -> None:
    """Fetch from a durable pull consumer and settle each message, until cancelled."""
    from nats.errors import TimeoutError as NatsTimeout

    name = durable.subject.name
    while True:
        try:
            messages = await durable.pull.fetch(batch=FETCH_BATCH, timeout=_FETCH_WAIT)
        except NatsTimeout:
            continue
        except nats_errors() as error:  # disconnected, server restarting: try again
            if client.is_closed:
                log.warning("stopped consuming %r: the NATS connection is closed", name)
                return
            log.debug("fetch on %r failed, retrying: %r", name, error)
            await asyncio.sleep(0.1)
            continue
        for index, msg in enumerate(messages):
            try:
                await _settle(durable, msg)
            except asyncio.CancelledError:
                for unsettled in messages[index:]:
                    with contextlib.suppress(*nats_errors()):
                        await unsettled.nak()
                raise


async def _settle(durable: Durable, msg: Any) -> None:
    """Handle one JetStream message (with heartbeats while it runs), then ack, nak or terminate it."""
    attempt = msg.metadata.num_delivered
    beating = asyncio.create_task(_heartbeats(msg, durable.ack_wait * HEARTBEAT_FRACTION))
    try:
        outcome = await durable.dispatch(msg.data, msg.headers, attempt)
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
    dead = outcome.status == "failed" and attempt >= durable.max_attempts
    try:
        if outcome.status == "handled":
            await msg.ack()
        elif outcome.status == "rejected" or dead:
            await msg.term()
        else:
            await msg.nak(delay=_NAK_DELAY * attempt)
    except nats_errors() as error:  # the server redelivers what it did not hear settled
        log.debug("could not settle a message on %r: %r", durable.subject.name, error)
        return
    if dead:
        letter = DeadLetter.handler_failed(
            durable.subject.name, durable.consumer, attempt, outcome.error, msg.data, msg.headers or {}
        )
        report_dead(durable.on_dead, letter)


async def _heartbeats(msg: Any, every: float) -> None:
    """Tell the server the message is still being worked on, every ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        try:
            await msg.in_progress()
        except nats_errors() as error:  # disconnected: the server may redeliver, nothing else to do
            log.debug("in_progress failed: %r", error)


async def watch_dead_letters(client: Any, js: Any, durable: Durable) -> Any:
    """Subscribe to the server's max-deliveries advisories of ``durable``'s consumer: each names a
    message whose ``max_attempts`` deliveries all went unacknowledged; it is fetched from the stream
    and told to ``on_dead``. One subscriber per consumer gets each advisory (a queue group)."""
    stream = durable.subject.stream

    async def on_advisory(advisory: Any) -> None:
        try:
            event = orjson.loads(advisory.data)
            sequence, deliveries = int(event["stream_seq"]), int(event["deliveries"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            log.warning("unreadable max-deliveries advisory on %r: %r", durable.subject.name, error)
            return
        data, headers = b"", {}
        try:
            stored = await js.get_msg(stream, sequence)
            data, headers = stored.data or b"", dict(stored.headers or {})
        except nats_errors() as error:  # the stream dropped it meanwhile
            log.debug("dead letter %d of %s is gone: %r", sequence, stream, error)
        reason = f"no delivery was acknowledged within ack_wait ({durable.ack_wait:g} s)"
        letter = DeadLetter(durable.subject.name, durable.consumer, deliveries, reason, data, headers)
        report_dead(durable.on_dead, letter)

    subject = f"{_ADVISORY}.{stream}.{durable.consumer}"
    return await client.subscribe(subject, queue=f"evoforum-dead-{durable.consumer}", cb=on_advisory)
