"""The bridge's Twilio webhooks (issue #31), on real NATS and Postgres: requests signed as Twilio
signs them (the simulator signs with the SDK's RequestValidator), and unsigned, wrongly signed,
replayed and oversized ones; what reaches INBOUND, with which Nats-Msg-Id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from prometheus_client import REGISTRY

from services.bridge.service import DEFINITION as BRIDGE
from services.bridge.settings import BridgeSettings
from services.bridge.spool import BATCH, Spool
from shared.contract import catalogue as api
from shared.runtime.jetstream import declare_all
from shared.runtime.settings import CommonSettings
from tests.integration.test_sending_and_replies import _phone, _ready_campaign, _send
from tests.support.baton_client import Baton
from tests.support.bridge import bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.devservers.nats import LocalNats
from tools.devservers.ports import free_port
from tools.simulation.twilio_simulator import TwilioSimulator

pytestmark = pytest.mark.integration
PUBLIC = "https://bridge.example.org/hooks"  # what Twilio was given: a proxy in front


class Inbound:
    """Everything on INBOUND, in stream order."""

    def __init__(self) -> None:
        self.messages: list[Msg] = []

    async def take(self, msg: Msg) -> None:
        self.messages.append(msg)

    def ids(self) -> list[str]:
        return [m.headers["Nats-Msg-Id"] for m in self.messages if m.headers]

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(m.data) for m in self.messages]


async def watch_inbound(nc: NatsClient) -> Inbound:
    found = Inbound()
    await nc.jetstream().subscribe(f"{api.INBOUND_ROOT}.>", stream="INBOUND", cb=found.take)
    return found


def contact_text(sim: TwilioSimulator, sid: str, body: str = "STOP") -> dict[str, str]:
    return {"AccountSid": sim.account_sid, "MessageSid": sid, "SmsSid": sid,
            "From": "+12025550123", "To": "+14155550100", "Body": body, "NumMedia": "0"}  # fmt: skip


def status(sim: TwilioSimulator, sid: str, value: str, code: str | None = None) -> dict[str, str]:
    params = {"AccountSid": sim.account_sid, "MessageSid": sid, "MessageStatus": value,
              "From": "+14155550100", "To": "+12025550123"}  # fmt: skip
    if code:
        params["ErrorCode"] = code
    return params


def rejected(reason: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "baton_bridge_webhook_rejected_total", {"provider": "twilio", "reason": reason}
        )
        or 0.0
    )


@pytest.fixture
async def listener(settings: CommonSettings, simulator: TwilioSimulator) -> AsyncIterator[str]:
    port = free_port()
    own = bridge_settings(settings, simulator, bridge_http_port=port, bridge_public_url=PUBLIC)
    async with running(BRIDGE, own):
        yield f"http://127.0.0.1:{port}"


async def test_signed_texts_and_statuses_reach_inbound_once_and_nothing_else_does(
    listener: str, simulator: TwilioSimulator, nc: NatsClient, pool: asyncpg.Pool
) -> None:
    inbound = await watch_inbound(nc)
    account = simulator.account_sid
    messages, statuses = f"{listener}/twilio/messages", f"{listener}/twilio/status"
    before = {r: rejected(r) for r in ("unsigned", "bad_signature", "too_large")}

    text = contact_text(simulator, "SM1")
    assert await simulator.signed_post(messages, text, f"{PUBLIC}/twilio/messages") == 200
    # Replayed: Twilio's signature has no time, so it is valid again; it is the same message.
    assert await simulator.signed_post(messages, text, f"{PUBLIC}/twilio/messages") == 200
    # Signed over the listener's own URL, not the public one Twilio was given: refused.
    assert await simulator.signed_post(messages, contact_text(simulator, "SM2")) == 403
    # Signed with another token, tampered with, unsigned: refused.
    forger = TwilioSimulator(account_sid=account, auth_token="0" * 32)
    assert await forger.signed_post(messages, contact_text(simulator, "SM3"),
                                    f"{PUBLIC}/twilio/messages") == 403  # fmt: skip
    headers = {"X-Twilio-Signature": simulator.signature(f"{PUBLIC}/twilio/messages", text)}
    async with aiohttp.ClientSession() as http:
        tampered = {**contact_text(simulator, "SM4"), "Body": "START"}
        async with http.post(messages, data=tampered, headers=headers) as answer:
            assert answer.status == 403
        async with http.post(messages, data=contact_text(simulator, "SM5")) as answer:
            assert answer.status == 403
        async with http.post(statuses, data=status(simulator, "SM6", "sent")) as answer:
            assert answer.status == 403
        huge = contact_text(simulator, "SM7", body="x" * 100_000)
        huge_headers = {
            "X-Twilio-Signature": simulator.signature(f"{PUBLIC}/twilio/messages", huge)
        }
        async with http.post(messages, data=huge, headers=huge_headers) as answer:
            assert answer.status == 413

    # Status callbacks: each status its own Nats-Msg-Id, so `delivered` after `sent` is kept.
    # Their texts are the bridge's own (sent before, its attempts say so).
    for message_id, sid in ((8, "SM8"), (9, "SM9")):
        await pool.execute(
            "INSERT INTO bridge_attempt (message_id, provider, account, to_number, state,"
            " provider_message_id) VALUES ($1, 'twilio', $2, '+12025550123', 'sent', $3)",
            message_id, account, f"twilio:{account}:{sid}",
        )  # fmt: skip
    for value, code in (("sent", None), ("delivered", None), ("failed", "30007")):
        sid = "SM9" if value == "failed" else "SM8"
        assert await simulator.signed_post(statuses, status(simulator, sid, value, code),
                                           f"{PUBLIC}/twilio/status") == 204  # fmt: skip

    async def four_arrived() -> bool:
        return len(inbound.messages) >= 4

    assert await eventually(four_arrived)
    await asyncio.sleep(0.5)  # and nothing more behind them
    assert inbound.ids() == [f"twilio:{account}:SM1", f"twilio:{account}:SM8:sent",
                             f"twilio:{account}:SM8:delivered", f"twilio:{account}:SM9:failed"]  # fmt: skip
    first, sent, delivered, failed = inbound.bodies()
    assert (first["provider_message_id"], first["from"], first["to"], first["body"]) == (
        f"twilio:{account}:SM1",
        "+12025550123",
        "+14155550100",
        "STOP",
    )
    assert [sent["status"], delivered["status"], failed["status"]] == [
        "sent",
        "delivered",
        "failed",
    ]
    assert failed["error_code"] == "twilio:30007"
    assert sent["provider_message_id"] == f"twilio:{account}:SM8"
    assert [sent["message_id"], delivered["message_id"], failed["message_id"]] == [8, 8, 9]
    assert await pool.fetchval("SELECT count(*) FROM bridge_spool") == 0
    assert rejected("unsigned") == before["unsigned"] + 2
    assert rejected("bad_signature") == before["bad_signature"] + 3
    assert rejected("too_large") == before["too_large"] + 1


async def test_a_status_before_the_sends_own_record_waits_for_it_and_names_the_message(
    listener: str, simulator: TwilioSimulator, nc: NatsClient, pool: asyncpg.Pool
) -> None:
    """Twilio's `delivered` may overtake the bridge's own record of the send (the call's answer
    is still on its way): it is held in the spool until the record names its message."""
    inbound = await watch_inbound(nc)
    account = simulator.account_sid
    assert await simulator.signed_post(f"{listener}/twilio/status", status(simulator, "SM42", "delivered"),
                                       f"{PUBLIC}/twilio/status") == 204  # fmt: skip
    await asyncio.sleep(1.5)  # the forwarder passes over it a few times
    assert inbound.messages == []
    await pool.execute(
        "INSERT INTO bridge_attempt (message_id, provider, account, to_number, state,"
        " provider_message_id) VALUES (42, 'twilio', $1, '+12025550123', 'sent', $2)",
        account, f"twilio:{account}:SM42",
    )  # fmt: skip

    async def arrived() -> bool:
        return len(inbound.messages) == 1

    assert await eventually(arrived)
    [receipt] = inbound.bodies()
    assert (receipt["message_id"], receipt["status"]) == (42, "delivered")


async def test_held_statuses_never_keep_the_messages_behind_them_waiting(
    listener: str, simulator: TwilioSimulator, nc: NatsClient, pool: asyncpg.Pool
) -> None:
    """More held statuses than the forwarder's batch (statuses for texts whose send is not
    recorded yet, held up to 60 s), then a STOP: the STOP reaches INBOUND at once, and each
    status goes when its send's record names it."""
    inbound = await watch_inbound(nc)
    account = simulator.account_sid
    held = [f"SM{i}" for i in range(BATCH + 5)]
    for sid in held:
        assert await simulator.signed_post(f"{listener}/twilio/status", status(simulator, sid, "delivered"),
                                           f"{PUBLIC}/twilio/status") == 204  # fmt: skip
    assert await simulator.signed_post(f"{listener}/twilio/messages", contact_text(simulator, "SMstop"),
                                       f"{PUBLIC}/twilio/messages") == 200  # fmt: skip

    async def stop_arrived() -> bool:
        return len(inbound.messages) >= 1

    # Well inside the 60 s a held status waits: the STOP did not wait for them.
    assert await eventually(stop_arrived, within=15)
    assert inbound.ids() == [f"twilio:{account}:SMstop"]
    assert await pool.fetchval("SELECT count(*) FROM bridge_spool") == len(held)
    await pool.executemany(
        "INSERT INTO bridge_attempt (message_id, provider, account, to_number, state,"
        " provider_message_id) VALUES ($1, 'twilio', $2, '+12025550123', 'sent', $3)",
        [(i + 1, account, f"twilio:{account}:{sid}") for i, sid in enumerate(held)],
    )

    async def all_arrived() -> bool:
        return len(inbound.messages) >= len(held) + 1

    assert await eventually(all_arrived, within=30)
    # Each status once, in the order they arrived, named by its message.
    assert inbound.ids()[1:] == [f"twilio:{account}:{sid}:delivered" for sid in held]
    assert [b["message_id"] for b in inbound.bodies()[1:]] == list(range(1, len(held) + 1))


