"""The bridge's Telnyx webhooks (issue #31), on real NATS and Postgres: events signed as Telnyx
signs them (Ed25519 over `{timestamp}|{body}`, with the simulator's generated key pair), and
unsigned, wrongly signed, tampered and stale ones; what reaches INBOUND, with which
Nats-Msg-Id."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from nacl.signing import SigningKey
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from services.bridge.service import DEFINITION as BRIDGE
from services.bridge.settings import WEBHOOK_PATIENCE_SECONDS
from shared.contract import catalogue as api
from shared.runtime.settings import CommonSettings
from tests.integration.test_bridge_webhooks import watch_inbound
from tests.integration.test_sending_and_replies import _phone, _ready_campaign, _send
from tests.support.baton_client import Baton
from tests.support.bridge import telnyx_bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.devservers.ports import free_port
from tools.simulation.telnyx_simulator import TelnyxSimulator

pytestmark = pytest.mark.integration
REASONS = ("unsigned", "bad_signature", "stale", "not_json", "too_large")


def rejected(reason: str) -> float:
    labels = {"provider": "telnyx", "reason": reason}
    return REGISTRY.get_sample_value("baton_bridge_webhook_rejected_total", labels) or 0.0


def bypassed(reason: str) -> float:
    labels = {"reason": reason}
    return REGISTRY.get_sample_value("baton_bridge_spool_bypassed_total", labels) or 0.0


@pytest.fixture
async def webhooks(settings: CommonSettings, telnyx: TelnyxSimulator) -> AsyncIterator[str]:
    port = free_port()
    async with running(BRIDGE, telnyx_bridge_settings(settings, telnyx, bridge_http_port=port)):
        yield f"http://127.0.0.1:{port}/telnyx/webhooks"


async def test_signed_events_reach_inbound_once_and_unsigned_forged_or_stale_ones_do_not(
    webhooks: str, telnyx: TelnyxSimulator, nc: NatsClient, pool: asyncpg.Pool
) -> None:
    inbound = await watch_inbound(nc)
    before = {r: rejected(r) for r in REASONS}
    stop = telnyx.received_event("m-1", "+12025550123", "+14155550100", "STOP")
    assert await telnyx.signed_post(webhooks, stop) == 200
    # Replayed inside the window: valid, and the same message, so nothing new.
    assert await telnyx.signed_post(webhooks, stop) == 200
    # Stale: signed correctly, ten minutes ago (past the SDK's 5-minute tolerance).
    old = telnyx.received_event("m-2", "+12025550123", "+14155550100", "START")
    assert await telnyx.signed_post(webhooks, old, timestamp=int(time.time()) - 600) == 403
    # Signed with another key pair: refused.
    forger = TelnyxSimulator(signing_key=SigningKey.generate())
    forged = telnyx.received_event("m-3", "+12025550123", "+14155550100", "START")
    assert await forger.signed_post(webhooks, forged) == 403
    async with aiohttp.ClientSession() as http:
        # Tampered: the signature of one body on another.
        body = json.dumps(telnyx.received_event("m-4", "+12025550123", "+14155550100", "Hi"))
        stamp = str(int(time.time()))
        signed = {"Content-Type": "application/json", "telnyx-timestamp": stamp,
                  "telnyx-signature-ed25519": telnyx.signature(stamp, body.encode())}  # fmt: skip
        tampered = body.replace('"Hi"', '"START"')
        async with http.post(webhooks, data=tampered, headers=signed) as answer:
            assert answer.status == 403
        # Unsigned, or with a timestamp and no signature.
        async with http.post(webhooks, data=body, headers={"Content-Type": "application/json"}) \
                as answer:  # fmt: skip
            assert answer.status == 403
        no_signature = {"Content-Type": "application/json", "telnyx-timestamp": stamp}
        async with http.post(webhooks, data=body, headers=no_signature) as answer:
            assert answer.status == 403
        # Correctly signed, but not JSON as Telnyx sends it.
        async with http.post(webhooks, data=body, headers={**signed, "Content-Type": "text/plain"}) \
                as answer:  # fmt: skip
            assert answer.status == 415
        huge = json.dumps(telnyx.received_event("m-5", "+1202", "+1415", "x" * 100_000)).encode()
        huge_headers = {**signed, "telnyx-signature-ed25519": telnyx.signature(stamp, huge)}
        async with http.post(webhooks, data=huge, headers=huge_headers) as answer:
            assert answer.status == 413

    # Status events for texts this bridge sent (its attempts name them): each status its own
    # Nats-Msg-Id, so `delivered` after `sent` is kept.
    for message_id, provider_id in ((8, "m-8"), (9, "m-9")):
        await pool.execute(
            "INSERT INTO bridge_attempt (message_id, provider, account, to_number, state,"
            " provider_message_id) VALUES ($1, 'telnyx', 'default', '+12025550123', 'sent', $2)",
            message_id, f"telnyx:default:{provider_id}",
        )  # fmt: skip
    assert await telnyx.signed_post(webhooks, telnyx.status_event("m-8", "sent")) == 200
    assert await telnyx.signed_post(webhooks, telnyx.status_event("m-8", "delivered")) == 200
    failed = telnyx.status_event("m-9", "delivery_failed", error_code=40002)
    assert await telnyx.signed_post(webhooks, failed) == 200

    async def four_arrived() -> bool:
        return len(inbound.messages) >= 4

    assert await eventually(four_arrived)
    await asyncio.sleep(0.5)  # and nothing more behind them
    assert inbound.ids() == ["telnyx:default:m-1", "telnyx:default:m-8:sent",
                             "telnyx:default:m-8:delivered",
                             "telnyx:default:m-9:delivery_failed"]  # fmt: skip
    text, sent, delivered, filtered = inbound.bodies()
    assert [m.subject for m in inbound.messages] == [api.INBOUND_SMS.subject] + [
        api.INBOUND_RECEIPT.subject
    ] * 3
    assert (text["provider_message_id"], text["from"], text["to"], text["body"]) == (
        "telnyx:default:m-1", "+12025550123", "+14155550100", "STOP")  # fmt: skip
    assert [sent["status"], delivered["status"], filtered["status"]] == [
        "sent", "delivered", "failed"]  # fmt: skip
    assert [sent["message_id"], delivered["message_id"], filtered["message_id"]] == [8, 8, 9]
    assert filtered["error_code"] == "telnyx:40002"
    assert await pool.fetchval("SELECT count(*) FROM bridge_spool") == 0
    assert rejected("stale") == before["stale"] + 1
    assert rejected("bad_signature") == before["bad_signature"] + 2
    assert rejected("unsigned") == before["unsigned"] + 2
    assert rejected("not_json") == before["not_json"] + 1
    assert rejected("too_large") == before["too_large"] + 1


async def test_telnyx_status_events_reach_the_messages_they_are_about(
    assigner: Baton, sender: Baton, settings: CommonSettings, pool: asyncpg.Pool,
    telnyx: TelnyxSimulator,
) -> None:  # fmt: skip
    """End to end: the sender's texts through the bridge to the simulator, whose status events
    (to the webhook_url the bridge gave with each text, signed) come back as receipts the sender
    applies: `delivered` for one, `failed` with carrier filtering's code for the other."""
    c = await _ready_campaign(assigner, pool)
    texter, first, second = c["texters"][0], *c["conversations"][:2]
    port = free_port()
    own = telnyx_bridge_settings(settings, telnyx, bridge_http_port=port)
    async with running(BRIDGE, own):
        sent = [await sender.call(api.SEND_INITIAL, **_send(texter, conversation))
                for conversation in (first, second)]  # fmt: skip
        ids = [s["message_id"] for s in sent]

        async def statuses() -> list[str]:
            rows = await pool.fetch("SELECT delivery_status FROM message WHERE id = ANY($1)"
                                    " ORDER BY id", ids)  # fmt: skip
            return [r["delivery_status"] for r in rows]

        async def both_sent() -> bool:
            return await statuses() == ["sent", "sent"]

        assert await eventually(both_sent, within=30)
        by_phone = {a.to: a for a in telnyx.arrivals}
        delivered = by_phone[await _phone(pool, first)]
        filtered = by_phone[await _phone(pool, second)]
        assert delivered.webhook_url == f"http://127.0.0.1:{port}/telnyx/webhooks"
        assert await telnyx.report(delivered, "delivered") == 200
        assert await telnyx.report(filtered, "delivery_failed", 40003) == 200
        assert await telnyx.report(delivered, "sent") == 200  # late: changes nothing

        async def settled() -> bool:
            return sorted(await statuses()) == ["delivered", "failed"]

        assert await eventually(settled, within=30)
    rows = {r["id"]: r for r in await pool.fetch(
        "SELECT id, delivery_status, error_code, provider_message_id FROM message"
        " WHERE id = ANY($1)", ids)}  # fmt: skip
    assert (rows[ids[0]]["delivery_status"], rows[ids[0]]["provider_message_id"]) == (
        "delivered", f"telnyx:default:{delivered.id}")  # fmt: skip
    assert (rows[ids[1]]["delivery_status"], rows[ids[1]]["error_code"]) == (
        "failed", "telnyx:40003")  # fmt: skip


