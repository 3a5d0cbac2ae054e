"""Keeps each busy campaign's pool floors (migrations 0002, 0006) close to the first row still in
the pool, one floor per zone group.

The database lowers a floor whenever a row enters the pool; only this raises it. Every second it
visits the campaigns this process claimed from lately, one short transaction each: take the
campaign's pool-floor lock exclusively (or skip the campaign this round: rows are entering its
pool right now, or another replica is raising it), find each zone group's first row in the pool
from its current floor, and move the floor up to it. The lock is what makes raising safe: rows
that entered the pool before we held it are committed and seen by the scan, and a statement
adding rows after waits for us to commit and then lowers the floor again (migration 0002).

Rows locked by a claim in flight still count as in the pool (the scan sees the last committed
version), so a claim that rolls back never leaves rows below the floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg
import structlog

from services.assigner import pool_floor_queries as q
from shared.runtime.backoff import Backoff
from shared.runtime.outages import is_unavailable

log = structlog.get_logger(__name__)
# The floor of an empty pool: the next row to enter it lowers the floor to itself.
EMPTY_POOL_FLOOR = 2**63 - 1
# A campaign nobody claimed from for this long is no longer visited.
IDLE_AFTER_SECONDS = 60.0


class PoolFloorKeeper:
    def __init__(self, pool: asyncpg.Pool, interval_seconds: float = 1.0) -> None:
        self._pool = pool
        self._interval = interval_seconds
        self._claimed_at: dict[int, float] = {}

    def claimed_from(self, campaign_id: int) -> None:
        if self._interval > 0:  # with raising off nothing would ever prune what is noted here
            self._claimed_at[campaign_id] = time.monotonic()

    async def raise_floor(self, campaign_id: int) -> int | None:
        """One raise of every zone group's floor; the lowest floor after it (EMPTY_POOL_FLOOR for
        an empty pool), or None when the campaign was busy (or is gone)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await q.try_lock_pool_floor(conn, campaign_id=campaign_id):
                return None
            floors = await q.raise_pool_floors(
                conn, campaign_id=campaign_id, empty_floor=EMPTY_POOL_FLOOR
            )
            if not floors:
                return None  # the campaign is gone, or has never had a conversation
            return min(row.new_floor for row in floors)

    async def raise_after_empty(self, campaign_id: int) -> None:
        """A claim just found the pool empty: raise the floors now, not at the next round. At the
        end of a drain a crowd of texters asks at once; the first to find it empty moves the
        floors to the end, and those after it look at an empty range instead of scanning every
        claimed entry since the last raise (the tail of `bench.claims`). Safe for the reason every
        raise is (the lock, above); a busy campaign is left to the next round. With raising
        off (interval 0, the benchmarks' baseline) nothing is raised here either."""
        if self._interval <= 0:
            return
        try:
            await self.raise_floor(campaign_id)
        except Exception as exc:  # upkeep: the refusal the caller is getting stands regardless
            if not is_unavailable(exc):
                log.exception("pool_floor_failed")

    async def run(self, stop: asyncio.Event) -> None:
        outage = Backoff(base=self._interval, cap=max(5.0, self._interval))
        while not stop.is_set():
            wait = self._interval
            idle_since = time.monotonic() - IDLE_AFTER_SECONDS
            for campaign_id, claimed_at in list(self._claimed_at.items()):
                if claimed_at < idle_since:
                    del self._claimed_at[campaign_id]
                    continue
                try:
                    await self.raise_floor(campaign_id)
                    outage.reset()
                except Exception as exc:
                    # Upkeep: a failure here must not take the assigner down (a connection
                    # killed mid-transaction raises InterfaceError, not a connection error).
                    if is_unavailable(exc):
                        wait = max(wait, outage.next_delay())
                        log.warning("pool_floor_unavailable", error=str(exc))
                        break  # the other campaigns would fail the same way: wait first
                    else:
                        log.exception("pool_floor_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