async def test_webhooks_are_answered_while_jetstream_is_down_and_forwarded_once_in_order_by_the_next_bridge(
    tmp_path: Path, database_url: str, pool: asyncpg.Pool, simulator: TwilioSimulator
) -> None:
    server = LocalNats(tmp_path / "nats", durable=False)
    url = server.start()
    port = free_port()
    own = bridge_settings(CommonSettings(database_url=database_url, nats_url=url), simulator,
                          bridge_http_port=port, bridge_public_url=PUBLIC)  # fmt: skip
    messages = f"http://127.0.0.1:{port}/twilio/messages"
    bodies = ["Yes!", "STOP", "START", "Who is this?", "STOP"]
    try:
        async with running(BRIDGE, own):
            server.stop()
            for i, body in enumerate(bodies):
                answer = await simulator.signed_post(messages, contact_text(simulator, f"SM{i}", body),
                                                     f"{PUBLIC}/twilio/messages")  # fmt: skip
                assert answer == 200
            # ...and a status callback among them, for a text this bridge sent earlier.
            await pool.execute(
                "INSERT INTO bridge_attempt (message_id, provider, account, to_number, state,"
                " provider_message_id) VALUES (7, 'twilio', $1, '+12025550123', 'sent', $2)",
                simulator.account_sid, f"twilio:{simulator.account_sid}:SM77",
            )  # fmt: skip
            answer = await simulator.signed_post(
                f"http://127.0.0.1:{port}/twilio/status", status(simulator, "SM77", "delivered"),
                f"{PUBLIC}/twilio/status")  # fmt: skip
            assert answer == 204
            assert await pool.fetchval("SELECT count(*) FROM bridge_spool") == len(bodies) + 1
        # That bridge is gone with everything still spooled; JetStream comes back, and so does a
        # bridge (a new process would do the same: the spool is in Postgres).
        server.start()  # same port, same store
        nc = await nats.connect(url)
        try:
            inbound = await watch_inbound(nc)
            async with running(BRIDGE, own):

                async def all_arrived() -> bool:
                    return len(inbound.messages) >= len(bodies) + 1

                assert await eventually(all_arrived, within=60)
                await asyncio.sleep(0.5)
            assert [b.get("body") for b in inbound.bodies()] == [*bodies, None]
            account = simulator.account_sid
            assert inbound.ids() == [
                *(f"twilio:{account}:SM{i}" for i in range(len(bodies))),
                f"twilio:{account}:SM77:delivered",
            ]
            assert inbound.bodies()[-1]["message_id"] == 7
            assert await pool.fetchval("SELECT count(*) FROM bridge_spool") == 0
        finally:
            await nc.close()
    finally:
        server.stop()