async def test_a_contacts_text_through_telnyx_reaches_its_conversation(
    assigner: Baton, sender: Baton, inbound: Baton, settings: CommonSettings,
    pool: asyncpg.Pool, telnyx: TelnyxSimulator,
) -> None:  # fmt: skip
    """A contact's reply, `message.received` at /telnyx/webhooks, is stored in the conversation
    of the number it was sent to, with the namespaced Telnyx id."""
    c = await _ready_campaign(assigner, pool)
    texter, conversation = c["texters"][0], c["conversations"][0]
    port = free_port()
    async with running(BRIDGE, telnyx_bridge_settings(settings, telnyx, bridge_http_port=port)):
        await sender.call(api.SEND_INITIAL, **_send(texter, conversation))

        async def arrived() -> bool:
            return len(telnyx.arrivals) == 1

        assert await eventually(arrived, within=30)
        [first] = telnyx.arrivals
        reply = telnyx.received_event("reply-1", first.to, first.from_, "Who is this?")
        url = f"http://127.0.0.1:{port}/telnyx/webhooks"
        assert await telnyx.signed_post(url, reply) == 200

        async def stored() -> bool:
            return bool(await pool.fetchval(
                "SELECT count(*) FROM message WHERE direction = 'inbound'"
                " AND conversation_id = $1", conversation))  # fmt: skip

        assert await eventually(stored, within=30)
    row = await pool.fetchrow("SELECT body, provider_message_id FROM message"
                              " WHERE direction = 'inbound'")  # fmt: skip
    assert (row["body"], row["provider_message_id"]) == ("Who is this?", "telnyx:default:reply-1")


