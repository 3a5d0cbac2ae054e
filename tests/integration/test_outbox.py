"""The outbox: published after commit, marked only after the PubAck, republished after a crash,
and deduplicated by the stream so the far side sees each message id once."""

from __future__ import annotations

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from shared.contract import catalogue as api
from shared.runtime import outbox
from shared.runtime.jetstream import ALL_STREAMS, EVENTS_PREFIX, OUTBOUND_PREFIX, declare_all

pytestmark = pytest.mark.integration


async def test_a_crash_between_puback_and_marking_republishes_and_the_stream_dedupes(
    pool: asyncpg.Pool, nc: NatsClient
) -> None:
    js = nc.jetstream()
    await declare_all(js, ALL_STREAMS)
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, api.OUTBOUND_SMS.subject, "message-1", b'{"message_id": 1}')
    publisher = outbox.OutboxPublisher("test", pool, js)
    assert await publisher.publish_once() == 1
    assert await pool.fetchval("SELECT published_at IS NOT NULL FROM outbox") is True
    # A publisher that died after the PubAck but before marking: the row is still pending and
    # its lease has run out.
    await pool.execute(
        "UPDATE outbox SET published_at = NULL, lease_until = now() - interval '1 s'"
    )
    assert await publisher.publish_once() == 1
    assert (await js.stream_info("OUTBOUND")).state.messages == 1
    # A row another publisher holds a live lease on is left alone.
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, api.OUTBOUND_SMS.subject, "message-2", b'{"message_id": 2}')
    await pool.execute(
        "UPDATE outbox SET lease_until = now() + interval '1 minute' WHERE msg_id = 'message-2'"
    )
    assert await publisher.publish_once() == 0
    # And writing the same message id twice keeps one row.
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue_many(conn, [(api.OUTBOUND_SMS.subject, "message-2", b"{}")] * 2)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2


async def test_a_publisher_takes_only_the_subjects_its_service_may_publish(
    pool: asyncpg.Pool, nc: NatsClient
) -> None:
    """Inbound queues an opt-out's confirmation but may not text: the sender publishes it."""
    js = nc.jetstream()
    await declare_all(js, ALL_STREAMS)
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, api.OUTBOUND_SMS.subject, "7", b'{"message_id": 7}')
        await outbox.enqueue(conn, api.CONTACT_OPTED_OUT.subject, "consent:p-1", b"{}")
    inbound = outbox.OutboxPublisher("inbound", pool, js, subjects=(EVENTS_PREFIX,))
    assert await inbound.publish_once() == 1
    pending = await pool.fetch("SELECT subject, lease_until FROM outbox WHERE published_at IS NULL")
    assert [(r["subject"], r["lease_until"]) for r in pending] == [(api.OUTBOUND_SMS.subject, None)]
    sender = outbox.OutboxPublisher("sender", pool, js, subjects=(EVENTS_PREFIX, OUTBOUND_PREFIX))
    assert await sender.publish_once() == 1
    assert (await js.stream_info("OUTBOUND")).state.messages == 1
    assert (await js.stream_info("EVENTS")).state.messages == 1