async def test_twilios_status_callbacks_reach_the_messages_they_are_about(
    assigner: Baton, sender: Baton, settings: CommonSettings, pool: asyncpg.Pool,
    simulator: TwilioSimulator,
) -> None:  # fmt: skip
    """End to end: the sender's texts through the bridge to the simulator, whose status callbacks
    (to the StatusCallback URL the bridge gave, signed) come back as receipts the sender applies:
    `delivered` for one, `failed` with carrier filtering's code for the other."""
    c = await _ready_campaign(assigner, pool)
    texter, first, second = c["texters"][0], *c["conversations"][:2]
    async with running(BRIDGE, bridge_settings(settings, simulator, bridge_http_port=free_port())):
        sent = [await sender.call(api.SEND_INITIAL, **_send(texter, conversation))
                for conversation in (first, second)]  # fmt: skip

        async def both_sent() -> bool:
            rows = await pool.fetch("SELECT delivery_status FROM message WHERE id = ANY($1)",
                                    [s["message_id"] for s in sent])  # fmt: skip
            return all(r["delivery_status"] == "sent" for r in rows)

        assert await eventually(both_sent, within=30)
        by_phone = {a.to: a for a in simulator.arrivals}
        delivered = by_phone[await _phone(pool, first)]
        filtered = by_phone[await _phone(pool, second)]
        assert await simulator.report(delivered, "delivered") == 204
        assert await simulator.report(filtered, "undelivered", 30007) == 204
        assert await simulator.report(delivered, "sent") == 204  # late: changes nothing

        async def settled() -> bool:
            rows = await pool.fetch("SELECT delivery_status FROM message WHERE id = ANY($1)",
                                    [s["message_id"] for s in sent])  # fmt: skip
            return sorted(r["delivery_status"] for r in rows) == ["delivered", "failed"]

        assert await eventually(settled, within=30)
    rows = {r["id"]: r for r in await pool.fetch(
        "SELECT id, delivery_status, error_code, provider_message_id FROM message"
        " WHERE id = ANY($1)", [s["message_id"] for s in sent])}  # fmt: skip
    account = simulator.account_sid
    assert (rows[sent[0]["message_id"]]["delivery_status"], rows[sent[0]["message_id"]]["provider_message_id"]) == (
        "delivered", f"twilio:{account}:{delivered.sid}")  # fmt: skip
    assert (rows[sent[1]["message_id"]]["delivery_status"], rows[sent[1]["message_id"]]["error_code"]) == (
        "failed", "twilio:30007")  # fmt: skip