async def test_with_postgres_hanging_a_telnyx_webhook_is_answered_inside_telnyxs_two_seconds(
    webhooks: str, telnyx: TelnyxSimulator, nc: NatsClient, pool: asyncpg.Pool
) -> None:
    """Telnyx wants a 2xx within 2 s, then tries again and then calls the failover URL. With the
    spool's table locked by another session (a Postgres that hangs rather than refuses), the
    bridge at its default settings answers inside that, and the STOP is on INBOUND before the
    answer, once, however the locked write ends."""
    inbound = await watch_inbound(nc)
    before = bypassed("timeout")
    stop = telnyx.received_event("m-hung", "+12025550123", "+14155550100", "STOP")
    async with pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE bridge_spool IN ACCESS EXCLUSIVE MODE")
        # Telnyx's own patience: past it, the call has failed whatever the answer.
        async with asyncio.timeout(WEBHOOK_PATIENCE_SECONDS["telnyx"]):
            assert await telnyx.signed_post(webhooks, stop) == 200
        kept = await nc.jetstream().get_last_msg("INBOUND", api.INBOUND_SMS.subject)
        assert kept.headers and kept.headers["Nats-Msg-Id"] == "telnyx:default:m-hung"
    assert bypassed("timeout") == before + 1

    async def spool_empty() -> bool:
        return await pool.fetchval("SELECT count(*) FROM bridge_spool") == 0

    # The lock gone, the bridge's forwarder gets its turn; the text is still there once.
    assert await eventually(spool_empty)
    await asyncio.sleep(0.5)
    assert inbound.ids() == ["telnyx:default:m-hung"]
