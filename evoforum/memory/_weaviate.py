"""``WeaviateVectorStore``: a ``VectorStore`` on a Weaviate collection (weaviate-client v4, async).

Each entry is an object with a self-provided vector in an HNSW cosine index, whose uuid is
derived from the entry's id (``generate_uuid5``). The id and the whole payload (as JSON) are
stored in two text properties; top-level scalar payload keys that are valid property names are
also stored as ``p_<key>`` properties, so filters run inside Weaviate. Weaviate compares text by
tokens, so every hit is checked again against the filter here before it is returned.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from evoforum.errors import BackendError, ServiceUnavailable, UsageError
from evoforum.memory._vectors import Filter, Hit, check_query, check_vector, matches, prepare

_ID = "evoforum_id"
_PAYLOAD = "evoforum_payload"
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")
_COLLECTION = re.compile(r"[A-Z][A-Za-z0-9_]{0,200}")


def _scalar(value: Any) -> Any:
    """Numbers as floats, so every numeric payload key becomes one ``number`` property."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _promoted(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        f"p_{key}": _scalar(value)
        for key, value in payload.items()
        if _PROPERTY.fullmatch(key) and isinstance(value, str | int | float | bool)
    }


def _translate(error: BaseException, doing: str) -> BackendError:
    return BackendError(f"Weaviate: {doing} failed: {type(error).__name__}: {error}", cause=repr(error))


class WeaviateVectorStore:
    """A ``VectorStore`` in the Weaviate collection ``collection`` (created on ``open``)."""

    def __init__(self, client: Any, collection: str, dim: int, *, owns: bool = False) -> None:
        if not _COLLECTION.fullmatch(collection):
            raise UsageError(f"collection name {collection!r} is invalid: start with a capital letter")
        self._client = client
        self._collection = client.collections.use(collection)
        self.name, self.dim = collection, dim
        self._owns = owns

    @classmethod
    async def connect(
        cls, url: str, collection: str, dim: int, *, grpc_port: int = 50051
    ) -> WeaviateVectorStore:
        """Connect to the Weaviate at ``url`` (``http://host:8080``; gRPC on ``grpc_port``)."""
        try:
            import weaviate
        except ImportError as error:  # pragma: no cover - weaviate-client is a dependency
            raise BackendError(
                "the Weaviate backend needs weaviate-client: pip install weaviate-client"
            ) from error
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        host = parts.hostname or "localhost"
        client = weaviate.use_async_with_custom(
            http_host=host,
            http_port=parts.port or (443 if secure else 8080),
            http_secure=secure,
            grpc_host=host,
            grpc_port=grpc_port,
            grpc_secure=secure,
        )
        try:
            await client.connect()
        except Exception as error:  # the client raises several unrelated types here
            with contextlib.suppress(Exception):
                await client.close()
            raise ServiceUnavailable(f"cannot connect to Weaviate at {url}: {error!r}", url=url) from None
        return await cls.open(client, collection, dim, _owns=True)

    @classmethod
    async def open(
        cls, client: Any, collection: str, dim: int, *, _owns: bool = False
    ) -> WeaviateVectorStore:
        """The store on ``collection`` of a connected async client; creates it when missing."""
        from weaviate.classes.config import Configure, DataType, Property, VectorDistances
        from weaviate.exceptions import WeaviateBaseError

        store = cls(client, collection, dim, owns=_owns)
        try:
            if not await client.collections.exists(collection):
                await client.collections.create(
                    collection,
                    properties=[
                        Property(name=_ID, data_type=DataType.TEXT, skip_vectorization=True),
                        Property(name=_PAYLOAD, data_type=DataType.TEXT, skip_vectorization=True),
                    ],
                    vector_config=Configure.Vectors.self_provided(
                        vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE)
                    ),
                )
        except WeaviateBaseError as error:
            if _owns:
                await client.close()
            raise _translate(error, f"creating collection {collection!r}") from None
        return store

    async def upsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        payloads: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        from weaviate.classes.data import DataObject
        from weaviate.exceptions import WeaviateBaseError
        from weaviate.util import generate_uuid5

        objects = [
            DataObject(
                properties={_ID: id_, _PAYLOAD: orjson.dumps(payload).decode(), **_promoted(payload)},
                uuid=generate_uuid5(id_),
                vector=vector.tolist(),
            )
            for id_, vector, payload in prepare(ids, vectors, payloads, self.dim)
        ]
        if not objects:
            return
        try:
            result = await self._collection.data.insert_many(objects)
        except WeaviateBaseError as error:
            raise _translate(error, "upsert") from None
        if result.has_errors:
            first = next(iter(result.errors.values()))
            raise BackendError(f"Weaviate: {len(result.errors)} object(s) not stored: {first.message}")

    async def query(self, vector: Sequence[float], k: int = 10, filter: Filter | None = None) -> list[Hit]:
        from weaviate.classes.query import Filter as WeaviateFilter
        from weaviate.classes.query import MetadataQuery
        from weaviate.exceptions import WeaviateBaseError

        check_query(k, filter)
        conditions = []
        for key, value in (filter or {}).items():
            if not _PROPERTY.fullmatch(key):
                raise UsageError(f"Weaviate filters need keys that are property names, not {key!r}")
            conditions.append(WeaviateFilter.by_property(f"p_{key}").equal(_scalar(value)))
        try:
            response = await self._collection.query.near_vector(
                near_vector=check_vector(vector, self.dim).tolist(),
                limit=k,
                filters=WeaviateFilter.all_of(conditions) if conditions else None,
                return_metadata=MetadataQuery(distance=True),
                return_properties=[_ID, _PAYLOAD],
            )
        except WeaviateBaseError as error:
            if filter and "no such prop" in str(error):
                return []  # no entry ever had this key
            raise _translate(error, "query") from None
        hits = []
        for found in response.objects:
            payload = orjson.loads(found.properties[_PAYLOAD])
            if matches(payload, filter):
                distance = found.metadata.distance if found.metadata.distance is not None else 1.0
                hits.append(Hit(id=found.properties[_ID], score=1.0 - float(distance), payload=payload))
        return hits

    async def delete(self, ids: Sequence[str]) -> None:
        from weaviate.classes.query import Filter as WeaviateFilter
        from weaviate.exceptions import WeaviateBaseError
        from weaviate.util import generate_uuid5

        if not ids:
            return
        try:
            await self._collection.data.delete_many(
                where=WeaviateFilter.by_id().contains_any([generate_uuid5(id_) for id_ in ids])
            )
        except WeaviateBaseError as error:
            raise _translate(error, "delete") from None

    async def drop(self) -> None:
        """Remove the collection."""
        await self._client.collections.delete(self.name)

    async def close(self) -> None:
        """Close the client when this store opened it."""
        if self._owns:
            await self._client.close()