async def test_with_postgres_away_a_webhooks_message_goes_straight_to_inbound(
    database_url: str, nc: NatsClient
) -> None:
    """The spool is Postgres; when Postgres cannot be reached, a contact's text is made durable
    on INBOUND itself (the webhook is answered once JetStream acknowledged it). The provider
    calling again with it is a repeat there too: said so, so it is not counted twice."""
    gone = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    await gone.close()  # every query on it now fails as a lost connection does
    await declare_all(nc.jetstream())
    inbound = await watch_inbound(nc)
    spool = Spool(gone, nc.jetstream(), BridgeSettings.bridge_spool_write_timeout_seconds)
    text = json.dumps({"provider_message_id": "twilio:AC1:SM1", "from": "+12025550123",
                       "to": "+14155550100", "body": "STOP"}).encode()  # fmt: skip
    assert await spool.keep(api.INBOUND_SMS.subject, "twilio:AC1:SM1", text) is True
    assert await spool.keep(api.INBOUND_SMS.subject, "twilio:AC1:SM1", text) is False

    async def arrived() -> bool:
        return len(inbound.messages) == 1

    assert await eventually(arrived)
    await asyncio.sleep(0.5)  # and nothing more behind it
    assert inbound.ids() == ["twilio:AC1:SM1"]


