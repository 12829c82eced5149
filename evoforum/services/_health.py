"""Health checks by URL: one quick round trip each; any failure is ``ServiceUnavailable``."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from evoforum.errors import ServiceUnavailable


def host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


async def check_nats(url: str, within: float = 3.0) -> None:
    """A NATS server greets every connection with an ``INFO {...}`` line."""
    host, port = host_port(url, 4222)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), within)
        try:
            line = await asyncio.wait_for(reader.readline(), within)
        finally:
            writer.close()
    except (OSError, TimeoutError) as error:
        raise ServiceUnavailable(f"NATS at {url} does not answer: {_reason(error)}", url=url) from None
    if not line.startswith(b"INFO "):
        raise ServiceUnavailable(f"{url} answered, but not as a NATS server", url=url)


async def check_postgres(url: str, within: float = 3.0) -> None:
    """Connect and run ``SELECT 1``."""
    import asyncpg

    try:
        connection = await asyncpg.connect(url, timeout=within)
        try:
            await connection.fetchval("SELECT 1", timeout=within)
        finally:
            await connection.close(timeout=within)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise ServiceUnavailable(f"PostgreSQL at {url} does not answer: {_reason(error)}", url=url) from None


async def llm_models(url: str, within: float = 3.0) -> list[str]:
    """The model ids an OpenAI-compatible server lists under ``<url>/models``."""
    body = await http_get_json(url.rstrip("/") + "/models", within)
    try:
        return [str(entry["id"]) for entry in body["data"]]
    except (KeyError, TypeError) as error:
        raise ServiceUnavailable(f"{url}/models answered without a model list: {error!r}", url=url) from None


async def http_get_json(url: str, within: float) -> Any:
    """GET a JSON document over plain HTTP/1.1 (enough for a local health check)."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ServiceUnavailable(f"{url}: only http:// URLs are checked here", url=url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), within)
        try:
            writer.write(request.encode())
            raw = await asyncio.wait_for(reader.read(), within)
        finally:
            writer.close()
    except (OSError, TimeoutError) as error:
        raise ServiceUnavailable(f"{url} does not answer: {_reason(error)}", url=url) from None
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        raise ServiceUnavailable(f"{url} answered {status.decode(errors='replace')!r}", url=url)
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    try:
        return json.loads(body)
    except ValueError:
        raise ServiceUnavailable(f"{url} answered something that is not JSON", url=url) from None


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__
