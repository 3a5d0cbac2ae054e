"""The simulation's stand-in for the SMS provider bridge, where Baton runs none: takes texts from
OUTBOUND, acknowledges them with receipts, and delivers contacts' replies (some of them STOP,
tools/simulation/contacts.py) to INBOUND. Where Baton runs its own bridge against the provider
simulator, the simulation goes through that instead (tools/simulation/through_provider.py).

It stands in for the bridge of one simulated campaign on a Baton that may carry others, and
earlier simulations' texts: it reads OUTBOUND through a consumer of its own, from the texts
published after it started, and acts only on its campaign's texts (another campaign's are some
other bridge's to deliver). Its consumer goes when it stops, or a minute after it vanishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shared.contract import catalogue as api
from tools.simulation.contacts import Contacts

CONSUMER_PREFIX = "simulated-bridge-"


class Bridge:
    # What the run's conclusion calls the texts this bridge took.
    taken = "delivered_to_bridge"

    def __init__(
        self,
        nc: NatsClient,
        campaign_id: int,
        sending_number: str,
        reply_rate: float,
        stop_rate: float,
        seed: int = 7,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._campaign_id = campaign_id
        self._consumer = f"{CONSUMER_PREFIX}{uuid.uuid4().hex[:12]}"
        self.contacts = Contacts(sending_number, reply_rate, stop_rate, self._reply, seed)
        # message id -> the OUTBOUND stream sequences it was found at: one each, exactly once
        self.stream_copies: dict[int, set[int]] = {}
        self.redelivered = 0
        self._started = False

    @property
    def described(self) -> str:
        return "the simulation's own in-process bridge (Baton runs no provider bridge)"

    async def start(self) -> None:
        """Creates its consumer, which takes the texts published from then on: awaited before
        any texter sends (a cluster may take seconds to create it, and texts published meanwhile
        were never seen: a campaign then waited for them to its time limit)."""
        # OUTBOUND is Baton's to declare (with its replicas); the bridge only adds its consumer.
        config = ConsumerConfig(
            durable_name=self._consumer,
            # One text per subject, `baton.outbound.sms.<message id>` (shared/runtime/outbox.py).
            filter_subject=api.OUTBOUND_SMS.pattern,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW,
            inactive_threshold=60.0,
        )
        # Tried again as `_publish` is: a cluster electing a leader answers late or 503 for a
        # moment, and creating the same consumer twice is harmless.
        for attempt in range(60):
            try:
                await self._js.add_consumer("OUTBOUND", config)
                break
            except (nats.errors.Error, TimeoutError):
                if attempt == 59:
                    raise
                await asyncio.sleep(0.5)
        self._started = True

    async def run(self, stop: asyncio.Event) -> None:
        # Without start() the fetches below fail on a missing consumer, are taken for a leader
        # election, and the run waits out its time limit: the symptom start() exists to end.
        assert self._started, "run() before start()"
        sub = await self._js.pull_subscribe_bind(durable=self._consumer, stream="OUTBOUND")
        while not stop.is_set():
            try:
                messages = await sub.fetch(100, timeout=0.5)
            except TimeoutError:
                continue
            except nats.errors.Error:  # a cluster electing a new stream leader: wait and go on
                await asyncio.sleep(0.5)
                continue
            ours = []
            for msg in messages:
                text = json.loads(msg.data)
                if text.get("campaign_id") == self._campaign_id:
                    message_id = int(text["message_id"])
                    self.stream_copies.setdefault(message_id, set()).add(
                        msg.metadata.sequence.stream
                    )
                    ours.append(text)
                    if (msg.metadata.num_delivered or 1) > 1:
                        self.redelivered += 1
            # A fetch's receipts go out together: one awaited publish per text held the bridge
            # to about a thousand texts a second, behind a Baton sending 1,200 (the soak of
            # issue 29 ended with tens of thousands of texts not yet taken). Acked only after.
            await asyncio.gather(*(self._deliver(text) for text in ours))
            for msg in messages:
                await msg.ack()
        await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await self._js.delete_consumer("OUTBOUND", self._consumer)
        self.contacts.close()

    async def _deliver(self, text: dict[str, object]) -> None:
        message_id = int(str(text["message_id"]))
        # Before the first await: a fetch's texts reach their contacts in the order they came.
        self.contacts.receive(text)
        receipt = {
            "message_id": message_id,
            "status": "delivered",
            "provider_message_id": f"prov-{message_id}",
        }
        await self._publish(
            api.INBOUND_RECEIPT.subject, json.dumps(receipt).encode(), f"receipt-{message_id}"
        )

    async def _publish(self, subject: str, payload: bytes, msg_id: str) -> None:
        """Publish until JetStream acknowledges, as a real bridge must: a stream whose leader is
        being re-elected answers 503 for a moment. The message id makes a retry harmless."""
        for attempt in range(60):
            try:
                await self._js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
                return
            except (nats.errors.Error, TimeoutError):
                if attempt == 59:
                    raise
                await asyncio.sleep(0.5)

    async def _reply(self, phone: str, to: str, body: str) -> None:
        reply = {
            "provider_message_id": str(uuid.uuid4()),
            "from": phone,
            "to": to,
            "body": body,
            "received_at": datetime.now(UTC).isoformat(),
        }
        await self._publish(
            api.INBOUND_SMS.subject, json.dumps(reply).encode(), reply["provider_message_id"]
        )

    async def verdict(self, expected: set[int]) -> tuple[dict[str, int], dict[str, bool]]:
        """What reached OUTBOUND: each of `expected` (the campaign's texts) exactly once."""
        copies = self.stream_copies
        return {"on_outbound": len(copies)}, {
            "every accepted text reached OUTBOUND exactly once": (
                set(copies) == expected and all(len(found) == 1 for found in copies.values())
            )
        }
