"""What the SMS bridge sends, taken at the edge (issue #14): text Postgres cannot store, the
release clock on Baton's time, and a NUL in a request, each on real NATS and Postgres."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from services.reaper.releasing import Releaser
from shared.contract import catalogue as api
from tests.integration.test_sending_and_replies import (
    SENDING_NUMBER,
    _drained,
    _phone,
    _ready_campaign,
    _send,
)
from tests.support.baton_client import Baton, auth_headers
from tests.support.snapshots import snapshot
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def _publish(nc: NatsClient, **fields: Any) -> str:
    provider_id = fields.pop("provider_message_id", None) or str(uuid.uuid4())
    payload = {"provider_message_id": provider_id, "to": SENDING_NUMBER,
               "received_at": datetime.now(UTC).isoformat(), **fields}  # fmt: skip
    await nc.jetstream().publish(api.INBOUND_SMS.subject, json.dumps(payload).encode(),
                                 headers={"Nats-Msg-Id": str(uuid.uuid4())})  # fmt: skip
    return provider_id


def _retried() -> float:
    """Deliveries put back, for a failure or an outage."""
    return sum(
        REGISTRY.get_sample_value(
            "baton_consumer_messages_total", {"consumer": "inbound-sms", "outcome": outcome}
        )
        or 0.0
        for outcome in ("retried", "unavailable")
    )


@pytest.mark.parametrize("provider_age", [timedelta(hours=2), timedelta(days=-3652)],
                         ids=["two-hours-old", "ten-years-ahead"])  # fmt: skip
async def test_the_release_clock_starts_when_baton_records_the_reply(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient,
    provider_age: timedelta,
) -> None:  # fmt: skip
    c = await _ready_campaign(assigner, pool)
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        release_unhandled_after_minutes=30)  # fmt: skip
    first, second = c["conversations"][:2]
    for conversation in (first, second):
        await sender.call(api.SEND_INITIAL, **_send(c["texters"][0], conversation))
    provider_time = datetime.now(UTC) - provider_age
    await _publish(nc, **{"from": await _phone(pool, first), "body": "yes",
                          "received_at": provider_time.isoformat()})  # fmt: skip
    row = await eventually(lambda: pool.fetchrow(
        "SELECT needs_reply_since, now() AS db_now FROM conversation WHERE id = $1"
        " AND status = 'needs_reply'", first))  # fmt: skip
    # Baton's time, not the provider's; the provider's is kept on the message.
    assert abs(row["db_now"] - row["needs_reply_since"]) < timedelta(seconds=30)
    kept = await pool.fetchrow("SELECT created_at, provider_received_at FROM message"
                               " WHERE direction = 'inbound'")  # fmt: skip
    assert abs(kept["provider_received_at"] - provider_time) < timedelta(milliseconds=1)
    assert abs(kept["created_at"] - row["needs_reply_since"]) < timedelta(seconds=1)
    # A reaper pass now releases nothing: 30 minutes have not passed on Baton's clock...
    assert await Releaser(pool, _NoNudge()).pass_once() == 0  # type: ignore[arg-type]
    # ...and 31 minutes on it releases it, whatever the provider's clock said.
    later = Releaser(pool, _NoNudge(), clock=lambda: datetime.now(UTC) + timedelta(minutes=31))  # type: ignore[arg-type]
    assert await later.pass_once() == 1
    assert await pool.fetchval("SELECT assignee_id FROM conversation WHERE id = $1", first) is None
    # The replies pool orders by Baton's time: a reply recorded after it sorts after it.
    await _publish(nc, **{"from": await _phone(pool, second), "body": "me too"})
    await eventually(lambda: pool.fetchval(
        "SELECT status = 'needs_reply' FROM conversation WHERE id = $1", second))  # fmt: skip
    await pool.execute("UPDATE conversation SET assignee_id = NULL WHERE id = $1", second)
    batch = await assigner.call(api.ASSIGN_REQUEST, as_user=c["texters"][1],
                                campaign_id=c["campaign"], kind="replies")  # fmt: skip
    assert batch["conversation_ids"][:2] == [first, second]


class _NoNudge:
    def nudge(self) -> None:
        """The outbox publisher is not running here; the rows wait in the table."""


async def test_a_stop_wrapped_in_nul_is_honoured_and_the_body_stored_without_it(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool)
    conversation = c["conversations"][0]
    await sender.call(api.SEND_INITIAL, **_send(c["texters"][0], conversation))
    retried = _retried()
    await _publish(nc, **{"from": await _phone(pool, conversation), "body": "STOP\u0000",
                          "to": SENDING_NUMBER + "\u0000"})  # fmt: skip
    await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM opt_out"))
    body = await pool.fetchval("SELECT body FROM message WHERE direction = 'inbound'")
    assert body == "STOP"
    refusal = await sender.error(api.SEND_REPLY, **_send(c["texters"][0], conversation))
    assert refusal.code == "opted_out"
    assert _retried() == retried  # handled on the first delivery


@pytest.mark.parametrize(
    "received_at",
    ["n/a", "", {"at": 1}, True, "2026-12-03 14:00", "0001-01-01T00:00:00+05:00",
     "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00Z", -62135596800],
    ids=["words", "empty", "object", "boolean", "no-zone", "before-year-1-in-utc",
         "after-year-9999-in-utc", "python-first-instant", "python-first-instant-epoch"],
)  # fmt: skip
async def test_a_stop_is_honoured_whatever_its_received_at_holds(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient,
    received_at: Any,
) -> None:  # fmt: skip
    """`received_at` is only kept for the record: a value Baton cannot read is kept as no time
    (or, naming no zone, as UTC), never a reason to dead-letter the STOP."""
    c = await _ready_campaign(assigner, pool)
    conversation = c["conversations"][0]
    await sender.call(api.SEND_INITIAL, **_send(c["texters"][0], conversation))
    await _publish(nc, **{"from": await _phone(pool, conversation), "body": "STOP",
                          "received_at": received_at})  # fmt: skip
    await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM opt_out"))
    kept = await pool.fetchval(
        "SELECT provider_received_at FROM message WHERE direction = 'inbound'"
    )
    assert (kept is not None) == (received_at == "2026-12-03 14:00")
    refusal = await sender.error(api.SEND_REPLY, **_send(c["texters"][0], conversation))
    assert refusal.code == "opted_out"


async def test_a_provider_id_postgres_cannot_store_is_dead_lettered_at_once(
    assigner: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool)
    before, retried = await snapshot(pool), _retried()
    dead = await nc.jetstream().subscribe(api.DEAD_LETTERS.at("inbound"), stream="DEADLETTER")
    await _publish(nc, **{"provider_message_id": "p-\u0000", "body": "yes",
                          "from": await _phone(pool, c["conversations"][0])})  # fmt: skip
    letter = json.loads((await dead.next_msg(timeout=15)).data)
    assert letter["reason"] == "bad_request: `provider_message_id` holds a NUL"
    await eventually(lambda: _drained(nc, "INBOUND", "inbound-sms"))
    assert _retried() == retried
    assert await snapshot(pool) == before


async def test_a_request_string_postgres_cannot_store_is_a_bad_request_naming_the_field(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await _ready_campaign(assigner, pool)
    before = await snapshot(pool)

    async def refused(subject: str, **payload: Any) -> dict[str, Any]:
        # json.dumps, not msgspec: only an escape (\u0000, \ud800) can carry these in JSON.
        reply = await assigner.nc.request(subject, json.dumps(payload).encode(), timeout=10,
                                          headers=auth_headers(c["owner"]))  # fmt: skip
        error: dict[str, Any] = json.loads(reply.data)["error"]
        return error

    error = await refused(api.CAMPAIGN_CREATE.subject, org_id=c["org"], title="Rally\u0000")
    assert (error["code"], error["details"]) == ("bad_request", {"field": "title"})
    error = await refused(
        api.CONTACTS_IMPORT.subject, campaign_id=c["campaign"],
        contacts=[{"phone": "+16505550100"},
                  {"phone": "+16505550101", "fields": {"note": "a\u0000b"}}],
    )  # fmt: skip
    assert (error["code"], error["details"]) == (
        "bad_request",
        {"field": "contacts[1].fields.note"},
    )
    # A lone surrogate is not JSON msgspec will decode at all: refused before any field is read.
    error = await refused(api.CAMPAIGN_CREATE.subject, org_id=c["org"], title="\ud800")
    assert error["code"] == "bad_request"
    assert await snapshot(pool) == before


async def test_stop_then_start_opts_out_and_back_in_with_an_event_each(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool)
    texter, (conversation, other) = c["texters"][0], c["conversations"][:2]
    await sender.call(api.SEND_INITIAL, **_send(texter, conversation))
    phone = await _phone(pool, conversation)
    events = await nc.jetstream().subscribe(f"{api.EVENTS_ROOT}.contact.>", stream="EVENTS")
    # "START" from a number that never opted out is an ordinary reply.
    await _publish(nc, **{"from": await _phone(pool, other), "body": "start"})
    await _publish(nc, **{"from": phone, "body": "Please stop texting me"})
    await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM opt_out"))
    assert (await sender.error(api.SEND_REPLY, **_send(texter, conversation))).code == "opted_out"
    await _publish(nc, **{"from": phone, "body": "UNSTOP"})
    await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM opt_out"))
    row = await pool.fetchrow("SELECT status, needs_reply_since FROM conversation WHERE id = $1",
                              conversation)  # fmt: skip
    assert row["status"] == "needs_reply" and row["needs_reply_since"] is not None
    await sender.call(api.SEND_REPLY, **_send(texter, conversation, body="Welcome back"))
    received = [await events.next_msg(timeout=15) for _ in range(2)]
    # One event per subject, its id last (shared/runtime/outbox.py).
    assert [m.subject.rsplit(".", 1)[0] for m in received] == [api.CONTACT_OPTED_OUT.subject,
                                                               api.CONTACT_OPTED_IN.subject]  # fmt: skip
    assert [json.loads(m.data)["conversation_id"] for m in received] == [conversation] * 2
    assert (
        await pool.fetchval("SELECT status FROM conversation WHERE id = $1", other) == "needs_reply"
    )  # its START was just a reply
