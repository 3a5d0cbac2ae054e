"""The numbers the provider account holds, kept in Postgres for baton.admin.org.numbers.add.

Read from the provider at start and every `interval` seconds (Twilio's IncomingPhoneNumbers),
written in one transaction. The assigner refuses a number no listed account holds, naming it
(services/assigner/numbers.py), so no organization can claim a number it does not have. A number
bought at the provider is accepted from the next read on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from services.bridge import queries as q
from shared.runtime.backoff import Backoff

log = structlog.get_logger(__name__)


class HeldNumbers:
    def __init__(
        self,
        pool: asyncpg.Pool,
        provider: str,
        account: str,
        read: Callable[[], Awaitable[list[str]]],
        interval: float,
    ) -> None:
        self._pool = pool
        self._provider = provider
        self._account = account
        self._read = read
        self._interval = interval

    async def sync_once(self) -> int:
        numbers = sorted(set(await self._read()))
        async with self._pool.acquire() as conn, conn.transaction():
            await q.account_synced(conn, provider=self._provider, account=self._account)
            await q.forget_numbers(
                conn, provider=self._provider, account=self._account, numbers=numbers
            )
            await q.hold_numbers(
                conn, numbers=numbers, provider=self._provider, account=self._account
            )
        return len(numbers)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(base=1.0, cap=60.0)
        while not stop.is_set():
            try:
                held = await self.sync_once()
                log.info("provider_numbers_read", provider=self._provider, numbers=held)
                backoff.reset()
                wait = self._interval
            except Exception as exc:
                log.warning("provider_numbers_not_read", error=str(exc) or type(exc).__name__)
                wait = backoff.next_delay()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
