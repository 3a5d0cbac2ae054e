"""The transactional outbox: rows written with the change they describe, published after commit.

A row is marked published only after JetStream's PubAck. A publisher that dies between the two
leaves the row leased; when the lease runs out another publisher sends it again with the same
`Nats-Msg-Id`, which the stream deduplicates, and consumers are idempotent in Postgres anyway.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog
from nats.js import JetStreamContext
from prometheus_client import Counter, Gauge

from shared import failpoints
from shared.database import TRANSIENT_ERRORS, Connection
from shared.queries import load_queries

log = structlog.get_logger(__name__)
QUERIES = load_queries("shared", "outbox.sql")

PUBLISHED = Counter(
    "baton_outbox_published_total", "Outbox rows published to JetStream.", ["service"]
)
BACKLOG = Gauge("baton_outbox_backlog", "Outbox rows not yet published.", ["service"])


async def enqueue(conn: Connection, subject: str, msg_id: str, payload: bytes) -> None:
    """Write one row inside the caller's transaction."""
    await conn.execute(QUERIES["insert"], subject, msg_id, payload)


async def enqueue_many(conn: Connection, rows: list[tuple[str, str, bytes]]) -> None:
    """Write many (subject, msg_id, payload) rows in one statement, inside the caller's
    transaction: a release touching a thousand texters is one round trip, not a thousand."""
    if rows:
        subjects, msg_ids, payloads = (list(column) for column in zip(*rows, strict=True))
        await conn.execute(QUERIES["insert_many"], subjects, msg_ids, payloads)


class OutboxPublisher:
    """Publishes pending rows: at once when nudged after a commit, and by polling for leftovers."""

    def __init__(
        self,
        service: str,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        poll_seconds: float = 1.0,
        batch: int = 500,
        gather_seconds: float = 0.05,
        lease_seconds: float = 30.0,
    ) -> None:
        self._service = service
        self._pool = pool
        self._js = js
        self._poll_seconds = poll_seconds
        self._batch = batch
        # After a nudge, wait this long so the rows of many commits go out in one pass: a pass
        # per commit would add two more commits (lease, mark) to every request.
        self._gather_seconds = gather_seconds
        self._lease_seconds = lease_seconds
        self._nudged = asyncio.Event()

    def nudge(self) -> None:
        self._nudged.set()

    async def publish_once(self) -> int:
        """Lease, publish and mark one batch; return how many rows were published."""
        rows = await self._pool.fetch(QUERIES["lease_pending"], self._batch, self._lease_seconds)
        if not rows:
            return 0
        failpoints.reached("outbox:after_lease")
        results = await asyncio.gather(
            *(
                self._js.publish(
                    r["subject"], bytes(r["payload"]), headers={"Nats-Msg-Id": r["msg_id"]}
                )
                for r in rows
            ),
            return_exceptions=True,
        )
        acked = [
            r["id"]
            for r, result in zip(rows, results, strict=True)
            if not isinstance(result, BaseException)
        ]
        failures = len(rows) - len(acked)
        if failures:
            log.warning("outbox_publish_failed", failed=failures)
        if acked:
            failpoints.reached("outbox:before_mark_published")
            await self._pool.execute(QUERIES["mark_published"], acked)
            PUBLISHED.labels(self._service).inc(len(acked))
        return len(acked)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                while await self.publish_once() >= self._batch and not stop.is_set():
                    pass
                BACKLOG.labels(self._service).set(
                    await self._pool.fetchval(QUERIES["pending_count"])
                )
            except TRANSIENT_ERRORS as exc:
                log.warning("outbox_unavailable", error=str(exc))
            except Exception:
                log.exception("outbox_failed")
            self._nudged.clear()
            waiters = {
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self._nudged.wait()),
            }
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(
                    waiters, timeout=self._poll_seconds, return_when="FIRST_COMPLETED"
                )
            if self._nudged.is_set() and not stop.is_set():
                await asyncio.sleep(self._gather_seconds)
            for waiter in waiters:
                waiter.cancel()
