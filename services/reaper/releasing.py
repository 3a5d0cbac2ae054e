"""Release Unhandled Replies (seed 004) on a timer, and the admin's release operations.

A pass releases, per campaign with the setting on, every assigned reply that has waited longer
than the campaign's timeout, and returns held initials whose texting hours closed to the pool
(closed_hours.py). Passes are safe with any number of replicas: a transaction-scoped
advisory lock lets one reaper work at a time, and SKIP LOCKED plus the holder guard would keep
two from releasing the same conversation even without it.
"""

from __future__ import annotations

import asyncio
import collections
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeAlias

import asyncpg
import msgspec
import structlog
from prometheus_client import Counter, Gauge, Histogram

from services.reaper import queries
from services.reaper.closed_hours import REASON as CLOSED_HOURS
from services.reaper.closed_hours import release_closed_initials
from shared.contract import catalogue as api
from shared.contract.schemas import release as s
from shared.domain.clock import Clock, utc_now
from shared.domain.event_parts import numbered_parts
from shared.runtime import failpoints, outbox
from shared.runtime.access import Caller
from shared.runtime.backoff import Backoff
from shared.runtime.database import Connection
from shared.runtime.periodic import every

log = structlog.get_logger(__name__)
RELEASED_SUBJECT = api.CONVERSATIONS_RELEASED.subject
# What every release query returns: the conversations moved, from whom, in which campaign.
Released: TypeAlias = (
    queries.ReleaseUnhandledRow
    | queries.ReleaseAllUnhandledRow
    | queries.ReleaseStaleInitialsRow
    | queries.ReleaseClosedInitialsRow
)
RELEASED = Counter("baton_conversations_released_total", "Conversations released.", ["reason"])
PASS_SECONDS = Histogram(
    "baton_reaper_pass_duration_seconds",
    "Time one reaper pass took.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OLDEST_UNHANDLED = Gauge(
    "baton_oldest_unhandled_reply_seconds",
    "How long the oldest assigned reply has waited, per campaign with release on.",
    ["campaign_id"],
)
# Released per campaign (per texter, for closed hours) per chunk at most: each chunk is its own
# short transaction, so a large backlog holds its locks for a moment at a time, never for all of
# it; a pass takes chunks until one comes back short.
RELEASE_CHUNK = 5_000


class Releaser:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: outbox.OutboxPublisher,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._clock = clock

    async def pass_once(self) -> int:
        """One pass; returns how many conversations it released (0 if another reaper holds it):
        unhandled replies past their timeout, and held initials whose texting hours closed."""
        started = time.perf_counter()
        now = self._clock()
        released = 0
        while True:
            count, full = await self._chunk(now)
            released += count
            if not full:
                break
        # Every replica reports the ages, lock or no lock, so none shows a stale figure.
        self._report_ages(await queries.oldest_unhandled(self._pool, now=now))
        PASS_SECONDS.observe(time.perf_counter() - started)
        return released

    async def _chunk(self, now: datetime) -> tuple[int, bool]:
        """One chunk in one transaction: how many it released, and whether any campaign (or
        texter) filled its share, so that more may wait."""
        chunk = RELEASE_CHUNK  # read at each call: tests lower it
        operation, closing = uuid.uuid4(), uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            rows: list[queries.ReleaseUnhandledRow] = []
            closed: list[queries.ReleaseClosedInitialsRow] = []
            if await queries.pass_lock(conn):
                rows = await queries.release_unhandled(
                    conn, now=now, chunk=chunk, operation=operation
                )
                await _announce(conn, operation, "unhandled_timeout", rows)
                closed = await release_closed_initials(conn, now, chunk, closing)
                await _announce(conn, closing, CLOSED_HOURS, closed)
        if not rows and not closed:
            return 0, False
        failpoints.reached("reaper:after_commit")
        self._publisher.nudge()
        RELEASED.labels("unhandled_timeout").inc(len(rows))
        RELEASED.labels(CLOSED_HOURS).inc(len(closed))
        per_campaign = collections.Counter(r.campaign_id for r in rows)
        per_texter = collections.Counter((r.campaign_id, r.from_id) for r in closed)
        full = max([*per_campaign.values(), *per_texter.values()]) >= chunk
        return len(rows) + len(closed), full

    def _report_ages(self, ages: list[queries.OldestUnhandledRow]) -> None:
        # One reaper per process: its latest pass is the whole truth, older labels go.
        OLDEST_UNHANDLED.clear()
        for row in ages:
            OLDEST_UNHANDLED.labels(str(row.campaign_id)).set(max(row.age_seconds, 0.0))

    async def run(
        self,
        stop: asyncio.Event,
        interval: float,
        every_minute: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        last_minute = 0.0

        async def one_pass() -> None:
            nonlocal last_minute
            released = await self.pass_once()
            if released:
                log.info("released_unhandled", released=released)
            if every_minute is not None and time.monotonic() - last_minute >= 60:
                last_minute = time.monotonic()
                await every_minute()

        # A pass that failed for an outage is tried again sooner than the interval at first,
        # never later than it (one connection every interval costs Postgres nothing), jittered.
        outage = Backoff(base=interval / 4, cap=interval)
        await every(interval, one_pass, stop, name="reaper_pass", outage=outage)

    async def release_unhandled(
        self, request: s.ReleaseUnhandled, caller: Caller
    ) -> s.ReleaseResult:
        operation = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.campaign_role(conn, request.campaign_id)
            rows = await queries.release_all_unhandled(
                conn, campaign_id=request.campaign_id, operation=operation, actor_id=caller.user_id
            )
            await _announce(conn, operation, "release", rows)
        return self._result(operation, "release", rows)

    async def release_stale_initials(
        self, request: s.ReleaseStaleInitials, caller: Caller
    ) -> s.ReleaseResult:
        operation = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.campaign_role(conn, request.campaign_id)
            rows = await queries.release_stale_initials(
                conn,
                campaign_id=request.campaign_id,
                held_longer_than_hours=request.held_longer_than_hours,
                operation=operation,
                actor_id=caller.user_id,
                now=self._clock(),
            )
            await _announce(conn, operation, "stale_initials", rows)
        return self._result(operation, "stale_initials", rows)

    def _result(
        self, operation: uuid.UUID, reason: str, rows: Sequence[Released]
    ) -> s.ReleaseResult:
        if rows:
            self._publisher.nudge()
            RELEASED.labels(reason).inc(len(rows))
        return s.ReleaseResult(operation_id=str(operation), released=len(rows))


async def _announce(
    conn: Connection, operation: uuid.UUID, reason: str, rows: Sequence[Released]
) -> None:
    """One event per campaign and texter, so each texter's app can tell them what went."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for row in rows:
        groups[(row.campaign_id, row.from_id)].append(row.id)
    await outbox.enqueue_many(
        conn,
        [
            (
                RELEASED_SUBJECT,
                msg_id,
                msgspec.json.encode(
                    s.ConversationsReleased(
                        operation_id=str(operation),
                        campaign_id=campaign_id,
                        from_texter_id=texter,
                        reason=reason,
                        conversation_ids=part,
                        part=n,
                        parts=parts,
                    )
                ),
            )
            for (campaign_id, texter), ids in groups.items()
            for msg_id, n, parts, part in numbered_parts(f"{operation}:{campaign_id}:{texter}", ids)
        ],
    )
