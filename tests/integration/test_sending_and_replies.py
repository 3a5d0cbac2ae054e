"""Initials out, replies in, opt-outs honoured, each exactly once, on real NATS and Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid
import zoneinfo
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from shared.contract import catalogue as api
from tests.support.baton_client import Baton, campaign_with_texters, request_args
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
SENDING_NUMBER = "+14155550000"


async def _ready_campaign(assigner: Baton, pool: asyncpg.Pool, contacts: int = 5) -> dict[str, Any]:
    c = await campaign_with_texters(assigner, texters=2, contacts=contacts, batch_size=contacts)
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        texting_hours={"start": 0, "end": 24})  # fmt: skip
    await assigner.call(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"],
                        numbers=[SENDING_NUMBER])  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        sending_number=SENDING_NUMBER)  # fmt: skip
    batch = await assigner.call(
        api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=c["texters"][0]
    )
    c["conversations"] = batch["conversation_ids"]
    return c


def _payload(texter: int, conversation: int) -> dict[str, Any]:
    request = _send(texter, conversation)
    del request["as_user"]
    return request


def _send(
    texter: int, conversation: int, key: str | None = None, body: str = "Hi, it's Sam"
) -> dict[str, Any]:
    return {"as_user": texter, "conversation_id": conversation, "body": body,
            "idempotency_key": key or str(uuid.uuid4())}  # fmt: skip


async def _phone(pool: asyncpg.Pool, conversation: int) -> str:
    return str(await pool.fetchval(
        "SELECT k.phone FROM conversation v JOIN contact k ON k.id = v.contact_id WHERE v.id = $1",
        conversation))  # fmt: skip


async def _publish_reply(nc: NatsClient, phone: str, body: str, provider_id: str | None = None,
                         msg_id: str | None = None) -> str:  # fmt: skip
    provider_id = provider_id or str(uuid.uuid4())
    payload = {"provider_message_id": provider_id, "from": phone, "to": SENDING_NUMBER, "body": body,
               "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
    await nc.jetstream().publish(api.INBOUND_SMS.subject, json.dumps(payload).encode(),
                                 headers={"Nats-Msg-Id": msg_id or str(uuid.uuid4())})  # fmt: skip
    return provider_id


async def _drained(nc: NatsClient, stream: str, durable: str) -> bool:
    info = await nc.jetstream().consumer_info(stream, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_an_initial_goes_out_once_even_when_retried(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool)
    texter, conversation = c["texters"][0], c["conversations"][0]
    outbound = await nc.jetstream().subscribe(api.OUTBOUND_SMS.pattern, stream="OUTBOUND")
    request = _send(texter, conversation, key="send-1")
    first = await sender.call(api.SEND_INITIAL, **request)
    again = await sender.call(api.SEND_INITIAL, **request)
    assert again == {**first, "duplicate": True}
    assert (
        await pool.fetchval("SELECT status FROM conversation WHERE id = $1", conversation)
        == "awaiting_reply"
    )
    msg = await outbound.next_msg(timeout=10)
    body = json.loads(msg.data)
    assert body["message_id"] == first["message_id"]
    assert body["to"] == await _phone(pool, conversation)
    assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == str(first["message_id"])
    assert msg.subject == api.OUTBOUND_SMS.at(str(first["message_id"]))  # one text per subject
    with pytest.raises(TimeoutError):
        await outbound.next_msg(timeout=1)  # one message, not two
    assert (
        await sender.error(api.SEND_INITIAL, **_send(texter, conversation))
    ).code == "already_sent"
    assert await eventually(lambda: pool.fetchval("SELECT published_at IS NOT NULL FROM outbox "
                                                  "WHERE subject = $1", api.OUTBOUND_SMS.subject))  # fmt: skip


async def test_every_send_refusal(assigner: Baton, sender: Baton, pool: asyncpg.Pool) -> None:
    c = await _ready_campaign(assigner, pool)
    texter, other = c["texters"]
    first, second, third, fourth = c["conversations"][:4]
    # Moved away: the texter is told, nothing is sent (seed 002's Chris, from the other side).
    await assigner.call(api.MOVE, as_user=c["owner"], conversation_id=first, to_texter_id=other)
    assert (
        await sender.error(api.SEND_INITIAL, **_send(texter, first))
    ).code == "assignment_changed"
    # Opted out in the organization.
    await pool.execute(
        "INSERT INTO opt_out (org_id, phone) VALUES ($1, $2)", c["org"], await _phone(pool, second)
    )
    assert (await sender.error(api.SEND_INITIAL, **_send(texter, second))).code == "opted_out"
    # A reply before the initial.
    assert (await sender.error(api.SEND_REPLY, **_send(texter, third))).code == "initial_not_sent"
    # Outside texting hours where the contact is (San Francisco numbers).
    hour = datetime.now(zoneinfo.ZoneInfo("America/Los_Angeles")).hour
    hours = {"start": hour + 1, "end": 24} if hour < 23 else {"start": 0, "end": 23}
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        texting_hours=hours)  # fmt: skip
    refusal = await sender.error(api.SEND_INITIAL, **_send(texter, fourth))
    assert refusal.code == "outside_texting_hours"
    assert "America/Los_Angeles" in refusal.message
    # The same key on another conversation is a mistake, not a retry.
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        texting_hours={"start": 0, "end": 24})  # fmt: skip
    await sender.call(api.SEND_INITIAL, **_send(texter, fourth, key="k"))
    assert (
        await sender.error(api.SEND_INITIAL, **_send(texter, third, key="k"))
    ).code == "idempotency_key_reused"
    assert await pool.fetchval("SELECT count(*) FROM message") == 1


async def test_replies_flip_to_needs_reply_once_and_answers_stop_the_clock(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool)
    texter, conversation = c["texters"][0], c["conversations"][0]
    await sender.call(api.SEND_INITIAL, **_send(texter, conversation))
    phone = await _phone(pool, conversation)
    # The same provider message delivered twice (past the stream's dedupe): one message, one flip.
    provider_id = await _publish_reply(nc, phone, "Yes, count me in")
    await _publish_reply(nc, phone, "Yes, count me in", provider_id=provider_id)
    row = await eventually(lambda: pool.fetchrow(
        "SELECT status, needs_reply_since FROM conversation WHERE id = $1 AND status = 'needs_reply'",
        conversation))  # fmt: skip
    await eventually(lambda: _drained(nc, "INBOUND", "inbound-sms"))  # both deliveries handled
    await _publish_reply(nc, phone, "Hello?")  # a second message keeps the first time
    await eventually(lambda: pool.fetchval("SELECT count(*) = 3 FROM message"))
    inbound_count = await pool.fetchval("SELECT count(*) FROM message WHERE direction = 'inbound'")
    assert inbound_count == 2
    assert (
        await pool.fetchval(
            "SELECT needs_reply_since FROM conversation WHERE id = $1", conversation
        )
        == row["needs_reply_since"]
    )
    await sender.call(api.SEND_REPLY, **_send(texter, conversation, body="Great, thanks!"))
    after = await pool.fetchrow(
        "SELECT status, needs_reply_since FROM conversation WHERE id = $1", conversation
    )
    assert (after["status"], after["needs_reply_since"]) == ("replied", None)


async def test_unknown_numbers_and_garbage_are_kept_never_dropped(
    assigner: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    await _ready_campaign(assigner, pool)
    js = nc.jetstream()
    await _publish_reply(nc, "+16505550123", "who is this?", provider_id="p-unknown")
    await js.publish(api.INBOUND_SMS.subject, b"{not json", headers={"Nats-Msg-Id": "garbage-1"})
    await js.publish(api.INBOUND_SMS.subject, json.dumps({"provider_message_id": "p-bad", "from": "12",
                     "to": SENDING_NUMBER, "body": "x", "received_at": "2026-01-01T00:00:00Z"}).encode())  # fmt: skip
    unmatched = await eventually(lambda: pool.fetchrow("SELECT * FROM unmatched_inbound"))
    assert unmatched["provider_message_id"] == "p-unknown"
    dead = await js.subscribe(api.DEAD_LETTERS.at("inbound"), stream="DEADLETTER")
    letters = [json.loads((await dead.next_msg(timeout=10)).data) for _ in range(2)]
    reasons = sorted(letter["reason"].split(":")[0] for letter in letters)
    assert reasons == ["bad_request", "unparseable"]
    assert {letter["payload"] for letter in letters} >= {"{not json"}
    # ...and the consumer keeps going.
    await _publish_reply(nc, "+16505550124", "still there?", provider_id="p-after")
    await eventually(lambda: pool.fetchval("SELECT count(*) = 2 FROM unmatched_inbound"))


async def test_stop_opts_out_across_the_organization_and_wins_races_with_sends(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool, contacts=20)
    texter = c["texters"][0]
    # The same number is also a contact of a second campaign of the organization.
    first_phone = await _phone(pool, c["conversations"][0])
    other_campaign = (await assigner.call(api.CAMPAIGN_CREATE, as_user=c["owner"], org_id=c["org"],
                                          title="Second"))["campaign_id"]  # fmt: skip
    await assigner.call(api.CONTACTS_IMPORT, as_user=c["owner"], campaign_id=other_campaign,
                        contacts=[{"phone": first_phone}])  # fmt: skip
    # Half the conversations get their initial, then every contact says STOP while the texter
    # sends to all of them at once.
    for conversation in c["conversations"][:10]:
        await sender.call(api.SEND_INITIAL, **_send(texter, conversation))
    phones = [await _phone(pool, cid) for cid in c["conversations"]]
    sends = [sender.nc.request(api.SEND_INITIAL.subject if i >= 10 else api.SEND_REPLY.subject,
                               timeout=10, **request_args(texter, _payload(texter, cid)))
             for i, cid in enumerate(c["conversations"])]  # fmt: skip
    stops = [_publish_reply(nc, phone, "  stop ") for phone in phones]
    replies = await asyncio.gather(*sends, *stops)
    outcomes = [json.loads(r.data) for r in replies[:20]]
    assert all(o["ok"] or o["error"]["code"] == "opted_out" for o in outcomes), outcomes
    await eventually(lambda: pool.fetchval("SELECT count(*) = 20 FROM opt_out"))
    closed = await pool.fetchval("SELECT count(*) FROM conversation WHERE status = 'closed'")
    assert closed == 21  # the other campaign's conversation with the first number too
    # Every message the sender accepted is one it said ok to; after STOP, nothing more goes out
    # but each contact's one confirmation.
    accepted = sum(1 for o in outcomes if o["ok"]) + 10
    sent = dict(await pool.fetch("SELECT kind = 'opt_out_confirmation', count(*) FROM message"
                                 " WHERE direction = 'outbound' GROUP BY 1"))  # fmt: skip
    assert sent == {False: accepted, True: 20}
    for cid in c["conversations"]:
        assert (await sender.error(api.SEND_REPLY, **_send(texter, cid))).code == "opted_out"
    # And opted-out numbers are never handed out again: the other campaign, live, has none to give.
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=other_campaign,
                        status="active", self_assign=True)  # fmt: skip
    await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=c["owner"],
                        campaign_id=other_campaign, user_ids=[texter])  # fmt: skip
    assert (await assigner.error(api.ASSIGN_REQUEST, campaign_id=other_campaign,
                                 as_user=texter)).code == "no_more_conversations"  # fmt: skip


async def test_a_redelivery_after_a_crash_between_commit_and_ack_changes_nothing(
    pool: asyncpg.Pool,
) -> None:
    """The handler runs twice for one message, as after a crash between commit and ack."""
    from services.inbound.replies import Replies
    from shared.contract.schemas.messaging import InboundSms

    org = await pool.fetchval("INSERT INTO organization (name) VALUES ('o') RETURNING id")
    await pool.execute("INSERT INTO sending_number VALUES ($1, $2)", SENDING_NUMBER, org)
    campaign = await pool.fetchval(
        "INSERT INTO campaign (org_id, title, batch_size, status) VALUES ($1, 'c', 10, 'active') RETURNING id",
        org,
    )
    contact = await pool.fetchval(
        "INSERT INTO contact (campaign_id, phone) VALUES ($1, '+14155550111') RETURNING id",
        campaign,
    )
    conversation = await pool.fetchval(
        "INSERT INTO conversation (campaign_id, contact_id, status) VALUES ($1, $2, 'awaiting_reply') RETURNING id",
        campaign, contact,
    )  # fmt: skip
    sms = InboundSms(provider_message_id="p-1", from_="+14155550111", to=SENDING_NUMBER, body="yes",
                     received_at=datetime(2026, 5, 1, 12, 0, tzinfo=UTC))  # fmt: skip
    replies = Replies(pool, nudge_outbox=lambda: None)
    await replies.ingest(sms, None)
    since = await pool.fetchval(
        "SELECT needs_reply_since FROM conversation WHERE id = $1", conversation
    )
    await pool.execute("UPDATE conversation SET status = 'replied', needs_reply_since = NULL WHERE id = $1",
                       conversation)  # fmt: skip
    await replies.ingest(sms, None)
    assert await pool.fetchval("SELECT count(*) FROM message") == 1
    assert since is not None  # Baton's time; the provider's is kept on the message
    assert await pool.fetchval("SELECT provider_received_at FROM message") == datetime(
        2026, 5, 1, 12, 0, tzinfo=UTC
    )
    # The redelivery did not reopen a conversation we have since answered.
    assert (
        await pool.fetchval("SELECT status FROM conversation WHERE id = $1", conversation)
        == "replied"
    )


async def test_receipts_update_delivery_and_failed_initials_show_in_stats(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool)
    texter = c["texters"][0]
    ok = await sender.call(api.SEND_INITIAL, **_send(texter, c["conversations"][0]))
    bad = await sender.call(api.SEND_INITIAL, **_send(texter, c["conversations"][1]))
    js = nc.jetstream()
    await js.publish(api.INBOUND_RECEIPT.subject, json.dumps({"message_id": ok["message_id"], "status": "sent",
                     "provider_message_id": "prov-1"}).encode())  # fmt: skip
    await js.publish(api.INBOUND_RECEIPT.subject, json.dumps({"provider_message_id": "prov-1",
                     "status": "delivered"}).encode())  # fmt: skip
    await js.publish(api.INBOUND_RECEIPT.subject, json.dumps({"message_id": bad["message_id"], "status": "failed",
                     "error_code": "30006"}).encode())  # fmt: skip
    await eventually(lambda: pool.fetchval(
        "SELECT count(*) = 2 FROM message WHERE delivery_status IN ('delivered', 'failed')"))  # fmt: skip
    # A late "sent" never takes "delivered" back.
    await js.publish(
        api.INBOUND_RECEIPT.subject,
        json.dumps({"message_id": ok["message_id"], "status": "sent"}).encode(),
    )
    stats = await eventually(
        lambda: assigner.call(api.CAMPAIGN_STATS, as_user=c["owner"], campaign_id=c["campaign"])
    )
    assert stats["failed_initials"] == 1
    assert (
        await pool.fetchval("SELECT error_code FROM message WHERE id = $1", bad["message_id"])
        == "30006"
    )
    await asyncio.sleep(0.5)
    assert (
        await pool.fetchval("SELECT delivery_status FROM message WHERE id = $1", ok["message_id"])
        == "delivered"
    )


async def test_done_texting_releases_unanswered_replies(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> None:
    c = await _ready_campaign(assigner, pool)
    texter = c["texters"][0]
    first, second = c["conversations"][:2]
    await pool.execute(
        "UPDATE conversation SET status = 'needs_reply', needs_reply_since = now() WHERE id = ANY($1)",
        [first, second],
    )
    released = await assigner.call(api.RELEASE, as_user=texter, campaign_id=c["campaign"])
    assert released["per_texter"] == {"unassigned": 2}
    reasons = await pool.fetch("SELECT DISTINCT reason FROM assignment_move WHERE conversation_id = ANY($1)",
                               [first, second])  # fmt: skip
    assert {r["reason"] for r in reasons} == {"self_assign", "done_texting"}
    other = c["texters"][1]
    batch = await assigner.call(
        api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=other, kind="replies"
    )
    assert sorted(batch["conversation_ids"]) == sorted([first, second])
