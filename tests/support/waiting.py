"""Wait for a condition instead of sleeping a fixed time: tests wait on signals, not sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], *, within: float = 15.0) -> T:
    """Call `probe` until it returns something truthy; return that, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last value {value!r})")
        await asyncio.sleep(0.05)
