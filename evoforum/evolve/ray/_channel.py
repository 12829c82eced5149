"""A direct channel between the driver and its long-lived Tune trials: batches over TCP.

A Tune function trial cannot take calls, so a mailbox actor (``ray.util.queue.Queue``) would put
a third process and four actor calls between the driver and each batch. Here the driver listens
on its node's address and each trial connects to it once; a batch is then one framed write and
one framed read on a socket (pickled with Ray's cloudpickle, like Ray's own arguments).

A trial proves it holds the listener's secret key (sent to it through the object store, never
written to the experiment folder) by answering an HMAC challenge before it is given any work.
Frames are an 8-byte big-endian length and the payload. The driver side runs on whatever event
loop calls it (non-blocking sockets, ``loop.sock_*``); the trial side blocks.
"""

from __future__ import annotations

import asyncio
import hmac
import pickle
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from evoforum.errors import RunError
from evoforum.evolve.evaluate import ItemFn, ItemResult, Job, run_jobs

_HEADER = 8
_NONCE = 32


def _dumps(value: Any) -> bytes:
    from ray import cloudpickle

    return bytes(cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))  # type: ignore[no-untyped-call]


def _proof(key: bytes, nonce: bytes) -> bytes:
    return hmac.new(key, nonce, "sha256").digest()


def _nodelay(sock: socket.socket) -> socket.socket:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# -- the driver's side ------------------------------------------------------------------------------


async def _read(sock: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        read = await loop.sock_recv_into(sock, view[got:])
        if read == 0:
            raise EOFError("the evaluation trial closed its connection")
        got += read
    return bytes(buffer)


class Hub:
    """The driver's listener and its authenticated links to trials; ``run`` spreads batches."""

    def __init__(self, host: str) -> None:
        self.key = secrets.token_bytes(32)
        self._listener = socket.create_server((host, 0))
        self._listener.setblocking(False)
        self.address = (host, int(self._listener.getsockname()[1]))
        self._idle: list[socket.socket] = []
        self._greeted: list[tuple[socket.socket, bytes]] = []

    @property
    def links(self) -> int:
        return len(self._idle)

    async def _accept(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        while True:
            if self._greeted:
                sock, nonce = self._greeted.pop()
            else:
                sock, _ = await loop.sock_accept(self._listener)
                sock.setblocking(False)
                nonce = secrets.token_bytes(_NONCE)
                try:
                    await loop.sock_sendall(_nodelay(sock), nonce)
                except OSError:
                    sock.close()
                    continue
            try:
                answer = await asyncio.wait_for(_read(sock, _NONCE), 30)
            except asyncio.CancelledError:  # finished by the next call
                self._greeted.append((sock, nonce))
                raise
            except (OSError, EOFError, TimeoutError):
                sock.close()
                continue
            if hmac.compare_digest(answer, _proof(self.key, nonce)):
                return sock
            sock.close()  # not one of ours

    async def run(
        self, parts: Sequence[Sequence[Job]], alive: Callable[[], BaseException | None]
    ) -> list[list[ItemResult]]:
        """Each part's results, scored by whichever trial is free (a part whose link breaks goes
        to another trial); ``alive`` returns why the trials stopped (or ``None`` while they
        run), checked each second while no link is working."""
        if not parts:
            return []
        blobs = [_dumps(list(part)) for part in parts]
        todo, found = deque(range(len(parts))), [b""] * len(parts)
        finished = asyncio.Event()
        lost: list[BaseException] = []

        async def drive(sock: socket.socket) -> None:
            loop = asyncio.get_running_loop()
            index = None
            try:
                while todo:
                    index = todo.popleft()
                    blob = blobs[index]
                    await loop.sock_sendall(sock, len(blob).to_bytes(_HEADER, "big") + blob)
                    size = int.from_bytes(await _read(sock, _HEADER), "big")
                    found[index], index = await _read(sock, size), None
                    if all(found):
                        finished.set()
            except BaseException as error:  # the link is mid-exchange: it cannot be reused
                sock.close()
                if index is not None and not isinstance(error, asyncio.CancelledError):
                    lost.append(error)
                    todo.appendleft(index)  # for another trial: wake the idle ones
                    idle, self._idle = self._idle, []
                    tasks.update(asyncio.create_task(drive(other)) for other in idle)
                raise
            self._idle.append(sock)

        async def admit() -> None:
            while True:
                sock = await self._accept()
                tasks.add(asyncio.create_task(drive(sock)))

        idle, self._idle = self._idle, []
        tasks = {asyncio.create_task(drive(sock)) for sock in idle}
        acceptor = asyncio.create_task(admit())
        waiter = asyncio.create_task(finished.wait())
        try:
            while not finished.is_set():
                await asyncio.wait({waiter}, timeout=1.0)
                stopped = None if finished.is_set() or self._busy(tasks) else alive()
                if stopped is not None:  # nothing left to come back
                    cause = f" (a link failed: {lost[-1]!r})" if lost else ""
                    raise RunError(f"the evaluation trials stopped: {stopped!r}{cause}")
        finally:  # once all is found no link is mid-exchange: the drivers just hand theirs back
            for task in (acceptor, waiter, *(() if finished.is_set() else tasks)):
                task.cancel()
            await asyncio.gather(acceptor, waiter, *tasks, return_exceptions=True)
        return [_unpack(blob) for blob in found]

    @staticmethod
    def _busy(tasks: set[asyncio.Task[None]]) -> bool:
        return any(not task.done() for task in tasks)

    def close(self) -> None:
        """Close every link (each trial then ends) and the listener."""
        for sock in [*self._idle, *(sock for sock, _ in self._greeted)]:
            sock.close()
        self._idle.clear()
        self._greeted.clear()
        self._listener.close()


def _unpack(blob: bytes) -> list[ItemResult]:
    ok, value = pickle.loads(blob)
    if not ok:
        raise RunError(f"an evaluation batch failed: {value!r}") from value
    return list(value)


# -- the trial's side -------------------------------------------------------------------------------


def _read_blocking(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        read = sock.recv_into(view[got:])
        if read == 0:
            return None
        got += read
    return bytes(buffer)


def serve(address: tuple[str, int], key: bytes, fn: ItemFn) -> int:
    """Connect to the driver and score the batches it sends until it closes the link; returns
    how many jobs were scored. A link dropped before the handshake ends (the driver stopped
    accepting mid-way) is opened again."""
    for _ in range(600):
        try:
            link = socket.create_connection(address)
        except ConnectionRefusedError:  # the driver has closed its listener: nothing to do
            return 0
        with _nodelay(link) as sock:
            nonce = _read_blocking(sock, _NONCE)
            if nonce is not None:
                sock.sendall(_proof(key, nonce))
                return _work(sock, fn)
        time.sleep(0.1)
    raise RunError(f"the driver at {address} never completed the handshake")


def _work(sock: socket.socket, fn: ItemFn) -> int:
    done = 0
    while (header := _read_blocking(sock, _HEADER)) is not None:
        blob = _read_blocking(sock, int.from_bytes(header, "big"))
        if blob is None:
            break
        jobs: list[Job] = pickle.loads(blob)
        reply = _reply(fn, jobs)
        sock.sendall(len(reply).to_bytes(_HEADER, "big") + reply)
        done += len(jobs)
    return done


def _reply(fn: ItemFn, jobs: list[Job]) -> bytes:
    try:
        return _dumps((True, run_jobs(fn, jobs)))
    except Exception as error:  # handed to the waiting driver, which raises it
        try:
            return _dumps((False, error))
        except Exception:  # an unpicklable error: its text still tells what went wrong
            return _dumps((False, RunError(repr(error))))
