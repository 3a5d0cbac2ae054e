"""Postgres connections killed under running requests (pg_terminate_backend, every few
milliseconds): every answer is ok, a refusal or `unavailable`, never `internal` and never a
timeout, and a retry with the same idempotency key returns what was committed, once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from typing import Any

import asyncpg
import msgspec
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from services.assigner.service import DEFINITION as ASSIGNER
from services.assigner.settings import AssignerSettings
from services.sender.service import DEFINITION as SENDER
from services.sender.settings import SenderSettings
from shared.contract import catalogue as api
from shared.contract.envelope import decode_reply
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import Baton, auth_headers, campaign_with_texters
from tests.support.services import running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
SENDING_NUMBER = "+14155550000"
TEXTERS = 12
BATCH = 6
ROUNDS = 4
# While the texters work, one backend of the test's database (a connection of the services'
# pools, busy or idle) is terminated this often.
KILL_EVERY_SECONDS = 0.01
TERMINATE_ONE = """
    SELECT count(pg_terminate_backend(pid)) FROM (
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND backend_type = 'client backend'
        ORDER BY random() LIMIT 1
    ) victim
"""


class Answers:
    """Every answer a request got, by subject and code ("ok" for success)."""

    def __init__(self, nc: NatsClient) -> None:
        self._nc = nc
        self.seen: Counter[tuple[str, str]] = Counter()

    async def ask(self, subject: str, as_user: int, **payload: Any) -> tuple[str, Any]:
        # A timeout here fails the test: the services must answer, whatever Postgres does.
        reply = await self._nc.request(subject, msgspec.json.encode(payload), timeout=15,
                                       headers=auth_headers(as_user))  # fmt: skip
        decoded = decode_reply(reply.data)
        code = "ok" if decoded.ok else decoded.error.code if decoded.error else "?"
        self.seen[(subject, code)] += 1
        return code, decoded.data

    def codes(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for (_, code), count in self.seen.items():
            total[code] += count
        return total


async def _kill_connections(url: str, stop: asyncio.Event) -> int:
    conn = await asyncpg.connect(url)
    killed = 0
    try:
        while not stop.is_set():
            killed += await conn.fetchval(TERMINATE_ONE)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), KILL_EVERY_SECONDS)
    finally:
        await conn.close()
    return killed


async def _retried(answers: Answers, subject: str, texter: int, **payload: Any) -> tuple[str, Any]:
    """Ask until the answer is not `unavailable`, as a client following docs/reliability.md."""
    for _ in range(50):
        code, data = await answers.ask(subject, texter, **payload)
        if code != "unavailable":
            return code, data
    return code, data


async def _texter(answers: Answers, campaign: int, texter: int, sends: dict[str, str]) -> None:
    """Request batches and send their initials, retrying whatever was `unavailable`: a batch
    request with nothing (a retry of one that committed is refused `initials_pending`, and the
    batch is found with baton.query.conversations), a send with its idempotency key."""
    for _ in range(ROUNDS):
        await _retried(answers, api.ASSIGN_REQUEST.subject, texter, campaign_id=campaign)
        code, page = await _retried(answers, api.CONVERSATIONS.subject, texter,
                                    campaign_id=campaign, assignee_id=texter,
                                    status="not_started")  # fmt: skip
        if code != "ok":
            continue
        for row in page["conversations"]:
            key = str(uuid.uuid4())
            payload = {"conversation_id": row["conversation_id"], "body": "Hi, it's Sam",
                       "idempotency_key": key}  # fmt: skip
            code, sent = await answers.ask(api.SEND_INITIAL.subject, texter, **payload)
            if code == "unavailable":
                sends[key] = "unavailable"
                code, sent = await _retried(answers, api.SEND_INITIAL.subject, texter, **payload)
            if code == "ok" and sends.get(key) == "unavailable":
                # The retry tells what the outage hid: `duplicate` when the first attempt had
                # committed after all (its answer lost), not when it had rolled back.
                sends[key] = "committed_though_unavailable" if sent["duplicate"] else "retried"
            elif code == "ok":
                sends[key] = "ok"
            else:
                sends.pop(key, None)  # refused for good: nothing was committed under this key


async def test_killed_connections_give_unavailable_never_internal(
    settings: CommonSettings, nc: NatsClient, database_url: str
) -> None:
    # Rows whose mark a kill interrupted go out again once their lease runs out: 2 s here.
    fast = {"database_url": database_url, "nats_url": settings.nats_url, "db_pool_min": 1,
            "outbox_poll_seconds": 0.2, "outbox_lease_seconds": 2.0}  # fmt: skip
    async with (
        running(ASSIGNER, AssignerSettings(**fast, db_pool_max=20)),
        running(SENDER, SenderSettings(**fast)),
    ):
        await _storm(Baton(nc), nc, database_url)


async def _storm(assigner: Baton, nc: NatsClient, database_url: str) -> None:
    c = await campaign_with_texters(assigner, texters=TEXTERS, contacts=TEXTERS * BATCH * ROUNDS,
                                    batch_size=BATCH)  # fmt: skip
    owner, campaign = c["owner"], c["campaign"]
    await assigner.call(api.ORG_NUMBERS_ADD, as_user=owner, org_id=c["org"],
                        numbers=[SENDING_NUMBER])  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=owner, campaign_id=campaign,
                        texting_hours={"start": 0, "end": 24},
                        sending_number=SENDING_NUMBER)  # fmt: skip
    already_on_stream_before = _already_on_stream()

    answers = Answers(nc)
    sends: dict[str, str] = {}
    stop = asyncio.Event()
    killer = asyncio.create_task(_kill_connections(database_url, stop))
    await asyncio.gather(*(_texter(answers, campaign, t, sends) for t in c["texters"]))
    stop.set()
    killed = await killer

    codes = answers.codes()
    print(
        f"\nkilled {killed} backends; answers {dict(codes)}; sends {dict(Counter(sends.values()))}"
    )
    assert codes["internal"] == 0, answers.seen
    assert killed > 0
    assert codes["unavailable"] > 0, "no request met a killed connection: the test proved nothing"
    assert codes["ok"] > 0
    # Every refusal is one a request can get without an outage (a texter with unsent initials
    # asking again, say), never a code that hides a failure.
    assert set(codes) <= {"ok", "unavailable", "initials_pending", "no_more_conversations",
                          "busy"}, codes  # fmt: skip
    # A send answered `unavailable` was retried with its key until answered for good.
    assert "unavailable" not in sends.values(), sends

    # What was accepted is in Postgres once, and on OUTBOUND once, whatever was killed when.
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT idempotency_key, count(*) FROM message WHERE direction = 'outbound' "
            "GROUP BY idempotency_key"
        )
        assert {r["idempotency_key"] for r in rows} == set(sends)
        assert all(r["count"] == 1 for r in rows)
        initials = await conn.fetchval(
            "SELECT count(*) = count(DISTINCT conversation_id) FROM message "
            "WHERE direction = 'outbound' AND kind = 'initial'"
        )
        assert initials is True

        async def drained() -> bool:
            pending = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            return bool(await conn.fetchval(pending) == 0)

        await eventually(drained, within=30)
        message_ids = {str(r["id"]) for r in await conn.fetch(
            "SELECT id FROM message WHERE direction = 'outbound'")}  # fmt: skip
    finally:
        await conn.close()
    on_stream = await _outbound_message_ids(nc)
    assert sorted(on_stream) == sorted(message_ids)  # each exactly once
    print(
        f"outbox rows found already on the stream: {_already_on_stream() - already_on_stream_before}"
    )


def _already_on_stream() -> float:
    value = REGISTRY.get_sample_value("baton_outbox_already_on_stream_total", {"service": "sender"})
    return value or 0.0


async def _outbound_message_ids(nc: NatsClient) -> list[str]:
    """The Nats-Msg-Id of every message on OUTBOUND, read with an ordered consumer."""
    js = nc.jetstream()
    total = (await js.stream_info("OUTBOUND")).state.messages
    sub = await js.subscribe(api.OUTBOUND_SMS.pattern, ordered_consumer=True)
    ids = []
    try:
        for _ in range(total):
            msg = await sub.next_msg(timeout=5)
            assert msg.headers is not None
            assert msg.subject == api.OUTBOUND_SMS.at(msg.headers["Nats-Msg-Id"])
            assert json.loads(msg.data)["message_id"] == int(msg.headers["Nats-Msg-Id"])
            ids.append(msg.headers["Nats-Msg-Id"])
    finally:
        await sub.unsubscribe()
    return ids
