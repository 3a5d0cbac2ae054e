"""Issue #30, "Trust, second round": one regression test per finding of the outside review, on
real NATS and Postgres, each also showing that nothing else changed."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from shared import catalogue as api
from tests.integration.test_sending_and_replies import (
    SENDING_NUMBER,
    _drained,
    _phone,
    _ready_campaign,
    _send,
)
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.snapshots import snapshot
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OTHER_NUMBER = "+14155550999"
NOBODYS_NUMBER = "+14155550777"


async def _publish(nc: NatsClient, provider_id: str, phone: str, to: str, body: str) -> None:
    payload = {"provider_message_id": provider_id, "from": phone, "to": to, "body": body,
               "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
    await nc.jetstream().publish(api.INBOUND_SMS.subject, json.dumps(payload).encode(),
                                 headers={"Nats-Msg-Id": str(uuid.uuid4())})  # fmt: skip


def _collisions(table: str) -> float:
    value = REGISTRY.get_sample_value("baton_inbound_id_collisions_total", {"table": table})
    return value or 0.0


async def _settled(nc: NatsClient) -> None:
    await eventually(lambda: _drained(nc, "INBOUND", "inbound-sms"))


async def _other_org_campaign(assigner: Baton, sender: Baton) -> dict[str, Any]:
    """A second organization sending from OTHER_NUMBER to the same phones, its first initial
    sent."""
    c = await campaign_with_texters(assigner, texters=1, contacts=3, batch_size=3,
                                    sending_number=OTHER_NUMBER)  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        texting_hours={"start": 0, "end": 24})  # fmt: skip
    batch = await assigner.call(api.ASSIGN_REQUEST, campaign_id=c["campaign"],
                                as_user=c["texters"][0])  # fmt: skip
    c["conversations"] = batch["conversation_ids"]
    await sender.call(api.SEND_INITIAL, **_send(c["texters"][0], c["conversations"][0]))
    return c


# --- Finding 1: a STOP dropped because another organization's message had its id ---


async def test_a_stop_under_another_organizations_provider_id_is_stored_and_honoured(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    a = await _ready_campaign(assigner, pool)
    await sender.call(api.SEND_INITIAL, **_send(a["texters"][0], a["conversations"][0]))
    a_phone = await _phone(pool, a["conversations"][0])
    await _publish(nc, "p-1", a_phone, SENDING_NUMBER, "hello")
    await _settled(nc)
    a_message = await pool.fetchrow(
        "SELECT * FROM message WHERE direction = 'inbound' AND provider_message_id = 'p-1'"
    )
    assert a_message is not None
    b = await _other_org_campaign(assigner, sender)
    b_conversation = b["conversations"][0]
    b_phone = await _phone(pool, b_conversation)
    collided = _collisions("message")

    await _publish(nc, "p-1", b_phone, OTHER_NUMBER, "STOP")
    await _settled(nc)

    # Stored, under an id of its own, and honoured in organization B only.
    kept = await pool.fetchrow(
        "SELECT conversation_id, body, provider_message_id FROM message"
        " WHERE direction = 'inbound' AND provider_message_id LIKE 'p-1~%'"
    )  # fmt: skip
    assert kept is not None and kept["conversation_id"] == b_conversation
    assert kept["body"] == "STOP"
    assert await pool.fetch("SELECT org_id, phone FROM opt_out") == [(b["org"], b_phone)]
    assert (
        await pool.fetchval("SELECT status FROM conversation WHERE id = $1", b_conversation)
        == "closed"
    )
    assert _collisions("message") == collided + 1
    # Organization A's message and conversation are as they were.
    assert (
        await pool.fetchrow(
            "SELECT * FROM message WHERE direction = 'inbound' AND provider_message_id = 'p-1'"
        )
        == a_message
    )
    assert (
        await pool.fetchval("SELECT status FROM conversation WHERE id = $1", a["conversations"][0])
        == "needs_reply"
    )

    # True repeats of either are still recorded once: nothing at all changes.
    before = await snapshot(pool)
    await _publish(nc, "p-1", b_phone, OTHER_NUMBER, "STOP")
    await _publish(nc, "p-1", a_phone, SENDING_NUMBER, "hello")
    await _settled(nc)
    assert await snapshot(pool) == before
    assert _collisions("message") == collided + 1


async def test_an_unmatched_text_under_a_taken_id_is_kept_and_its_repeat_is_not(
    inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    collided = _collisions("unmatched_inbound")
    await _publish(nc, "u-1", "+12024441003", NOBODYS_NUMBER, "who is this")
    await _settled(nc)
    before = await snapshot(pool, exclude=frozenset({"unmatched_inbound"}))
    await _publish(nc, "u-1", "+12024441004", NOBODYS_NUMBER, "who is this")
    await _publish(nc, "u-1", "+12024441003", NOBODYS_NUMBER, "STOP")
    await _settled(nc)
    rows = await pool.fetch(
        "SELECT provider_message_id, from_phone, body FROM unmatched_inbound ORDER BY id"
    )
    assert [(r["from_phone"], r["body"]) for r in rows] == [
        ("+12024441003", "who is this"), ("+12024441004", "who is this"),
        ("+12024441003", "STOP"),
    ]  # fmt: skip
    assert rows[0]["provider_message_id"] == "u-1"
    assert all(r["provider_message_id"].startswith("u-1~") for r in rows[1:])
    assert _collisions("unmatched_inbound") == collided + 2
    assert await snapshot(pool, exclude=frozenset({"unmatched_inbound"})) == before
    # Each again: a repeat, nothing added.
    for phone, body in (("+12024441003", "who is this"), ("+12024441004", "who is this"),
                        ("+12024441003", "STOP")):  # fmt: skip
        await _publish(nc, "u-1", phone, NOBODYS_NUMBER, body)
    await _settled(nc)
    assert await pool.fetchval("SELECT count(*) FROM unmatched_inbound") == 3
    assert _collisions("unmatched_inbound") == collided + 2
