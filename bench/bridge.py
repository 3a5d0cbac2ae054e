"""The provider bridge (issue #31): texts/s from OUTBOUND to provider-accepted, through the real
bridge process and its provider's SDK (Twilio's, or Telnyx's with `--provider telnyx`) over HTTP
to the simulator, and each number's rate as the simulator saw it.

Runs on servers of their own: many numbers at a few texts/s each (the throughput aim: 3,000
texts/s across 1,000 numbers at 3 texts/s), and 100 numbers at the default rate of 1 text/s (each
number held to it). Texts are published on OUTBOUND as the sender's outbox publishes them; the
sender's own rate is bench.messaging's. This one client publishes about as fast as the bridge
sends, so `many_numbers_from_backlog` publishes every text before the bridge starts: the bridge's
own pace, from its start. The runs through the sender measure a text from the texter's request
to the provider's acceptance: in a burst, and at a steady rate below what either service can
take (`--steady-rate`), where `bridge_adds_to_p50` is the aim "the bridge adds under 10% to a
text's p50", against the text's time until it is on OUTBOUND. Each run also says the bridge's
CPU time per text (`bridge_cpu_ms_per_text`): on a machine shared with other work, a rate says
as much about the other work as about the bridge, its cost per text far less.

    python -m bench.bridge --numbers 1000 --rate 3 --seconds 5 [--provider telnyx]
    python -m bench.bridge --only sender --sender-texts 4000 --steady-rate 200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import nats

from bench.messaging import build
from bench.support import (
    auth_headers,
    cpu_seconds,
    latency_summary,
    servers,
    service,
    write_results,
)
from shared.contract import catalogue as api
from shared.contract.schemas.messaging import OutboundSms
from shared.runtime.jetstream import declare_all
from shared.runtime.migrations import migrate_database
from tools.simulation.telnyx_simulator import TelnyxSimulator
from tools.simulation.twilio_simulator import TwilioSimulator

Simulator = TwilioSimulator | TelnyxSimulator


@contextlib.asynccontextmanager
async def simulated(provider: str) -> AsyncIterator[tuple[Simulator, dict[str, str]]]:
    """The provider's simulator, and the bridge's settings that point it there."""
    if provider == "telnyx":
        async with TelnyxSimulator() as telnyx:
            yield telnyx, {"bridge_provider": "telnyx", "telnyx_api_key": telnyx.api_key,
                           "telnyx_public_key": telnyx.public_key,
                           "telnyx_api_url": telnyx.url}  # fmt: skip
        return
    async with TwilioSimulator() as twilio:
        yield twilio, {"bridge_provider": "twilio", "twilio_account_sid": twilio.account_sid,
                       "twilio_auth_token": twilio.auth_token,
                       "twilio_api_url": twilio.url}  # fmt: skip


def _most_in_a_second(times: list[float]) -> int:
    most, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def run(
    nats_url: str,
    database_url: str,
    numbers: int,
    rate: float,
    seconds: float,
    provider: str,
    *,
    from_backlog: bool = False,
) -> dict[str, Any]:
    """`from_backlog`: every text is on the stream before the bridge starts, and the time runs
    from its start; else the texts are published while it runs, and the time runs from the
    first."""
    per_number = max(1, int(rate * seconds))
    async with simulated(provider) as (sim, own):
        settings = {
            **own, "bridge_default_rate": str(rate), "bridge_http_port": "0",
            "bridge_max_in_flight": str(max(2000, int(numbers * rate * 2))),
            "db_pool_max": "20",
        }  # fmt: skip
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await declare_all(js)
        texts = [
            OutboundSms(message_id=n * per_number + i + 1, conversation_id=1, campaign_id=1,
                        org_id=1, to=f"+1202{(n * per_number + i) % 10_000_000:07d}",
                        from_number=f"+1415{n:07d}", body=f"Text {n}-{i}", kind="initial")
            for i in range(per_number) for n in range(numbers)
        ]  # fmt: skip
        published: dict[str, float] = {}

        async def publish() -> float:
            began = time.monotonic()
            for chunk in range(0, len(texts), 500):  # as fast as this one client can
                for text in texts[chunk : chunk + 500]:
                    published[text.body] = time.monotonic()
                await asyncio.gather(*(
                    js.publish(api.OUTBOUND_SMS.at(str(t.message_id)), msgspec.json.encode(t),
                               headers={"Nats-Msg-Id": str(t.message_id)})
                    for t in texts[chunk : chunk + 500]))  # fmt: skip
            return time.monotonic() - began

        publish_seconds = await publish() if from_backlog else 0.0
        with service("bridge", database_url, nats_url, **settings) as bridge:
            cpu_before = cpu_seconds(bridge.pid)
            started = time.monotonic()
            if not from_backlog:
                publish_seconds = await publish()
            deadline = time.monotonic() + seconds * 10 + 120
            while len(sim.arrivals) < len(texts) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            bridge_cpu = cpu_seconds(bridge.pid) - cpu_before
        await nc.close()
    arrivals: list[Any] = list(sim.arrivals)
    elapsed = max(a.monotonic for a in arrivals) - started
    by_number: dict[str, list[float]] = {}
    for arrival in arrivals:
        by_number.setdefault(arrival.from_ or "", []).append(arrival.monotonic)
    most = max(_most_in_a_second(sorted(t)) for t in by_number.values())
    gaps = [b - a for t in by_number.values() for a, b in itertools.pairwise(sorted(t))]
    return {
        "numbers": numbers, "rate_per_number": rate, "texts": len(texts),
        "accepted": len(arrivals), "sends_per_text_max": max(
            sum(1 for _ in group) for group in _by_body(arrivals).values()),
        "publish_seconds": round(publish_seconds, 2),
        "texts_per_second": round(len(arrivals) / elapsed, 1),
        "aim_texts_per_second": numbers * rate,
        "bridge_cpu_ms_per_text": round(bridge_cpu * 1000 / len(arrivals), 3),
        "most_from_one_number_in_any_second": most,
        # The closest two texts of one number came, against 1 / rate: the pacing as the
        # provider saw it (the HTTP calls' own jitter included).
        "smallest_gap_seconds": round(min(gaps), 3) if gaps else None,
        "gap_aim_seconds": round(1 / rate, 3),
        # From the backlog: the time on the stream before the bridge started, mostly.
        "publish_to_accepted": None if from_backlog else latency_summary(
            [a.monotonic - published[a.body] for a in arrivals]),
    }  # fmt: skip


def _by_body(arrivals: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for arrival in arrivals:
        grouped.setdefault(arrival.body, []).append(arrival)
    return grouped


async def _on_outbound(js: Any, count: int, wall_to_monotonic: float) -> dict[str, float]:
    """When each text reached OUTBOUND (the stream's own timestamp), by the contact's number, on
    this process's monotonic clock: where Baton's part ends and the bridge's begins."""
    landed: dict[str, float] = {}
    subscription = await js.subscribe(api.OUTBOUND_SMS.pattern, ordered_consumer=True)
    try:
        while len(landed) < count:
            message = await subscription.next_msg(timeout=10)
            text = msgspec.json.decode(message.data, type=OutboundSms)
            landed[text.to] = message.metadata.timestamp.timestamp() - wall_to_monotonic
    finally:
        await subscription.unsubscribe()
    return landed


async def through_the_sender(
    nats_url: str,
    database_url: str,
    messages: int,
    provider: str,
    *,
    offered_per_second: float | None = None,
) -> dict[str, Any]:
    """Texters' initials through the real sender and the real bridge in one run: each text's time
    from its request to the sender's answer, to OUTBOUND, and to the provider's acceptance.
    bench.messaging's campaign sends from one number, so the bridge's rate is set high enough
    not to hold it. `offered_per_second`: the requests come at that steady rate, below what
    either service can take, so the times are each one's own work and not a queue's; else each
    texter sends as fast as its answers come (a burst)."""
    texters = 200
    _, held, _ = await build(database_url, messages, texters)
    conn = await asyncpg.connect(database_url)
    conversation_phone = {r["id"]: r["phone"] for r in await conn.fetch(
        "SELECT v.id, k.phone FROM conversation v JOIN contact k ON k.id = v.contact_id")}  # fmt: skip
    await conn.close()
    async with simulated(provider) as (sim, own):
        settings = {
            **own, "bridge_default_rate": "1000", "bridge_http_port": "0", "db_pool_max": "20",
        }  # fmt: skip
        with service("sender", database_url, nats_url), \
                service("bridge", database_url, nats_url, **settings) as bridge:  # fmt: skip
            cpu_before = cpu_seconds(bridge.pid)
            nc = await nats.connect(nats_url)
            asked: dict[str, float] = {}
            answered: list[float] = []

            async def send(headers: dict[str, str], conversation: int) -> None:
                body = json.dumps({"conversation_id": conversation, "body": "Hi!",
                                   "idempotency_key": str(uuid.uuid4())}).encode()  # fmt: skip
                asked[conversation_phone[conversation]] = started = time.monotonic()
                reply = await nc.request(api.SEND_INITIAL.subject, body, timeout=60,
                                         headers=headers)  # fmt: skip
                assert json.loads(reply.data)["ok"], reply.data
                answered.append(time.monotonic() - started)

            async def texter(headers: dict[str, str], conversations: list[int]) -> None:
                for conversation in conversations:
                    await send(headers, conversation)

            async def paced(rate: float) -> None:
                order = [(auth_headers(t), c) for t, cs in held.items() for c in cs]
                order.sort(key=lambda pair: pair[1])
                start = time.monotonic()

                async def at(k: int, headers: dict[str, str], conversation: int) -> None:
                    await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))
                    await send(headers, conversation)

                await asyncio.gather(*(at(k, h, c) for k, (h, c) in enumerate(order)))

            wall_to_monotonic = time.time() - time.monotonic()
            began = time.monotonic()
            if offered_per_second:
                await paced(offered_per_second)
            else:
                await asyncio.gather(*(texter(auth_headers(t), c) for t, c in held.items()))
            requests_done = time.monotonic()
            deadline = time.monotonic() + 300
            while len(sim.arrivals) < messages and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            bridge_cpu = cpu_seconds(bridge.pid) - cpu_before
            landed = await _on_outbound(nc.jetstream(), messages, wall_to_monotonic)
            await nc.close()
    accepted = [a.monotonic - asked[a.to] for a in sim.arrivals]
    to_outbound = [landed[to] - at for to, at in asked.items() if to in landed]
    bridge_part = [a.monotonic - landed[a.to] for a in sim.arrivals if a.to in landed]
    text_p50 = latency_summary(to_outbound)["p50_ms"]
    return {
        "texts": messages, "accepted": len(sim.arrivals), "offered_per_second": offered_per_second,
        "sender_texts_per_second": round(messages / (requests_done - began), 1),
        "bridge_texts_per_second": round(
            len(sim.arrivals) / (max(a.monotonic for a in sim.arrivals) - began), 1),
        "bridge_cpu_ms_per_text": round(bridge_cpu * 1000 / len(sim.arrivals), 3),
        "request_to_sender_answer": latency_summary(answered),
        # Baton's part: until the text is on OUTBOUND, where a bridge of one's own would take it.
        "request_to_outbound": latency_summary(to_outbound),
        # The bridge's part: from OUTBOUND to the provider's acceptance (one HTTP call, here to
        # the simulator on this machine).
        "outbound_to_provider_accepted": latency_summary(bridge_part),
        "request_to_provider_accepted": latency_summary(accepted),
        # The aim: under 0.10.
        "bridge_adds_to_p50": round(
            latency_summary(accepted)["p50_ms"] / text_p50 - 1, 3) if text_p50 else None,
    }  # fmt: skip


