"""Each sending number's own lane: its texts reach the provider at its rate, and no lane waits for
another.

Carriers set a rate per number (10DLC, toll-free, short code), so the pacing is per number: each
provider call first takes its number's next slot (`slot`), one `1 / rate` apart, in the order asked,
so the calls leave spaced whatever the database work before them took. Callers wait for a lane's
slot one at a time, and the next slot is counted from when the last one actually left: after a
stall (a busy event loop, a slow database) the late calls go one slot apart again, never together
to catch up, which a carrier would see as a burst over the number's rate. A lane holds
at most `backlog_seconds` of its texts; one more is refused (`admit` says for how long, and the
caller puts it back on the stream for that long), so a busy number never fills the bridge's
overall cap, and a quiet number's texts, taken beside them, are never behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

ItemT = TypeVar("ItemT")
# A sleep's usual overshoot (the loop's timer resolution, a few milliseconds on a busy machine):
# absorbed, so a lane keeps its full rate; a later call moves the lane's schedule on.
SLEEP_OVERSHOOT_SECONDS = 0.005


@dataclass
class _Lane:
    held: int = 0
    # When the lane's next call may leave (monotonic); kept between bursts.
    next_slot: float = 0.0
    # One caller at a time waits for the slot, in the order asked (asyncio.Lock is FIFO).
    gate: asyncio.Lock = field(default_factory=asyncio.Lock)


class Lanes(Generic[ItemT]):
    def __init__(
        self,
        send: Callable[[str, ItemT], Coroutine[Any, Any, None]],
        rate_for: Callable[[str], float],
        backlog_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        calls_at_once: int | None = None,
    ) -> None:
        self._send = send
        # Provider calls in progress at once, across lanes: the HTTP client's connection pool.
        self._calls = asyncio.Semaphore(calls_at_once) if calls_at_once is not None else None
        self._rate_for = rate_for
        self._backlog_seconds = backlog_seconds
        self._clock = clock
        self._lanes: dict[str, _Lane] = {}
        self._sending: set[asyncio.Task[None]] = set()

    @property
    def held(self) -> int:
        """Texts taken and not yet settled, across all lanes."""
        return len(self._sending)

    def backlog(self) -> dict[str, int]:
        return {key: lane.held for key, lane in self._lanes.items()}

    def capacity(self, key: str) -> int:
        """How many texts the lane may hold at once."""
        return max(1, math.ceil(self._rate_for(key) * self._backlog_seconds))

    def admit(self, key: str, item: ItemT) -> float | None:
        """Start sending `item` in `key`'s lane; None when taken, else the seconds after which
        the lane will have room (the caller returns the item to the stream for that long)."""
        lane = self._lanes.setdefault(key, _Lane())
        if lane.held >= self.capacity(key):
            return lane.held / self._rate_for(key)
        lane.held += 1
        task = asyncio.create_task(self._send(key, item))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        task.add_done_callback(lambda _: self._release(lane))
        return None

    @staticmethod
    def _release(lane: _Lane) -> None:
        lane.held -= 1

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        """The lane's next slot, held around one provider call (`async with lanes.slot(key):`).

        The call also holds one of the `calls_at_once` places, taken when its slot comes and
        before the slot is counted: a call never waits for a connection after its slot (the
        HTTP client's pool is as large as the places), so calls that waited for one do not
        leave together once connections free up, and a slot is never spent waiting."""
        lane = self._lanes.setdefault(key, _Lane())
        async with lane.gate:
            wait = lane.next_slot - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._calls is not None:
                await self._calls.acquire()
            # A late wake-up (a stall, a busy loop waking many lanes' calls at one moment, every
            # place taken) moves the schedule on with it, so the calls behind it do not leave
            # closer together to catch up; a sleep's usual overshoot is absorbed, so the lane
            # keeps its full rate rather than drifting below it. Absorbing more (it was up to a
            # quarter of a slot) let a call that left late by that much be followed three
            # quarters of a slot later, and every lane's second call, its first having waited
            # for nothing.
            interval = 1.0 / self._rate_for(key)
            absorbed = min(interval / 4, SLEEP_OVERSHOOT_SECONDS)
            lane.next_slot = max(lane.next_slot, self._clock() - absorbed) + interval
        try:
            yield
        finally:
            if self._calls is not None:
                self._calls.release()

    async def finish(self, grace_seconds: float) -> None:
        """Wait for the texts in hand (at most `grace_seconds`), then cancel the rest: their
        attempt rows say where each stands, and they come back from the stream."""
        if not self._sending:
            return
        _, late = await asyncio.wait(set(self._sending), timeout=grace_seconds)
        for task in late:
            task.cancel()
