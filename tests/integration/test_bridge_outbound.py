"""The provider bridge, texts out (issue #31): on real NATS and Postgres, the official `twilio` SDK
going over HTTP to the simulator (tools/simulation/twilio_simulator.py), which records what
reached "Twilio" and when."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from prometheus_client import REGISTRY

from services.bridge.outbound import OUTBOUND_CONSUMER
from services.bridge.service import DEFINITION as BRIDGE
from shared.contract import catalogue as api
from shared.contract.schemas.messaging import OutboundSms
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.bridge import bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.simulation.twilio_simulator import TwilioSimulator

pytestmark = pytest.mark.integration


class Receipts:
    """Every receipt the bridge put on INBOUND, by message id, in arrival order."""

    def __init__(self) -> None:
        self.by_message: dict[int, list[dict[str, Any]]] = {}

    async def take(self, msg: Msg) -> None:
        receipt = json.loads(msg.data)
        self.by_message.setdefault(receipt["message_id"], []).append(receipt)

    async def settled(self, ids: list[int]) -> bool:
        return all(self.by_message.get(i) for i in ids)


@contextlib.asynccontextmanager
async def receipts_of(nc: NatsClient) -> AsyncIterator[Receipts]:
    found = Receipts()
    sub = await nc.jetstream().subscribe(api.INBOUND_RECEIPT.subject, stream="INBOUND",
                                         cb=found.take)  # fmt: skip
    try:
        yield found
    finally:
        await sub.unsubscribe()


def text(message_id: int, to: str, from_number: str | None = "+14155550100") -> OutboundSms:
    return OutboundSms(message_id=message_id, conversation_id=message_id, campaign_id=1, org_id=1,
                       to=to, from_number=from_number, body=f"Hello from text {message_id}",
                       kind="initial")  # fmt: skip


async def publish(nc: NatsClient, *texts: OutboundSms) -> None:
    js = nc.jetstream()
    for one in texts:
        await js.publish(api.OUTBOUND_SMS.at(str(one.message_id)), msgspec.json.encode(one),
                         headers={"Nats-Msg-Id": str(one.message_id)})  # fmt: skip


async def drained(nc: NatsClient) -> bool:
    info = await nc.jetstream().consumer_info(OUTBOUND_CONSUMER.stream, OUTBOUND_CONSUMER.durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


def contact(i: int) -> str:
    return f"+1202555{i:04d}"


async def test_each_text_is_sent_once_from_its_number_and_its_receipt_names_the_provider_id(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, simulator: TwilioSimulator
) -> None:
    numbers = ["+14155550100", "+14155550101"]
    texts = [text(i, contact(i), numbers[i % 2]) for i in range(1, 21)]
    async with running(BRIDGE, bridge_settings(settings, simulator, bridge_default_rate=50)), \
            receipts_of(nc) as receipts:  # fmt: skip
        await publish(nc, *texts)
        # The same text again, past the stream's duplicate window (another Nats-Msg-Id): the
        # attempt record, not JetStream, keeps it from going twice.
        await nc.jetstream().publish(api.OUTBOUND_SMS.at("1"), msgspec.json.encode(texts[0]),
                                     headers={"Nats-Msg-Id": "1-again"})  # fmt: skip
        assert await eventually(lambda: receipts.settled([t.message_id for t in texts]))
        assert await eventually(lambda: drained(nc), within=40)

    assert len(simulator.arrivals) == len(texts)
    by_body = {a.body: a for a in simulator.arrivals}
    for one in texts:
        arrival = by_body[one.body]
        assert (arrival.to, arrival.from_) == (one.to, one.from_number)
        [receipt] = receipts.by_message[one.message_id]
        assert receipt["status"] == "sent"
        assert receipt["provider_message_id"] == f"twilio:{simulator.account_sid}:{arrival.sid}"
        assert receipt["from"] == one.from_number
    rows = await pool.fetch("SELECT state, calls FROM bridge_attempt ORDER BY message_id")
    assert [(r["state"], r["calls"]) for r in rows] == [("sent", 1)] * len(texts)


async def test_retryable_answers_are_tried_again_and_sent_once(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, simulator: TwilioSimulator
) -> None:
    # 429 / 20429 (too many requests), 30001 (queue overflow), 21611 (the number's queue is
    # full), a 5xx: each refused twice, then taken.
    refusals = {1: (20429, 429), 2: (30001, 400), 3: (21611, 400), 4: (20500, 500), 5: (429, 429)}
    for i, (code, status) in refusals.items():
        simulator.fail(contact(i), code, status, times=2)
    texts = [text(i, contact(i)) for i in refusals]
    async with running(BRIDGE, bridge_settings(settings, simulator, bridge_default_rate=50)), \
            receipts_of(nc) as receipts:  # fmt: skip
        await publish(nc, *texts)
        assert await eventually(lambda: receipts.settled(list(refusals)), within=30)
        assert await eventually(lambda: drained(nc))

    assert simulator.requests == 3 * len(texts)
    assert Counter(a.to for a in simulator.arrivals) == {contact(i): 1 for i in refusals}
    for i in refusals:
        assert [r["status"] for r in receipts.by_message[i]] == ["sent"]
    rows = await pool.fetch("SELECT state, calls FROM bridge_attempt ORDER BY message_id")
    assert [(r["state"], r["calls"]) for r in rows] == [("sent", 3)] * len(texts)


async def test_final_answers_fail_with_their_code_and_unknown_codes_are_counted(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, simulator: TwilioSimulator
) -> None:
    finals = {1: 21211, 2: 21614, 3: 30007, 4: 21610, 5: 39999}
    for i, code in finals.items():
        simulator.fail(contact(i), code, 400)
    unknown_before = (
        REGISTRY.get_sample_value(
            "baton_bridge_unknown_codes_total", {"provider": "twilio", "code": "twilio:39999"}
        )
        or 0.0
    )
    async with running(BRIDGE, bridge_settings(settings, simulator)), receipts_of(nc) as receipts:
        await publish(nc, *(text(i, contact(i)) for i in finals))
        assert await eventually(lambda: receipts.settled(list(finals)))
        assert await eventually(lambda: drained(nc))

    assert simulator.arrivals == []
    assert simulator.requests == len(finals)  # each tried once: none retried
    for i, code in finals.items():
        [receipt] = receipts.by_message[i]
        assert (receipt["status"], receipt["error_code"]) == ("failed", f"twilio:{code}")
    assert (
        REGISTRY.get_sample_value(
            "baton_bridge_unknown_codes_total", {"provider": "twilio", "code": "twilio:39999"}
        )
        == unknown_before + 1
    )
    states = await pool.fetch("SELECT state, error_code FROM bridge_attempt ORDER BY message_id")
    assert [(r["state"], r["error_code"]) for r in states] == [
        ("failed", f"twilio:{code}") for code in finals.values()
    ]


async def test_an_attempt_without_an_answer_is_looked_up_not_sent_again(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, simulator: TwilioSimulator
) -> None:
    """A bridge that died after its call (or whose answer was lost) left the attempt `begun`:
    the next one finds the text in Twilio's message list and records it, sending nothing."""
    already = text(1, contact(1))
    accepted = await _send_directly(simulator, already)
    await pool.execute(
        "INSERT INTO bridge_attempt (message_id, provider, account, to_number, from_number, calls,"
        " first_call_at, last_call_at) VALUES (1, 'twilio', $1, $2, $3, 1, now(), now())",
        simulator.account_sid, already.to, already.from_number,
    )  # fmt: skip
    # The same contact's earlier text with another body is not taken for this one.
    never = text(2, contact(2))
    await pool.execute(
        "INSERT INTO bridge_attempt (message_id, provider, account, to_number, from_number, calls,"
        " first_call_at) VALUES (2, 'twilio', $1, $2, $3, 1, now())",
        simulator.account_sid, never.to, never.from_number,
    )  # fmt: skip
    await _send_directly(simulator, msgspec.structs.replace(never, body="Another text, earlier"))
    async with running(BRIDGE, bridge_settings(settings, simulator)), receipts_of(nc) as receipts:
        await publish(nc, already, never)
        assert await eventually(lambda: receipts.settled([1, 2]))

    assert Counter(a.body for a in simulator.arrivals) == {
        already.body: 1,
        never.body: 1,
        "Another text, earlier": 1,
    }
    [receipt] = receipts.by_message[1]
    assert receipt["provider_message_id"] == f"twilio:{simulator.account_sid}:{accepted}"
    assert await pool.fetchval("SELECT calls FROM bridge_attempt WHERE message_id = 1") == 1


