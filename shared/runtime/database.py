"""The asyncpg pool every service shares between its handlers."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from shared.runtime.backoff import Backoff
from shared.runtime.outages import UNAVAILABLE_TYPES

log = structlog.get_logger(__name__)

# A connection of our own or one borrowed from the pool: queries accept either.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    attempts: int = 60,
    **kwargs: Any,
) -> asyncpg.Pool:
    """Connect, retrying while the server starts (a container's Postgres may come up after us)."""
    backoff = Backoff(base=0.2, cap=2.0)
    for attempt in range(1, attempts + 1):
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max_size, command_timeout=60, **kwargs
            )
            assert pool is not None
            return pool
        except UNAVAILABLE_TYPES as exc:  # the one classification: shared/runtime/outages.py
            if attempt == attempts:
                raise
            log.warning("postgres_unreachable", attempt=attempt, error=str(exc))
            await backoff.wait()
    raise AssertionError("unreachable")
