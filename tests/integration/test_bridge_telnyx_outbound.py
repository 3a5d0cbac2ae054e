"""The provider bridge through Telnyx, texts out (issue #31): on real NATS and Postgres, the
official `telnyx` SDK going over HTTP (its `base_url`) to the simulator
(tools/simulation/telnyx_simulator.py), which records what reached "Telnyx" and when."""

from __future__ import annotations

from collections import Counter

import asyncpg
import msgspec
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from services.bridge.service import DEFINITION as BRIDGE
from services.bridge.telnyx_provider import TelnyxProvider
from shared.contract import catalogue as api
from shared.runtime.settings import CommonSettings
from tests.integration.test_bridge_outbound import contact, drained, publish, receipts_of, text
from tests.support.bridge import telnyx_bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.simulation.telnyx_simulator import TelnyxSimulator

pytestmark = pytest.mark.integration


async def test_each_text_is_sent_once_from_its_number_with_its_key_and_the_receipt_names_telnyx(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, telnyx: TelnyxSimulator
) -> None:
    numbers = ["+14155550100", "+14155550101"]
    texts = [text(i, contact(i), numbers[i % 2]) for i in range(1, 21)]
    own = telnyx_bridge_settings(settings, telnyx, bridge_default_rate=50,
                                 bridge_public_url="https://bridge.example.org")  # fmt: skip
    async with running(BRIDGE, own), receipts_of(nc) as receipts:
        await publish(nc, *texts)
        # The same text again, past the stream's duplicate window: the attempt record keeps it
        # from going twice.
        await nc.jetstream().publish(api.OUTBOUND_SMS.at("1"), msgspec.json.encode(texts[0]),
                                     headers={"Nats-Msg-Id": "1-again"})  # fmt: skip
        assert await eventually(lambda: receipts.settled([t.message_id for t in texts]))
        assert await eventually(lambda: drained(nc), within=40)

    assert len(telnyx.arrivals) == len(texts)
    assert telnyx.requests == len(texts)
    by_body = {a.body: a for a in telnyx.arrivals}
    for one in texts:
        arrival = by_body[one.body]
        assert (arrival.to, arrival.from_) == (one.to, one.from_number)
        assert arrival.idempotency_key == f"baton-{one.message_id}"
        assert arrival.webhook_url == "https://bridge.example.org/telnyx/webhooks"
        [receipt] = receipts.by_message[one.message_id]
        assert receipt["status"] == "sent"
        assert receipt["provider_message_id"] == f"telnyx:default:{arrival.id}"
        assert receipt["from"] == one.from_number
    rows = await pool.fetch("SELECT provider, state, calls FROM bridge_attempt")
    assert [(r["provider"], r["state"], r["calls"]) for r in rows] == [("telnyx", "sent", 1)] * len(
        texts
    )


async def test_texts_without_a_number_go_from_the_messaging_profile_and_the_receipt_says_which(
    settings: CommonSettings, nc: NatsClient, telnyx: TelnyxSimulator
) -> None:
    profile = "40017a2e-0000-4000-8000-000000000001"
    pool_numbers = ["+14155550170", "+14155550171"]
    telnyx.profile_numbers[profile] = pool_numbers
    texts = [text(i, contact(i), None) for i in range(1, 6)]
    own = telnyx_bridge_settings(settings, telnyx, telnyx_messaging_profile_id=profile,
                                 bridge_pool_rate=40)  # fmt: skip
    async with running(BRIDGE, own), receipts_of(nc) as receipts:
        await publish(nc, *texts)
        assert await eventually(lambda: receipts.settled([t.message_id for t in texts]))

    assert [a.messaging_profile_id for a in telnyx.arrivals] == [profile] * len(texts)
    by_body = {a.body: a for a in telnyx.arrivals}
    for one in texts:
        arrival = by_body[one.body]
        assert arrival.from_ in pool_numbers
        [receipt] = receipts.by_message[one.message_id]
        assert receipt["from"] == arrival.from_
        assert receipt["provider_message_id"] == f"telnyx:{profile}:{arrival.id}"


async def test_retryable_telnyx_answers_are_tried_again_and_sent_once(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, telnyx: TelnyxSimulator
) -> None:
    # 429 / 10011 (too many requests), 40011 (the carrier's rate), a 5xx: refused twice, taken.
    refusals = {1: (10011, 429), 2: (40011, 400), 3: (10007, 503)}
    for i, (code, status) in refusals.items():
        telnyx.fail(contact(i), code, status, times=2)
    texts = [text(i, contact(i)) for i in refusals]
    own = telnyx_bridge_settings(settings, telnyx, bridge_default_rate=50)
    async with running(BRIDGE, own), receipts_of(nc) as receipts:
        await publish(nc, *texts)
        assert await eventually(lambda: receipts.settled(list(refusals)), within=40)
        assert await eventually(lambda: drained(nc))

    assert Counter(a.to for a in telnyx.arrivals) == {contact(i): 1 for i in refusals}
    for i in refusals:
        assert [r["status"] for r in receipts.by_message[i]] == ["sent"]
    assert telnyx.requests == 3 * len(texts)


