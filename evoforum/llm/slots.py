"""How many requests a server decodes at once, which is how many calls are worth having in flight.

llama.cpp's ``llama-server`` reports its parallel slots at ``/props`` (``total_slots``), next to
the OpenAI routes under ``/v1``. Other servers (OpenAI, vLLM, the stub) do not say; their limit
is ``DEFAULT_CONCURRENCY`` unless the config names one.
"""

from __future__ import annotations

from typing import Any

import orjson

DEFAULT_CONCURRENCY = 8
"""Calls in flight to a server that does not report its slots."""


def props_url(base_url: str) -> str:
    """``/props`` beside the OpenAI routes: ``http://h:p/v1`` -> ``http://h:p/props``."""
    root = base_url.rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    return root + "/props"


def slots_of(props: Any) -> int | None:
    """``total_slots`` of a ``/props`` document, when it is a positive whole number."""
    slots = props.get("total_slots") if isinstance(props, dict) else None
    return slots if isinstance(slots, int) and not isinstance(slots, bool) and slots > 0 else None


async def server_slots(base_url: str, *, api_key: str | None = None, within: float = 5.0) -> int | None:
    """The slot count the server at ``base_url`` reports, or None when it does not answer it."""
    import httpx2

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with httpx2.AsyncClient(timeout=within) as http:
            response = await http.get(props_url(base_url), headers=headers)
        if response.status_code != 200:
            return None
        return slots_of(orjson.loads(response.content))
    except (httpx2.HTTPError, orjson.JSONDecodeError, OSError):
        return None
