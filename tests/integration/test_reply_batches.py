"""Inbound's group commit (services/inbound/replies.py) on real NATS and Postgres: replies that
arrive together share one transaction, and each is recorded and acked as if it were alone."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY

from services.inbound.replies import Replies
from shared.contract import catalogue as api
from shared.contract.schemas.messaging import InboundSms
from tests.integration.test_sending_and_replies import (
    SENDING_NUMBER,
    _drained,
    _phone,
    _ready_campaign,
)
from tests.support.baton_client import Baton
from tests.support.services import service_process
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _outcomes() -> dict[str, float]:
    return {
        outcome: _sample("baton_messages_received_total", outcome=outcome)
        for outcome in ("needs_reply", "duplicate", "unmatched", "opt_out")
    }


async def test_replies_arriving_together_share_commits_and_each_is_recorded_as_if_alone(
    assigner: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool, contacts=120)
    phones = [await _phone(pool, conversation) for conversation in c["conversations"]]
    stopping, replying = phones[0], phones[1:]
    messages = [(phone, "Yes!", str(uuid.uuid4())) for phone in replying]
    copy = messages[7]  # the bridge sends one message twice (another Nats-Msg-Id)
    messages += [copy, (stopping, "STOP", str(uuid.uuid4())),
                 ("+12025550199", "who is this?", str(uuid.uuid4())),  # no such contact
                 ("not a phone", "hi", str(uuid.uuid4()))]  # fmt: skip
    before, batches_before = _outcomes(), _sample("baton_reply_batch_size_count")
    dead_before = _sample("baton_consumer_messages_total", consumer="inbound-sms",
                          outcome="dead_lettered")  # fmt: skip
    js = nc.jetstream()
    await asyncio.gather(*(
        js.publish(api.INBOUND_SMS.subject, json.dumps({
            "provider_message_id": provider_id, "from": phone, "to": SENDING_NUMBER,
            "body": body, "received_at": datetime.now(UTC).isoformat()}).encode(),
            headers={"Nats-Msg-Id": str(uuid.uuid4())})
        for phone, body, provider_id in messages
    ))  # fmt: skip
    assert await eventually(lambda: _drained(nc, "INBOUND", "inbound-sms"), within=30)

    after = _outcomes()
    assert {k: after[k] - before[k] for k in after} == {
        "needs_reply": 119, "duplicate": 1, "unmatched": 1, "opt_out": 1}  # fmt: skip
    assert _sample("baton_consumer_messages_total", consumer="inbound-sms",
                   outcome="dead_lettered") - dead_before == 1  # the unreadable number  # fmt: skip
    # Fewer commits than replies: they were batched.
    batches = _sample("baton_reply_batch_size_count") - batches_before
    assert 1 <= batches < 121, batches
    rows = await pool.fetch(
        """SELECT k.phone, v.status, count(m.id) AS texts FROM conversation v
           JOIN contact k ON k.id = v.contact_id
           LEFT JOIN message m ON m.conversation_id = v.id AND m.direction = 'inbound'
           WHERE v.campaign_id = $1 GROUP BY 1, 2""", c["campaign"])  # fmt: skip
    by_phone = {r["phone"]: (r["status"], r["texts"]) for r in rows}
    assert by_phone.pop(stopping) == ("closed", 1)
    assert set(by_phone.values()) == {("needs_reply", 1)} and len(by_phone) == 119
    assert await pool.fetchval(
        "SELECT count(*) FROM unmatched_inbound WHERE from_phone = '+12025550199'"
    ) == 1  # fmt: skip


async def _publish(nc: NatsClient, phone: str, body: str) -> None:
    payload = {"provider_message_id": str(uuid.uuid4()), "from": phone, "to": SENDING_NUMBER,
               "body": body, "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
    await nc.jetstream().publish(api.INBOUND_SMS.subject, json.dumps(payload).encode(),
                                 headers={"Nats-Msg-Id": str(uuid.uuid4())})  # fmt: skip


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize(("first", "last", "opted_out"), [("START", "STOP", True),
                                                           ("STOP", "START", False)])  # fmt: skip
async def test_one_contacts_words_take_effect_in_the_order_they_arrived(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient, database_url: str, nats_url: str,
    tmp_path: Path, first: str, last: str, opted_out: bool, processes: int,
) -> None:  # fmt: skip
    """A backlog (inbound was down) holds each contact's START and the STOP right after it (or
    the reverse) among many others', and one or two inbound processes take it on: the last word
    stands for every contact. Found by outside-in reviews: with concurrent handling 12 to 28 of
    40 contacts came out wrong, and with two processes still 4 to 20 of 55 after an order kept
    in one process. (Inbound runs as processes of their own, started once the backlog is
    there.)"""
    c = await _ready_campaign(assigner, pool, contacts=40)
    phones = [await _phone(pool, conversation) for conversation in c["conversations"]]
    if first == "START":  # everyone opted out first, so their START means something
        await asyncio.gather(*(_publish(nc, phone, "STOP") for phone in phones))
        async with service_process("inbound", database_url, nats_url, tmp_path / "first.log"):
            assert await eventually(lambda: pool.fetchval("SELECT count(*) = 40 FROM opt_out"),
                                    within=30)  # fmt: skip
    for phone in phones:  # each contact's two side by side on the stream
        await _publish(nc, phone, first)
        await _publish(nc, phone, last)
    async with contextlib.AsyncExitStack() as running:
        for n in range(processes):
            await running.enter_async_context(
                service_process("inbound", database_url, nats_url, tmp_path / f"inbound{n}.log")
            )
        assert await eventually(lambda: _caught_up(nc), within=30)
    still_out = await pool.fetchval("SELECT count(*) FROM opt_out")
    assert still_out == (40 if opted_out else 0)


async def test_an_older_word_delivered_again_after_a_newer_one_changes_nothing(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    """A STOP that failed and comes back after the START sent after it was applied (or after a
    crash before its ack) is kept as a message and leaves the contact opted in."""
    c = await _ready_campaign(assigner, pool, contacts=1)
    phone = await _phone(pool, c["conversations"][0])
    replies = Replies(pool, nudge_outbox=lambda: None)

    async def word(body: str, sequence: int) -> None:
        sms = InboundSms(provider_message_id=str(uuid.uuid4()), from_=phone, to=SENDING_NUMBER,
                         body=body)  # fmt: skip
        delivered = SimpleNamespace(metadata=SimpleNamespace(sequence=SimpleNamespace(
            stream=sequence)))  # fmt: skip
        await replies.ingest(sms, delivered)  # type: ignore[arg-type]

    opted_out = "SELECT count(*) FROM opt_out"
    superseded = _sample("baton_messages_received_total", outcome="consent_superseded")
    await word("STOP", 5)
    await word("START", 9)
    await word("STOP", 7)  # older than the START: delivered again, late
    assert await pool.fetchval(opted_out) == 0
    assert _sample("baton_messages_received_total", outcome="consent_superseded") == superseded + 1
    assert await pool.fetchval(
        "SELECT count(*) FROM message WHERE direction = 'inbound' AND body = 'STOP'"
    ) == 2  # fmt: skip
    await word("STOP", 12)  # a new word: it applies
    assert await pool.fetchval(opted_out) == 1


async def test_a_stop_applied_before_the_older_start_it_followed_is_confirmed_once(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    """STOP, START, STOP: the second STOP applied before the START (another process, a
    redelivery) finds the number opted out still and is a repeat; in stream order it was a new
    opt-out, so the START, arriving late, sends its confirmation. Once, and never while the
    contact is opted in."""
    c = await _ready_campaign(assigner, pool, contacts=2)
    replies = Replies(pool, nudge_outbox=lambda: None)

    async def word(phone: str, body: str, sequence: int, provider_id: str | None = None) -> None:
        sms = InboundSms(provider_message_id=provider_id or str(uuid.uuid4()), from_=phone,
                         to=SENDING_NUMBER, body=body)  # fmt: skip
        delivered = SimpleNamespace(metadata=SimpleNamespace(sequence=SimpleNamespace(
            stream=sequence)))  # fmt: skip
        await replies.ingest(sms, delivered)  # type: ignore[arg-type]

    async def confirmations(phone: str) -> int:
        found: int = await pool.fetchval(
            "SELECT count(*) FROM message m JOIN conversation v ON v.id = m.conversation_id"
            " JOIN contact k ON k.id = v.contact_id"
            " WHERE m.kind = 'opt_out_confirmation' AND k.phone = $1", phone,
        )  # fmt: skip
        return found

    async def opted_out(phone: str) -> bool:
        found: bool = await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM opt_out WHERE phone = $1)", phone
        )
        return found

    phone = await _phone(pool, c["conversations"][0])
    await word(phone, "STOP", 5)
    assert await confirmations(phone) == 1
    await word(phone, "START", 2)  # older than the confirmed STOP: nothing owed
    await word(phone, "STOP", 9)  # applied before the START at 7, which has not arrived
    assert await confirmations(phone) == 1
    late = str(uuid.uuid4())
    await word(phone, "START", 7, late)
    assert await confirmations(phone) == 2
    assert await opted_out(phone)  # the STOP was the last word
    await word(phone, "START", 7, late)  # the same START delivered again
    await word(phone, "START", 8)  # another late START: the opt-out since 9 is confirmed
    assert await confirmations(phone) == 2
    confirmation = await pool.fetchrow(
        "SELECT conversation_id, our_number, delivery_status FROM message"
        " WHERE kind = 'opt_out_confirmation' ORDER BY id DESC LIMIT 1"
    )
    assert dict(confirmation) == {
        "conversation_id": c["conversations"][0],
        "our_number": SENDING_NUMBER,
        "delivery_status": "queued",
    }
    # A START applied in its turn after a repeated STOP: the contact is opted in, owed nothing.
    await word(phone, "STOP", 12)  # a repeat (opted out since 9)
    await word(phone, "START", 14)  # applied: opted in
    await word(phone, "START", 11)  # late, but the contact is opted in now
    assert await confirmations(phone) == 2
    assert not await opted_out(phone)

    # START, STOP, START, STOP after a confirmed opt-out, both STOPs applied first: the opt-out
    # the contact is in now began with the last STOP, and is confirmed once, by whichever START
    # comes first; the one between the two STOPs was ended by a START before it was confirmed.
    other = await _phone(pool, c["conversations"][1])
    await word(other, "STOP", 100)
    for sequence, body in ((102, "STOP"), (104, "STOP"), (101, "START"), (103, "START")):
        await word(other, body, sequence)
    assert await confirmations(other) == 2
    assert await opted_out(other)
    for sequence, body in ((106, "STOP"), (108, "STOP"), (107, "START"), (105, "START")):
        await word(other, body, sequence)  # the later START first, this time
    assert await confirmations(other) == 3


async def _caught_up(nc: NatsClient) -> bool:
    """Inbound's consumer exists (the process declares it as it starts) and has nothing left."""
    try:
        return await _drained(nc, "INBOUND", "inbound-sms")
    except NotFoundError:
        return False
