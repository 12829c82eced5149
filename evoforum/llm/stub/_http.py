"""A minimal HTTP/1.1 server on asyncio streams: keep-alive, Content-Length bodies, chunked SSE.

Just enough of HTTP for OpenAI clients; small and fast so a benchmark measures the client, not it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import orjson

Handler = Callable[[str, str, bytes, "Reply"], Awaitable[bool]]
"""Answers one request; returns False to close the connection afterwards (without a reply if none was sent)."""


class Reply:
    """Writes one response to a connection: a whole body, or an event stream piece by piece."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.started = False

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        self.started = True
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def json(self, status: int, value: object, headers: dict[str, str] | None = None) -> None:
        body = orjson.dumps(value)
        head = {"content-type": "application/json", "content-length": str(len(body)), **(headers or {})}
        self.writer.write(self._head(status, head) + body)
        await self.writer.drain()

    async def open_stream(self) -> None:
        head = {
            "content-type": "text/event-stream",
            "transfer-encoding": "chunked",
            "cache-control": "no-cache",
        }
        self.writer.write(self._head(200, head))

    async def event(self, data: bytes) -> None:
        payload = b"data: " + data + b"\n\n"
        self.writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        await self.writer.drain()

    async def end_stream(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()


class HttpServer:
    """Serves ``await handler(method, path, body, reply)`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, backlog=4096, limit=2**22
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # only ``close`` cancels a connection; ending quietly is the point
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        reply = Reply(writer)
        try:
            keep = await self.handler(method, target.split("?", 1)[0], body, reply)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug in a handler answers 500, never kills the server
            if reply.started:
                return False
            await reply.json(500, {"error": {"message": f"stub failure: {error}", "type": "server_error"}})
            return True
        return keep and headers.get("connection", "").lower() != "close"
