"""Folding the campaign tallies (migration 0011): writers append a row per key a statement
moved; folding keeps a campaign's read at a few rows per texter and zone group.

Reads are exact whether or not folding keeps up (they sum every row), so a fold that fails, or
a reaper that is down, makes stats slower, never wrong. Folds are safe with several replicas:
a row two folds both reach is deleted by one of them, and each inserts the sums of what it
deleted.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog
from prometheus_client import Counter

from services.reaper.named_queries import QUERIES
from shared.backoff import Backoff
from shared.outages import is_unavailable

log = structlog.get_logger(__name__)
FOLDED = Counter("baton_tally_rows_folded_total", "Tally rows folded into one per key.")


async def fold_tallies(pool: asyncpg.Pool) -> int:
    """Fold every campaign with appended rows; how many rows that replaced."""
    folded: int = await pool.fetchval(QUERIES["fold_tallies"])
    FOLDED.inc(folded)
    return folded


async def fold_forever(pool: asyncpg.Pool, stop: asyncio.Event, interval: float) -> None:
    outage = Backoff(base=interval, cap=max(interval, 15.0))
    while not stop.is_set():
        wait = interval
        try:
            await fold_tallies(pool)
            outage.reset()
        except Exception as exc:
            if not is_unavailable(exc):  # the one classification (shared/outages.py)
                log.exception("tally_fold_failed")
            else:
                wait = outage.next_delay()
                log.warning("tally_fold_unavailable", cause=type(exc).__name__, error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
