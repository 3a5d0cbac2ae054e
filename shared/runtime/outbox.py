"""The transactional outbox: rows written with the change they describe, published after commit,
and on their stream exactly once however long Postgres, NATS or a publisher is gone.

Each row goes out on a subject of its own, its subject followed by its message id as one token
(`subject_token`): a text on `baton.outbound.sms.<message id>`, an event on
`baton.events.conversation.assigned.<operation id>`. It is published with
`Nats-Expected-Last-Subject-Sequence: 0`, so the stream stores it only while nothing is on that
subject yet. A row is marked published only after the stream has answered. When that answer never
reaches Postgres (the publisher died, or Postgres went away before the mark), the row's lease
runs out and a publisher sends it again: the stream refuses the copy with "wrong last sequence",
which says the first copy is there, and the row is marked without anything going out twice.
Unlike `Nats-Msg-Id` deduplication, which forgets after the stream's duplicate window (2 minutes),
this holds for as long as the stream keeps the first copy (OUTBOUND and EVENTS: 7 days).
`Nats-Msg-Id` is still sent, for consumers that deduplicate by it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re

import asyncpg
import structlog
from nats.js import JetStreamContext
from nats.js.errors import APIError
from prometheus_client import Counter, Gauge

from shared.runtime import failpoints
from shared.runtime import outbox_queries as queries
from shared.runtime.backoff import Backoff
from shared.runtime.database import Connection
from shared.runtime.outages import is_unavailable

log = structlog.get_logger(__name__)

PUBLISHED = Counter(
    "baton_outbox_published_total", "Outbox rows published to JetStream.", ["service"]
)
BACKLOG = Gauge("baton_outbox_backlog", "Outbox rows not yet published.", ["service"])
ALREADY_ON_STREAM = Counter(
    "baton_outbox_already_on_stream_total",
    "Outbox rows published again after a lost answer and refused by the stream, which already "
    "held them: marked, not sent twice.",
    ["service"],
)

MSG_ID_HEADER = "Nats-Msg-Id"
EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER = "Nats-Expected-Last-Subject-Sequence"
# JetStream's "wrong last sequence" (JSStreamWrongLastSequenceErrF). Asked for last subject
# sequence 0, it means exactly one thing: a message is already on that subject.
WRONG_LAST_SEQUENCE = 10071

# Message ids that are already valid subject tokens go as they are: message ids, operation uuids,
# `<operation>:<campaign>:<texter>`. Anything else (a provider's id holding a dot, a space or a
# wildcard) is base64url-encoded behind a `~`, which no plain token contains: the mapping stays
# one-to-one, so two rows never share a subject, and one row always gets the same one.
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_:-]+")
_ENCODED_PREFIX = "~"


def subject_token(msg_id: str) -> str:
    """`msg_id` as one NATS subject token, one-to-one."""
    if _PLAIN_TOKEN.fullmatch(msg_id):
        return msg_id
    encoded = base64.urlsafe_b64encode(msg_id.encode()).decode().rstrip("=")
    return _ENCODED_PREFIX + encoded


def stream_subject(subject: str, msg_id: str) -> str:
    """Where a row goes on the stream: its subject, then its message id as the last token."""
    return f"{subject}.{subject_token(msg_id)}"


async def enqueue(conn: Connection, subject: str, msg_id: str, payload: bytes) -> None:
    """Write one row inside the caller's transaction. It is published on
    `stream_subject(subject, msg_id)`; `msg_id` must be unique to this message."""
    await queries.insert(conn, subject=subject, msg_id=msg_id, payload=payload)


async def enqueue_many(conn: Connection, rows: list[tuple[str, str, bytes]]) -> None:
    """Write many (subject, msg_id, payload) rows in one statement, inside the caller's
    transaction: a release touching a thousand texters is one round trip, not a thousand."""
    if rows:
        subjects, msg_ids, payloads = (list(column) for column in zip(*rows, strict=True))
        await queries.insert_many(conn, subjects=subjects, msg_ids=msg_ids, payloads=payloads)


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
        subjects: tuple[str, ...] = ("baton.",),
    ) -> None:
        self._service = service
        # The subject prefixes this publisher takes rows for: those its service's NATS user may
        # publish (ServiceDefinition.publishes). The table is shared; without this, the inbound
        # service would lease a text (an opt-out confirmation it queued) that only the sender
        # may put on OUTBOUND, fail on the permission, and hold it up for a lease.
        self._subjects = list(subjects)
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
        """Lease, publish and mark one batch; return how many rows were marked published."""
        rows = await queries.lease_pending(
            self._pool,
            limit=self._batch,
            lease_seconds=self._lease_seconds,
            subject_prefixes=self._subjects,
        )
        if not rows:
            return 0
        failpoints.reached("outbox:after_lease")
        # Started in id order, each writes its message before it waits for its ack: the
        # stream receives them in that order, however the acks come back.
        results = await asyncio.gather(*(self._publish(r) for r in rows), return_exceptions=True)
        on_stream = [
            r.id
            for r, result in zip(rows, results, strict=True)
            if not isinstance(result, BaseException)
        ]
        failures = len(rows) - len(on_stream)
        if failures:
            first = next(r for r in results if isinstance(r, BaseException))
            log.warning("outbox_publish_failed", failed=failures, error=repr(first))
        already = sum(1 for result in results if result is False)
        if on_stream:
            failpoints.reached("outbox:before_mark_published")
            await queries.mark_published(self._pool, outbox_ids=on_stream)
            PUBLISHED.labels(self._service).inc(len(on_stream) - already)
            if already:
                ALREADY_ON_STREAM.labels(self._service).inc(already)
                log.info("outbox_already_on_stream", rows=already)
        return len(on_stream)

    async def _publish(self, row: queries.LeasePendingRow) -> bool:
        """Put one row on its stream. False: the stream already held it, from an attempt whose
        answer was lost (a refused copy, or a duplicate inside the Nats-Msg-Id window)."""
        msg_id = row.msg_id
        try:
            ack = await self._js.publish(
                stream_subject(row.subject, msg_id),
                row.payload,
                headers={MSG_ID_HEADER: msg_id, EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER: "0"},
            )
        except APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                return False
            raise
        return not ack.duplicate

    async def run(self, stop: asyncio.Event) -> None:
        # Between tries while Postgres or NATS is down: from one poll up to 5 s, jittered. One
        # loop per process, so a short cap costs Postgres little, and texts accepted during an
        # outage go out soon after it ends.
        outage = Backoff(base=self._poll_seconds, cap=max(5.0, self._poll_seconds))
        while not stop.is_set():
            wait = self._poll_seconds
            try:
                while await self.publish_once() >= self._batch and not stop.is_set():
                    pass
                BACKLOG.labels(self._service).set(
                    await queries.pending_count(self._pool, subject_prefixes=self._subjects)
                )
                outage.reset()
            except Exception as exc:
                wait = outage.next_delay()
                if is_unavailable(exc):
                    # Connections open when Postgres went away are dead: replaced at the next
                    # acquire, so the first try after the outage does not fail on one of them.
                    await self._pool.expire_connections()
                    # Rows leased and perhaps published stay leased; once the lease runs out they
                    # are published again, and the stream refuses what it already has.
                    log.warning("outbox_unavailable", cause=type(exc).__name__, error=str(exc))
                else:
                    log.exception("outbox_failed")
            self._nudged.clear()
            waiters = {asyncio.ensure_future(stop.wait())}
            if not outage.failures:  # in an outage, a new row's nudge does not cut the wait short
                waiters.add(asyncio.ensure_future(self._nudged.wait()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(waiters, timeout=wait, return_when="FIRST_COMPLETED")
            if self._nudged.is_set() and not stop.is_set():
                await asyncio.sleep(self._gather_seconds)
            for waiter in waiters:
                waiter.cancel()
