"""Issue #15: a consumer with work waiting while Postgres is down neither hammers Postgres nor
floods the logs. The issue saw the receipts consumer retry about 550 connections a second and
write 80 MB of logs in 11 minutes; here inbound holds 2,000 texts from the bridge through an
outage, tries them one at a time at growing, jittered intervals (shared/runtime/backoff.py), writes
each repeated line once per window (shared/runtime/log_limiter.py), and stores every text once when
Postgres is back."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import nats
import pytest
from prometheus_client import REGISTRY

from services.inbound.service import DEFINITION as INBOUND
from services.inbound.settings import InboundSettings
from shared.contract import catalogue as api
from shared.runtime.migrations import migrate_database
from tests.support.services import running
from tests.support.waiting import eventually
from tools.devservers.postgres import LocalPostgres

pytestmark = pytest.mark.acceptance

TEXTS = 2_000
DOWN_SECONDS = 12.0
BATCH = 256
CONSUMER = "inbound-sms"


def _tried_while_down() -> float:
    labels = {"consumer": CONSUMER, "outcome": "unavailable"}
    return REGISTRY.get_sample_value("baton_consumer_messages_total", labels) or 0.0


async def _stored(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT provider_message_id FROM unmatched_inbound")
        return [row["provider_message_id"] for row in rows]
    finally:
        await conn.close()


@pytest.mark.timeout(180)
async def test_texts_waiting_out_a_postgres_outage_are_tried_sparingly_and_stored_once(
    nats_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tempfile.TemporaryDirectory(prefix="baton-backoff-")
    postgres = LocalPostgres(Path(folder.name) / "pg", durable=False)
    await asyncio.to_thread(postgres.start)
    nc = await nats.connect(nats_url)
    try:
        await migrate_database(postgres.url)
        settings = InboundSettings(
            database_url=postgres.url, nats_url=nats_url, db_pool_min=1, fetch_batch=BATCH,
            fetch_timeout_seconds=0.2, retry_delay_seconds=0.2,
        )  # fmt: skip
        async with running(INBOUND, settings):
            await asyncio.to_thread(postgres.stop)
            capfd.readouterr()
            tried_before = _tried_while_down()
            js = nc.jetstream()
            sent = [str(uuid.uuid4()) for _ in range(TEXTS)]
            for n, provider_id in enumerate(sent):
                text = {"provider_message_id": provider_id, "from": f"+1415555{n:04d}",
                        "to": "+14155550000", "body": "hello",
                        "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
                await js.publish(api.INBOUND_SMS.subject, json.dumps(text).encode(),
                                 headers={"Nats-Msg-Id": provider_id})  # fmt: skip
            await asyncio.sleep(DOWN_SECONDS)
            tried = _tried_while_down() - tried_before
            lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]

            await asyncio.to_thread(postgres.start)
            stored = await eventually(
                lambda: _at_least(postgres.url, TEXTS), within=60
            )  # the longest wait is 5 s, then batches again
        print(f"outage {DOWN_SECONDS:.0f} s: {tried:.0f} tries, {len(lines)} log lines")
        # At most one batch fails (the first fetch may find fewer texts published yet), then one
        # text at a time at growing intervals: a handful of tries in 12 s, not thousands.
        assert 3 <= tried <= BATCH + 25, tried
        assert len(lines) <= 60, "\n".join(lines[:80])
        repeated = [json.loads(line) for line in lines if '"repeated"' in line]
        events = {json.loads(line)["event"] for line in lines}
        assert "consumer_retry" in events and "consumer_backing_off" in events, events
        assert all(entry["repeated"] >= 1 for entry in repeated)
        assert sorted(stored) == sorted(sent)  # every one, once
    finally:
        await nc.close()
        await asyncio.to_thread(postgres.stop)
        folder.cleanup()


async def _at_least(url: str, count: int) -> list[str] | None:
    stored = await _stored(url)
    return stored if len(stored) >= count else None
