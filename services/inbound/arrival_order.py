"""One contact's messages are handled one at a time, in the order they arrived.

The pull worker hands every fetched message over at once, and each STOP or START is its own
transaction: without this, a START and the STOP sent right after it raced for the
conversation's lock, and a contact whose last word was STOP could be left opted in (found by an
outside-in review: 13 to 15 of 40 such contacts). Messages of different contacts still go
together; those of one contact wait for the one before, whatever became of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ArrivalOrder:
    def __init__(self) -> None:
        # Per key, the turn of the last message that arrived: done when it is handled.
        self._last: dict[str, asyncio.Future[None]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """Waits for the messages of `key` that arrived before; entered at arrival, before any
        await, so arrival order is the order of the calls."""
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        before = self._last.get(key)
        self._last[key] = mine
        try:
            if before is not None:
                # Shielded: giving up on this message must not cancel the one before.
                await asyncio.shield(before)
            yield
        finally:
            mine.set_result(None)
            if self._last.get(key) is mine:
                del self._last[key]
