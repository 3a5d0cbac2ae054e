"""NATS restarted under running services: they reconnect without a restart of their own, pull
consumers resume, and nothing JetStream acknowledged is lost (the store is on disk)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import nats
import pytest

from services.assigner.service import DEFINITION as ASSIGNER
from services.assigner.settings import AssignerSettings
from services.inbound.service import DEFINITION as INBOUND
from services.inbound.settings import InboundSettings
from shared.contract import catalogue as api
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.services import running
from tests.support.waiting import eventually
from tools.devservers.nats import LocalNats

pytestmark = pytest.mark.acceptance
SENDING_NUMBER = "+14155550000"


async def _reply(js: nats.js.JetStreamContext, phone: str) -> None:
    payload = {"provider_message_id": str(uuid.uuid4()), "from": phone, "to": SENDING_NUMBER,
               "body": "yes", "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
    await js.publish(api.INBOUND_SMS.subject, json.dumps(payload).encode())


async def test_services_survive_a_nats_restart(
    tmp_path: Path, database_url: str, pool: asyncpg.Pool
) -> None:
    server = LocalNats(tmp_path / "nats")
    url = server.start()
    common = {"database_url": database_url, "nats_url": url, "db_pool_min": 1}
    try:
        async with (
            running(ASSIGNER, AssignerSettings(**common)),
            running(INBOUND, InboundSettings(**common, fetch_timeout_seconds=0.2)),
        ):
            nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
            baton = Baton(nc)
            c = await campaign_with_texters(
                baton, texters=1, contacts=4, batch_size=4, sending_number=SENDING_NUMBER
            )
            await pool.execute("UPDATE conversation SET status = 'awaiting_reply'")
            phones = [r["phone"] for r in await pool.fetch("SELECT phone FROM contact ORDER BY id")]
            await _reply(nc.jetstream(), phones[0])
            await eventually(
                lambda: pool.fetchval(
                    "SELECT count(*) = 1 FROM conversation WHERE status = 'needs_reply'"
                )
            )

            server.stop()
            await asyncio.sleep(1)
            server.start()  # same port, same store
            await eventually(lambda: _answers(baton, c["campaign"], c["owner"]), within=30)
            await _reply(nc.jetstream(), phones[1])  # the pull consumer resumed
            await eventually(
                lambda: pool.fetchval(
                    "SELECT count(*) = 2 FROM conversation WHERE status = 'needs_reply'"
                ),
                within=30,
            )
            await nc.close()
    finally:
        server.stop()


async def _answers(baton: Baton, campaign: int, owner: int) -> bool:
    try:
        stats = await baton.call(api.CAMPAIGN_STATS, as_user=owner, campaign_id=campaign)
    except Exception:
        return False
    return bool(stats["total"] == 4)
