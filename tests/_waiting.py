"""Waiting helpers shared by tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``check()`` holds; fail after ``within`` seconds (a deadline, not a measurement)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail("condition not reached")
        await asyncio.sleep(0.01)
