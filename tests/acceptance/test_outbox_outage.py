"""Issue #15: Postgres killed and kept down longer than the streams' duplicate window while outbox
rows were published but not yet marked. When it comes back the leases have run out and the rows
are published again, after `Nats-Msg-Id` deduplication has forgotten them: OUTBOUND and EVENTS
must still hold each message exactly once.

Real servers of the test's own, so it can stop them: Postgres is killed (SIGQUIT, its immediate
shutdown: every backend exits at once, recovery at the next start) and nats-server is frozen
(SIGSTOP) for the instant between the publish and its answer, which is how the publisher is caught
with rows published but not marked. The duplicate window is 2 s here instead of 120 s, and the
lease 1 s instead of 30 s, to keep the test short; Postgres stays down 3 windows.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js import JetStreamContext
from prometheus_client import REGISTRY

from shared.contract import catalogue as api
from shared.runtime import outbox
from shared.runtime.jetstream import EVENTS, OUTBOUND, declare_all
from shared.runtime.migrations import migrate_database
from tests.support.waiting import eventually
from tools.devservers.nats import LocalNats
from tools.devservers.postgres import LocalPostgres

pytestmark = pytest.mark.acceptance

WINDOW_SECONDS = 2.0
DOWN_SECONDS = 3 * WINDOW_SECONDS
TEXTS = 127  # as many as the issue saw sent twice
SERVICE = "outage-test"
# Events too: the same outbox, the same guarantee. Provider ids that are no subject token (a dot,
# a space, a wildcard) are encoded into one.
EVENT_IDS = [f"00000000-0000-0000-0000-00000000000{n}" for n in range(5)] + [
    "consent:prov.1 x",
    "consent:*>",
    "consent:ünïcode",
]


async def _count(url: str, query: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def _messages(js: JetStreamContext, subjects: str, total: int) -> list[nats.aio.msg.Msg]:
    sub = await js.subscribe(subjects, ordered_consumer=True)
    try:
        return [await sub.next_msg(timeout=5) for _ in range(total)]
    finally:
        await sub.unsubscribe()


def _already_on_stream() -> float:
    value = REGISTRY.get_sample_value("baton_outbox_already_on_stream_total", {"service": SERVICE})
    return value or 0.0


@pytest.mark.timeout(120)
async def test_rows_published_before_a_long_postgres_outage_are_on_the_streams_once(
    tmp_path: Path,
) -> None:
    # Postgres runs as its own user, which must reach its folder at the restart too: outside
    # pytest's tree, which another pytest session starting meanwhile makes private (0700).
    folder = tempfile.TemporaryDirectory(prefix="baton-outage-")
    postgres = LocalPostgres(Path(folder.name) / "pg")
    nats_server = LocalNats(tmp_path / "nats", durable=False)
    await asyncio.to_thread(postgres.start)
    await asyncio.to_thread(nats_server.start)
    nc = await nats.connect(nats_server.url)
    pool: asyncpg.Pool | None = None
    stop = asyncio.Event()
    try:
        await migrate_database(postgres.url)
        js = nc.jetstream()
        await declare_all(js, tuple(replace(spec, duplicate_window_seconds=WINDOW_SECONDS)
                                    for spec in (OUTBOUND, EVENTS)))  # fmt: skip
        pool = await asyncpg.create_pool(postgres.url, min_size=1, max_size=4)
        assert pool is not None
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue_many(conn, [
                (api.OUTBOUND_SMS.subject, str(n), json.dumps({"message_id": n}).encode())
                for n in range(1, TEXTS + 1)
            ] + [(api.CONVERSATIONS_ASSIGNED.subject, e, b"{}") for e in EVENT_IDS])  # fmt: skip
        rows = TEXTS + len(EVENT_IDS)
        already_before = _already_on_stream()

        # NATS frozen: the publisher leases every row and sends them, and waits for answers.
        os.kill(nats_server.pid or 0, signal.SIGSTOP)
        publisher = outbox.OutboxPublisher(SERVICE, pool, js, poll_seconds=0.1, lease_seconds=1)
        running = asyncio.create_task(publisher.run(stop))
        await eventually(lambda: _leased(postgres.url, rows), within=10)
        # Postgres killed; then NATS answers: the rows are on the streams, and cannot be marked.
        os.kill(postgres.pid or 0, signal.SIGQUIT)
        await asyncio.to_thread(postgres.stop)
        os.kill(nats_server.pid or 0, signal.SIGCONT)
        await eventually(lambda: _on_streams(js, rows), within=10)
        published_at = time.time()
        await asyncio.sleep(DOWN_SECONDS)  # down 3 duplicate windows
        await asyncio.to_thread(postgres.start)

        pending = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        await eventually(lambda: _none(postgres.url, pending), within=30)
        stop.set()
        await running

        # Every row was sent again, long after the window; the stream refused every copy.
        assert _already_on_stream() - already_before == rows
        late = await _count(postgres.url, "SELECT count(*) FROM outbox WHERE published_at "
                            f"> to_timestamp({published_at + WINDOW_SECONDS})")  # fmt: skip
        assert late == rows
        texts = await _messages(js, api.OUTBOUND_SMS.pattern, TEXTS)
        assert (await js.stream_info("OUTBOUND")).state.messages == TEXTS
        assert sorted(int(m.headers["Nats-Msg-Id"]) for m in texts if m.headers) == list(
            range(1, TEXTS + 1)
        )
        assert all(m.subject == api.OUTBOUND_SMS.at(m.headers["Nats-Msg-Id"])
                   for m in texts if m.headers)  # fmt: skip
        events = await _messages(js, f"{api.EVENTS_ROOT}.>", len(EVENT_IDS))
        assert (await js.stream_info("EVENTS")).state.messages == len(EVENT_IDS)
        assert sorted(m.headers["Nats-Msg-Id"] for m in events if m.headers) == sorted(EVENT_IDS)
        assert len({m.subject for m in events}) == len(EVENT_IDS)
        # And what is there is the first copy, stored before the outage.
        assert max(datetime.timestamp(m.metadata.timestamp) for m in texts + events) < published_at

        # The control: past the window, Nats-Msg-Id alone no longer stops a copy. It is what
        # the issue saw, and what the subject guard above refused 127 times.
        copy = await js.publish(api.OUTBOUND_SMS.at("1"), b"{}", headers={"Nats-Msg-Id": "1"})
        assert not copy.duplicate
        assert (await js.stream_info("OUTBOUND")).state.messages == TEXTS + 1
    finally:
        stop.set()
        if pool is not None:
            await pool.close()
        await nc.close()
        await asyncio.to_thread(nats_server.stop)
        await asyncio.to_thread(postgres.stop)
        folder.cleanup()


async def _leased(url: str, rows: int) -> bool:
    return await _count(url, "SELECT count(*) FROM outbox WHERE lease_until IS NOT NULL") == rows


async def _none(url: str, query: str) -> bool:
    return await _count(url, query) == 0


async def _on_streams(js: JetStreamContext, rows: int) -> bool:
    outbound = (await js.stream_info("OUTBOUND")).state.messages
    events = (await js.stream_info("EVENTS")).state.messages
    return outbound + events == rows
