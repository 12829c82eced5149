"""``NatsKV``: a ``KeyValue`` on a NATS JetStream KV bucket (nats-py, imported lazily)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from evoforum.errors import BackendError, ServiceUnavailable
from evoforum.memory._kv import check_key

KEYS_TIMEOUT_S = 10.0
"""How long ``keys`` waits for the next entry the server said it would deliver."""


def _translate(error: BaseException, doing: str) -> BackendError:
    return BackendError(f"NATS KV: {doing} failed: {type(error).__name__}: {error}", cause=repr(error))


class NatsKV:
    """A ``KeyValue`` on the NATS KV bucket ``bucket`` (created when missing).

    ``await NatsKV.connect(url, bucket)`` owns its connection; ``await NatsKV.open(client,
    bucket)`` uses a connected nats-py client that the caller closes.
    """

    def __init__(self, kv: Any, client: Any, *, owns: bool) -> None:
        self._kv = kv
        self._nc = client
        self._owns = owns

    @classmethod
    async def open(cls, client: Any, bucket: str, *, history: int = 1, _owns: bool = False) -> NatsKV:
        import nats.errors
        import nats.js.errors as js_errors

        js = client.jetstream()
        try:
            try:
                kv = await js.key_value(bucket)
            except js_errors.BucketNotFoundError:
                kv = await js.create_key_value(bucket=bucket, history=history)
        except js_errors.InvalidBucketNameError:
            raise BackendError(f"NATS KV: {bucket!r} is not a valid bucket name", bucket=bucket) from None
        except nats.errors.Error as error:
            if _owns:
                await client.close()
            raise _translate(error, f"opening bucket {bucket!r}") from None
        return cls(kv, client, owns=_owns)

    @classmethod
    async def connect(cls, url: str, bucket: str, *, history: int = 1) -> NatsKV:
        import nats
        import nats.errors

        try:
            client = await nats.connect(servers=[url], connect_timeout=2, max_reconnect_attempts=3)
        except (OSError, nats.errors.Error) as error:
            raise ServiceUnavailable(f"cannot connect to NATS at {url}: {error!r}", url=url) from None
        client.options["max_reconnect_attempts"] = -1
        return await cls.open(client, bucket, history=history, _owns=True)

    async def get(self, key: str) -> bytes | None:
        import nats.errors
        import nats.js.errors as js_errors

        check_key(key)
        try:
            entry = await self._kv.get(key)
        except (js_errors.KeyNotFoundError, js_errors.KeyDeletedError):
            return None
        except nats.errors.Error as error:
            raise _translate(error, f"get {key!r}") from None
        return bytes(entry.value or b"")  # deleted keys raised above; an empty value reads as None

    async def put(self, key: str, value: bytes) -> int:
        import nats.errors

        check_key(key)
        try:
            return int(await self._kv.put(key, bytes(value)))
        except nats.errors.Error as error:
            raise _translate(error, f"put {key!r}") from None

    async def delete(self, key: str) -> None:
        import nats.errors

        check_key(key)
        if await self.get(key) is None:
            return
        try:
            await self._kv.delete(key)
        except nats.errors.Error as error:
            raise _translate(error, f"delete {key!r}") from None

    async def keys(self, prefix: str = "") -> list[str]:
        """Every key whose last entry is a value (not a delete or purge marker), sorted.

        Read through one ordered consumer over the last entry of each key, until as many entries
        arrived as the server had to deliver when it was created (pending plus already sent).
        nats-py's own ``keys()`` decides it is done from the pending count alone, and on a busy
        machine, where the entries are already on their way, it ends before reading any.
        """
        import nats.errors
        from nats.js import api

        kv = self._kv
        arrived: asyncio.Queue[Any] = asyncio.Queue()
        subscription = None
        found: list[str] = []
        try:
            subscription = await kv._js.subscribe(
                f"{kv._pre}>",
                stream=kv._stream,
                cb=arrived.put,
                ordered_consumer=True,
                deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
                headers_only=True,
            )
            info = await subscription.consumer_info()
            for _ in range(info.num_pending + info.delivered.consumer_seq):
                message = await asyncio.wait_for(arrived.get(), KEYS_TIMEOUT_S)
                if (message.headers or {}).get("KV-Operation") not in ("DEL", "PURGE"):
                    found.append(message.subject[len(kv._pre) :])
        except (nats.errors.Error, TimeoutError) as error:
            raise _translate(error, "list keys") from None
        finally:
            if subscription is not None:
                with contextlib.suppress(Exception):  # the listing is read: the consumer may go
                    await subscription.unsubscribe()
        return sorted(key for key in found if key.startswith(prefix))

    async def close(self) -> None:
        """Close the connection when this store opened it."""
        if self._owns and not self._nc.is_closed:
            with contextlib.suppress(Exception):  # already gone: closing is all that is left
                await self._nc.drain()
            await self._nc.close()

    async def __aenter__(self) -> NatsKV:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
