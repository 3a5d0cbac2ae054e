"""The one loop for upkeep that runs every few seconds (the reaper's passes, the tally folds):
a step every `interval`; through an outage the jittered back-off instead; any other failure
logged, and the loop goes on. A step that raises never takes the service down: the next pass
starts from what Postgres holds, so nothing is lost by trying again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from shared.runtime.backoff import Backoff
from shared.runtime.outages import is_unavailable

log = structlog.get_logger(__name__)


async def every(
    interval: float,
    step: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    name: str,
    outage: Backoff,
) -> None:
    """Run `step` every `interval` seconds until `stop` is set. Logs `{name}_failed` (with the
    traceback) or `{name}_unavailable` (an outage, shared/runtime/outages.py; then `outage` sets the
    wait)."""
    while not stop.is_set():
        wait = interval
        try:
            await step()
            outage.reset()
        except Exception as exc:
            if not is_unavailable(exc):  # the one classification (shared/runtime/outages.py)
                log.exception(f"{name}_failed")
            else:
                wait = outage.next_delay()
                log.warning(f"{name}_unavailable", cause=type(exc).__name__, error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
