"""How long to wait before trying again something that is down: exponential, capped, jittered.

Every retry loop waits through one of these: the first connections to NATS and Postgres, the
JetStream declarations, the pull workers, the outbox publishers, the reaper and the pool floor.
The delay doubles from `base` up to `cap`, and each wait is drawn between half the ceiling and
the ceiling ("equal jitter"): random enough that replicas which lost Postgres at the same instant
do not come back knocking in step, and never so short that a loop spins on an outage (the issue
saw 550 connection attempts a second from one consumer).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 0.1
    cap: float = 10.0
    failures: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay(self) -> float:
        """The wait after one more failure in a row."""
        self.failures += 1
        ceiling = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
        return self._random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """A success: the next failure starts from `base` again."""
        self.failures = 0

    async def wait(self, stop: asyncio.Event | None = None) -> float:
        """Sleep the next delay (less, if `stop` is set meanwhile); the delay drawn."""
        delay = self.next_delay()
        if stop is None:
            await asyncio.sleep(delay)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        return delay
