"""Folding the campaign tallies (migration 0011): writers append a row per key a statement
moved; folding keeps a campaign's read at a few rows per texter and zone group.

Reads are exact whether or not folding keeps up (they sum every row), so a fold that fails, or
a reaper that is down, makes stats slower, never wrong. Folds are safe with several replicas:
a row two folds both reach is deleted by one of them, and each inserts the sums of what it
deleted.
"""

from __future__ import annotations

import asyncio

import asyncpg
from prometheus_client import Counter

from services.reaper import queries
from shared.runtime.backoff import Backoff
from shared.runtime.periodic import every

FOLDED = Counter("baton_tally_rows_folded_total", "Tally rows folded into one per key.")


async def fold_tallies(pool: asyncpg.Pool) -> int:
    """Fold every campaign with appended rows; how many rows that replaced."""
    folded = await queries.fold_tallies(pool)
    FOLDED.inc(folded)
    return folded


async def fold_forever(pool: asyncpg.Pool, stop: asyncio.Event, interval: float) -> None:
    async def fold() -> None:
        await fold_tallies(pool)

    outage = Backoff(base=interval, cap=max(interval, 15.0))
    await every(interval, fold, stop, name="tally_fold", outage=outage)