async def _send_directly(simulator: TwilioSimulator, one: OutboundSms) -> str:
    """A text that reached Twilio outside this bridge's run (as from a bridge killed after it)."""
    from services.bridge.twilio_provider import TwilioProvider

    provider = TwilioProvider(simulator.account_sid, simulator.auth_token, simulator.url)
    try:
        accepted = await provider.send(one)
    finally:
        await provider.close()
    return accepted.provider_message_id.rsplit(":", 1)[1]


async def test_each_number_keeps_its_rate_in_a_burst_and_a_quiet_one_does_not_wait(
    assigner: Baton, settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool,
    simulator: TwilioSimulator,
) -> None:  # fmt: skip
    busy = [f"+1415555{n:04d}" for n in range(20)]
    quiet = "+14155559999"
    per_number, rate = 100, 20.0
    # One number has a rate of its own (set on baton.admin.org.numbers.add): 10 texts/s.
    slow = busy[0]
    c = await campaign_with_texters(assigner, texters=1, contacts=1)
    await assigner.call(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"], numbers=[slow],
                        rate_per_second=10)  # fmt: skip
    # Added again without a rate, it keeps its own.
    await assigner.call(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"], numbers=[slow])
    assert (
        await pool.fetchval("SELECT rate_per_second FROM sending_number WHERE phone = $1", slow)
        == 10
    )
    texts = [text(n * per_number + i + 1, contact(i), number)
             for i in range(per_number) for n, number in enumerate(busy)]  # fmt: skip
    quiet_texts = [text(100_000 + i, contact(9000 + i), quiet) for i in range(3)]
    async with running(BRIDGE, bridge_settings(settings, simulator, bridge_default_rate=rate)), \
            receipts_of(nc) as receipts:  # fmt: skip
        await publish(nc, *texts)
        await publish(nc, *quiet_texts)  # behind 2,000 texts on the stream
        ids = [t.message_id for t in texts + quiet_texts]
        assert await eventually(lambda: receipts.settled(ids), within=60)

    assert len(simulator.arrivals) == len(texts) + len(quiet_texts)
    times = {n: sorted(a.monotonic for a in simulator.arrivals if a.from_ == n) for n in busy}
    for number, arrived in times.items():
        allowed = 10.0 if number == slow else rate
        assert len(arrived) == per_number
        # Over the whole burst, the number's rate: its calls leave one slot apart.
        assert (len(arrived) - 1) / (arrived[-1] - arrived[0]) <= allowed * 1.02, number
        # Over any one-second window, at most the rate, and two for the window's edge and the
        # arrival times' jitter: the simulator shares this test's event loop with the bridge,
        # so an arrival is stamped when the loop gets to it, not when it left the bridge.
        most = max(_in_window(arrived, i, 1.0 - 0.1) for i in range(len(arrived)))
        assert most <= allowed + 2, (number, most, allowed)
    last_busy = max(t[-1] for t in times.values())
    quiet_arrivals = [a.monotonic for a in simulator.arrivals if a.from_ == quiet]
    # The quiet number's texts went in their own slots, long before the busy numbers finished.
    assert max(quiet_arrivals) < last_busy - 1.0


def _in_window(times: list[float], start: int, width: float) -> int:
    end = start
    while end < len(times) and times[end] - times[start] < width:
        end += 1
    return end - start


async def test_refused_credentials_fail_no_text_and_it_is_sent_once_they_are_fixed(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool, simulator: TwilioSimulator
) -> None:
    """A wrong or rotated auth token (HTTP 401, Twilio 20003) is the deployment's fault, not the
    text's: no `failed` receipt, the text waits on the stream and says so in a metric, and a
    bridge with the right token sends it once."""
    waiting = text(1, contact(1))
    wrong = bridge_settings(settings, simulator, twilio_auth_token="rotated-" + "0" * 24)
    async with running(BRIDGE, wrong), receipts_of(nc) as receipts:
        await publish(nc, waiting)

        async def refused_twice() -> bool:
            return simulator.requests >= 2

        assert await eventually(refused_twice, within=20)
        assert receipts.by_message == {}
        assert (
            REGISTRY.get_sample_value(
                "baton_bridge_provider_credentials_refused", {"provider": "twilio"}
            )
            == 1.0
        )
        row = await pool.fetchrow("SELECT state, error_code FROM bridge_attempt")
        assert (row["state"], row["error_code"]) == ("refused", "twilio:20003")

    assert simulator.arrivals == []
    async with running(BRIDGE, bridge_settings(settings, simulator)), receipts_of(nc) as receipts:
        assert await eventually(lambda: receipts.settled([1]), within=70)
        assert await eventually(lambda: drained(nc))

    assert [a.body for a in simulator.arrivals] == [waiting.body]
    assert [r["status"] for r in receipts.by_message[1]] == ["sent"]
    assert (
        REGISTRY.get_sample_value(
            "baton_bridge_provider_credentials_refused", {"provider": "twilio"}
        )
        == 0.0
    )


async def test_a_text_without_a_number_goes_from_one_of_its_organizations_held_numbers(
    assigner: Baton, settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool,
    simulator: TwilioSimulator,
) -> None:  # fmt: skip
    """No number of its own and no Messaging Service: the bridge chooses one of the text's
    organization's numbers that the account holds (the same for a contact each time) and names
    it in the receipt; an organization with none gets `failed` and Twilio is not called."""
    held = ["+14155550180", "+14155550181"]
    not_held = "+14155550189"
    c = await campaign_with_texters(assigner, texters=1, contacts=1)
    other = await campaign_with_texters(assigner, texters=1, contacts=1)
    # Added before any bridge listed the account: first come, first served.
    await assigner.call(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"],
                        numbers=[*held, not_held])  # fmt: skip
    simulator.held_numbers = set(held)
    texts = [msgspec.structs.replace(text(i, contact(i % 6), None), org_id=c["org"])
             for i in range(1, 13)]  # fmt: skip
    nowhere = msgspec.structs.replace(text(99, contact(99), None), org_id=other["org"])
    async with running(BRIDGE, bridge_settings(settings, simulator, bridge_default_rate=50)), \
            receipts_of(nc) as receipts:  # fmt: skip
        await publish(nc, *texts, nowhere)
        ids = [t.message_id for t in texts] + [nowhere.message_id]
        assert await eventually(lambda: receipts.settled(ids), within=30)
        assert await eventually(lambda: drained(nc))

    assert len(simulator.arrivals) == len(texts)
    assert simulator.requests == len(texts)  # none for the organization with no number
    by_body = {a.body: a for a in simulator.arrivals}
    for one in texts:
        arrival = by_body[one.body]
        assert arrival.from_ in held
        [receipt] = receipts.by_message[one.message_id]
        assert (receipt["status"], receipt["from"]) == ("sent", arrival.from_)
    # One number for a contact, whichever text it is.
    per_contact: dict[str, set[str]] = {}
    for a in simulator.arrivals:
        per_contact.setdefault(a.to, set()).add(a.from_)
    assert all(len(numbers) == 1 for numbers in per_contact.values())
    [failed] = receipts.by_message[nowhere.message_id]
    assert (failed["status"], failed["error_code"]) == ("failed", "bridge:no_sending_number")
    assert await pool.fetchval("SELECT state FROM bridge_attempt WHERE message_id = 99") == "failed"


async def test_texts_for_the_messaging_services_pool_go_at_the_pool_rate(
    settings: CommonSettings, nc: NatsClient, simulator: TwilioSimulator
) -> None:
    """With a Messaging Service, texts without a number share its one lane: held to
    BATON_BRIDGE_POOL_RATE (the pool's numbers times their rate), not to one number's rate."""
    service = "MG" + "1" * 32
    texts = [text(i, contact(i), None) for i in range(1, 6)]
    own = bridge_settings(settings, simulator, twilio_messaging_service_sid=service,
                          bridge_default_rate=1, bridge_pool_rate=40)  # fmt: skip
    async with running(BRIDGE, own), receipts_of(nc) as receipts:
        await publish(nc, *texts)
        assert await eventually(lambda: receipts.settled([t.message_id for t in texts]))

    assert [a.messaging_service_sid for a in simulator.arrivals] == [service] * len(texts)
    assert REGISTRY.get_sample_value("baton_bridge_number_rate", {"number": "pool"}) == 40.0
