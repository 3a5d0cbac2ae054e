"""The SMS provider bridge: takes texts from OUTBOUND, acknowledges them with receipts, and
delivers contacts' replies (some of them STOP) to INBOUND.

It stands in for the bridge of one simulated campaign on a Baton that may carry others, and
earlier simulations' texts: it reads OUTBOUND through a consumer of its own, from the texts
published after it started, and acts only on its campaign's texts (another campaign's are some
other bridge's to deliver). Its consumer goes when it stops, or a minute after it vanishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from datetime import UTC, datetime

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shared.contract import catalogue as api

CONSUMER_PREFIX = "simulated-bridge-"


class Bridge:
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
        self._sending_number = sending_number
        self._consumer = f"{CONSUMER_PREFIX}{uuid.uuid4().hex[:12]}"
        self._reply_rate = reply_rate
        self._stop_rate = stop_rate
        self._random = random.Random(seed)
        self.delivered: dict[int, str] = {}  # message id -> phone
        # message id -> the OUTBOUND stream sequences it was found at: one each, exactly once
        self.stream_copies: dict[int, set[int]] = {}
        self.redelivered = 0
        self.replies = 0
        self.stops: dict[str, int] = {}  # phone -> conversation id
        self.confirmations: set[int] = set()  # message ids of opt-out confirmations
        self.conversation_of: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Set on every delivery, for whoever waits for the last texts to arrive.
        self.delivery = asyncio.Event()

    @property
    def replying(self) -> bool:
        """A contact's reply (a STOP, perhaps) is still on its way to INBOUND."""
        return bool(self._tasks)

    async def run(self, stop: asyncio.Event) -> None:
        # OUTBOUND is Baton's to declare (with its replicas); the bridge only adds its consumer.
        await self._js.add_consumer(
            "OUTBOUND",
            ConsumerConfig(
                durable_name=self._consumer,
                # One text per subject, `baton.outbound.sms.<message id>`
                # (shared/runtime/outbox.py).
                filter_subject=api.OUTBOUND_SMS.pattern,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.NEW,
                inactive_threshold=60.0,
            ),
        )
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
        for task in list(self._tasks):
            task.cancel()

    async def _deliver(self, text: dict[str, object]) -> None:
        message_id, phone = int(str(text["message_id"])), str(text["to"])
        self.delivered[message_id] = phone
        self.delivery.set()
        self.conversation_of[phone] = int(str(text["conversation_id"]))
        if text.get("kind") == "opt_out_confirmation":
            self.confirmations.add(message_id)
        # Decided before the first await, so that a fetch's texts, delivered together, draw from
        # the seeded random in the order they arrived: a run is the same each time.
        body = None
        confirmation = message_id in self.confirmations
        if (
            phone not in self.stops
            and not confirmation
            and self._random.random() < self._reply_rate
        ):
            body = "STOP" if self._random.random() < self._stop_rate else "Yes, count me in!"
        receipt = {
            "message_id": message_id,
            "status": "delivered",
            "provider_message_id": f"prov-{message_id}",
        }
        await self._publish(
            api.INBOUND_RECEIPT.subject, json.dumps(receipt).encode(), f"receipt-{message_id}"
        )
        if body is not None:
            task = asyncio.create_task(
                self._reply_later(phone, str(text["from_number"] or ""), body)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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

    async def _reply_later(self, phone: str, to: str, body: str) -> None:
        await asyncio.sleep(self._random.uniform(0.2, 1.5))
        reply = {
            "provider_message_id": str(uuid.uuid4()),
            "from": phone,
            "to": to or self._sending_number,
            "body": body,
            "received_at": datetime.now(UTC).isoformat(),
        }
        await self._publish(
            api.INBOUND_SMS.subject, json.dumps(reply).encode(), reply["provider_message_id"]
        )
        self.replies += 1
        if body == "STOP":
            self.stops[phone] = self.conversation_of[phone]