async def test_final_telnyx_answers_fail_with_their_code_and_unknown_codes_are_counted(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, telnyx: TelnyxSimulator
) -> None:
    finals = {1: (40310, 400), 2: (40001, 400), 3: (40002, 400), 4: (40003, 400),
              5: (40008, 400), 6: (40300, 409), 7: (49999, 400)}  # fmt: skip
    for i, (code, status) in finals.items():
        telnyx.fail(contact(i), code, status)
    labels = {"provider": "telnyx", "code": "telnyx:49999"}
    unknown_before = REGISTRY.get_sample_value("baton_bridge_unknown_codes_total", labels) or 0.0
    async with running(BRIDGE, telnyx_bridge_settings(settings, telnyx)), \
            receipts_of(nc) as receipts:  # fmt: skip
        await publish(nc, *(text(i, contact(i)) for i in finals))
        assert await eventually(lambda: receipts.settled(list(finals)))
        assert await eventually(lambda: drained(nc))

    assert telnyx.arrivals == []
    assert telnyx.requests == len(finals)  # each tried once: none retried
    for i, (code, _) in finals.items():
        [receipt] = receipts.by_message[i]
        assert (receipt["status"], receipt["error_code"]) == ("failed", f"telnyx:{code}")
    assert REGISTRY.get_sample_value("baton_bridge_unknown_codes_total", labels) == (
        unknown_before + 1
    )


async def test_an_attempt_without_an_answer_is_sent_again_with_its_key_and_telnyx_sends_nothing_new(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, telnyx: TelnyxSimulator
) -> None:
    """A bridge that died after its call left the attempt `begun`. Telnyx has no message list
    to search; the next bridge sends the text again with the same Idempotency-Key, and Telnyx
    answers with the first call's message: one text, its first id in the receipt."""
    already = text(1, contact(1))
    public = "https://bridge.example.org"
    # The first call as the bridge made it: the same body byte for byte, webhook URL included.
    provider = TelnyxProvider(telnyx.api_key, telnyx.url,
                              webhook_url=f"{public}/telnyx/webhooks")  # fmt: skip
    try:
        first = await provider.send(already)
    finally:
        await provider.close()
    await pool.execute(
        "INSERT INTO bridge_attempt (message_id, provider, account, to_number, from_number, calls,"
        " first_call_at, last_call_at) VALUES (1, 'telnyx', 'default', $1, $2, 1, now(), now())",
        already.to, already.from_number,
    )  # fmt: skip
    own = telnyx_bridge_settings(settings, telnyx, bridge_public_url=public)
    async with running(BRIDGE, own), receipts_of(nc) as receipts:
        await publish(nc, already)
        assert await eventually(lambda: receipts.settled([1]))

    assert [a.body for a in telnyx.arrivals] == [already.body]
    assert telnyx.replays == 1
    [receipt] = receipts.by_message[1]
    assert receipt["status"] == "sent"
    assert receipt["provider_message_id"] == first.provider_message_id
    assert await pool.fetchval("SELECT calls FROM bridge_attempt WHERE message_id = 1") == 2


async def test_a_refused_api_key_fails_no_text_and_it_is_sent_once_the_key_is_fixed(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, telnyx: TelnyxSimulator
) -> None:
    waiting = text(1, contact(1))
    wrong = telnyx_bridge_settings(settings, telnyx, telnyx_api_key="KEY-revoked")
    async with running(BRIDGE, wrong), receipts_of(nc) as receipts:
        await publish(nc, waiting)

        async def refused_twice() -> bool:
            return telnyx.requests >= 2

        assert await eventually(refused_twice, within=20)
        assert receipts.by_message == {}
        row = await pool.fetchrow("SELECT state, error_code FROM bridge_attempt")
        assert (row["state"], row["error_code"]) == ("refused", "telnyx:10009")
        assert (
            REGISTRY.get_sample_value(
                "baton_bridge_provider_credentials_refused", {"provider": "telnyx"}
            )
            == 1.0
        )

    assert telnyx.arrivals == []
    async with running(BRIDGE, telnyx_bridge_settings(settings, telnyx)), \
            receipts_of(nc) as receipts:  # fmt: skip
        assert await eventually(lambda: receipts.settled([1]), within=70)
    assert [a.body for a in telnyx.arrivals] == [waiting.body]


async def test_the_accounts_numbers_are_read_from_telnyx(
    settings: CommonSettings, pool: asyncpg.Pool, telnyx: TelnyxSimulator
) -> None:
    telnyx.held_numbers = {"+14155550180", "+14155550181"}
    async with running(BRIDGE, telnyx_bridge_settings(settings, telnyx)):

        async def listed() -> bool:
            return bool(await pool.fetchval("SELECT count(*) = 2 FROM provider_number"))

        assert await eventually(listed)
    rows = await pool.fetch("SELECT phone, provider, account FROM provider_number ORDER BY phone")
    assert [tuple(r) for r in rows] == [
        ("+14155550180", "telnyx", "default"),
        ("+14155550181", "telnyx", "default"),
    ]