async def test_with_postgres_hanging_a_webhooks_message_goes_to_inbound_after_the_write_timeout(
    pool: asyncpg.Pool, nc: NatsClient
) -> None:
    """A Postgres that hangs rather than refuses (here: the spool's table locked by another
    session) does not hold the webhook past the provider's patience: after the spool's short
    write timeout the text is published straight to INBOUND, as when Postgres is away."""
    await declare_all(nc.jetstream())
    inbound = await watch_inbound(nc)
    spool = Spool(pool, nc.jetstream(), write_timeout_seconds=0.5)
    text = json.dumps({"provider_message_id": "twilio:AC1:SM2", "from": "+12025550123",
                       "to": "+14155550100", "body": "STOP"}).encode()  # fmt: skip
    async with pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE bridge_spool IN ACCESS EXCLUSIVE MODE")
        keeping = asyncio.create_task(spool.keep(api.INBOUND_SMS.subject, "twilio:AC1:SM2", text))

        async def arrived() -> bool:
            return len(inbound.messages) == 1

        # Still locked: the text reached INBOUND without Postgres.
        assert await eventually(arrived, within=10)
        assert keeping.done() and keeping.exception() is None
    assert inbound.ids() == ["twilio:AC1:SM2"]


def texts_failed(code: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "baton_bridge_texts_total", {"provider": "twilio", "outcome": "failed", "code": code}
        )
        or 0.0
    )


async def test_failures_reported_by_status_callbacks_are_counted_once(
    listener: str, simulator: TwilioSimulator, nc: NatsClient, pool: asyncpg.Pool
) -> None:
    """Carrier filtering (30007) mostly arrives after the send, as an `undelivered` callback: it
    is counted in baton_bridge_texts_total (the carrier-filtering alert reads it), once however
    often Twilio calls."""
    inbound = await watch_inbound(nc)
    before = texts_failed("twilio:30007")
    account = simulator.account_sid
    await pool.execute(
        "INSERT INTO bridge_attempt (message_id, provider, account, to_number, state,"
        " provider_message_id) VALUES (5, 'twilio', $1, '+12025550123', 'sent', $2)",
        account, f"twilio:{account}:SM5",
    )  # fmt: skip
    for _ in range(2):  # the same callback, twice
        assert await simulator.signed_post(f"{listener}/twilio/status",
                                           status(simulator, "SM5", "undelivered", "30007"),
                                           f"{PUBLIC}/twilio/status") == 204  # fmt: skip

    async def arrived() -> bool:
        return len(inbound.messages) == 1

    assert await eventually(arrived)
    assert inbound.bodies()[0]["error_code"] == "twilio:30007"
    assert texts_failed("twilio:30007") == before + 1


async def _raw(port: int, head: str, body: bytes, stall: bool = False) -> int:
    """One request written on a bare connection (a client may send what aiohttp would not);
    the status line's code back. `stall`: the body is left unfinished."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body[: len(body) // 2 if stall else len(body)])
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()


async def test_webhooks_refuse_other_content_types_large_headers_and_stalled_bodies(
    settings: CommonSettings, simulator: TwilioSimulator, nc: NatsClient, pool: asyncpg.Pool
) -> None:
    port = free_port()
    own = bridge_settings(settings, simulator, bridge_http_port=port, bridge_public_url=PUBLIC,
                          bridge_webhook_body_timeout_seconds=1.0)  # fmt: skip
    before = {r: rejected(r) for r in ("not_a_form", "headers_too_large", "body_stalled")}
    params = contact_text(simulator, "SM1")
    signature = simulator.signature(f"{PUBLIC}/twilio/messages", params)
    body = urlencode(params).encode()

    def head(content_type: str, extra: str = "") -> str:
        return (f"POST /twilio/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"X-Twilio-Signature: {signature}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n{extra}\r\n")  # fmt: skip

    form = "application/x-www-form-urlencoded"
    async with running(BRIDGE, own):
        inbound = await watch_inbound(nc)
        # Signed correctly over the same parameters, but not a form post: not Twilio.
        assert await _raw(port, head("application/json"), body) == 415
        assert await _raw(port, head("text/plain; charset=utf-8"), body) == 415
        # Headers past the documented 16 KiB, arriving in one piece.
        assert await _raw(port, head(form, f"X-Padding: {'p' * 17_000}\r\n"), body) == 431
        # A body that stalls half-way is answered, not held open.
        assert await _raw(port, head(form), body, stall=True) == 408
        # The same request, whole: kept.
        assert await _raw(port, head(form), body) == 200

        async def arrived() -> bool:
            return len(inbound.messages) == 1

        assert await eventually(arrived)
    assert inbound.ids() == [f"twilio:{simulator.account_sid}:SM1"]
    assert rejected("not_a_form") == before["not_a_form"] + 2
    assert rejected("headers_too_large") == before["headers_too_large"] + 1
    assert rejected("body_stalled") == before["body_stalled"] + 1