async def main(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for label, offered in (("through_the_sender", None),
                           ("through_the_sender_steady", args.steady_rate)):  # fmt: skip
        with servers() as found:
            await migrate_database(found.database_url)
            figures[label] = await through_the_sender(
                found.nats_url, found.database_url, args.sender_texts, args.provider,
                offered_per_second=offered,
            )  # fmt: skip
        print(label, figures[label], flush=True)
    if args.only == "sender":
        return figures
    for label, numbers, rate, from_backlog in (
            ("many_numbers", args.numbers, args.rate, False),
            ("many_numbers_from_backlog", args.numbers, args.rate, True),
            ("default_rate", 100, 1.0, False)):  # fmt: skip
        with servers() as found:
            await migrate_database(found.database_url)
            figures[label] = await run(found.nats_url, found.database_url, numbers, rate,
                                       args.seconds, args.provider,
                                       from_backlog=from_backlog)  # fmt: skip
        print(label, figures[label], flush=True)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=5.0, help="of texts per number")
    parser.add_argument("--sender-texts", type=int, default=4000)
    parser.add_argument("--provider", choices=["twilio", "telnyx"], default="twilio")
    parser.add_argument("--steady-rate", type=float, default=200.0,
                        help="texts/s offered in the steady run through the sender")  # fmt: skip
    parser.add_argument("--only", choices=["sender"], default=None,
                        help="only the runs through the sender")  # fmt: skip
    arguments = parser.parse_args()
    figures = asyncio.run(main(arguments))
    name = "bridge" if arguments.provider == "twilio" else f"bridge_{arguments.provider}"
    name += "_through_the_sender" if arguments.only == "sender" else ""
    print(write_results(name, figures))
