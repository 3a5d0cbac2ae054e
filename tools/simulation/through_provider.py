"""The simulated campaign through Baton's own provider bridge and the provider simulator, as a
production text goes: the bridge takes each text from OUTBOUND (its own consumer), sends it with
the provider's SDK to the simulator, and publishes its `sent` receipt; the simulator calls back
`sent` and `delivered`, signed; a contact's answer is a signed webhook to the bridge, which keeps
it and puts it on INBOUND.

Nothing here takes a text, so nothing is taken twice. It watches with plain subscriptions (no
JetStream consumer): the campaign's texts as Baton publishes them on OUTBOUND, and the bridge's
`sent` receipts. A text whose `sent` receipt came has reached its contact, who may answer it
(tools/simulation/contacts.py) through the simulator. At the end, what the simulator accepted
from the campaign's number is set against the receipts: each text reached the provider exactly
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from typing import Any

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from shared.contract import catalogue as api
from tools.simulation.contacts import Contacts
from tools.simulation.simulator_link import SimulatorLink


class ThroughProvider:
    # What the run's conclusion calls the texts the bridge sent (their `sent` receipts).
    taken = "sent_by_bridge"

    def __init__(
        self,
        nc: NatsClient,
        campaign_id: int,
        sending_number: str,
        link: SimulatorLink,
        reply_rate: float,
        stop_rate: float,
        seed: int = 7,
    ) -> None:
        self._nc = nc
        self._campaign_id = campaign_id
        self._sending_number = sending_number
        self._link = link
        self.contacts = Contacts(sending_number, reply_rate, stop_rate, self._reply, seed)
        # The campaign's texts as published on OUTBOUND, by message id.
        self.texts: dict[int, dict[str, Any]] = {}
        # The provider's ids the bridge's `sent` receipts gave each message id.
        self.provider_ids: dict[int, set[str]] = {}
        self._texts_sub: Subscription | None = None
        self._receipts_sub: Subscription | None = None

    @property
    def described(self) -> str:
        return f"Baton's provider bridge, sending to the provider simulator at {self._link.url}"

    async def start(self) -> None:
        """Listens from now on: awaited before any texter sends (a text published before the
        server knew of the subscription would never be seen)."""
        self._texts_sub = await self._nc.subscribe(api.OUTBOUND_SMS.pattern, cb=self._on_text)
        try:
            self._receipts_sub = await self._nc.subscribe(
                api.INBOUND_RECEIPT.subject, cb=self._on_receipt
            )
            await self._nc.flush()
        except BaseException:
            await self._unsubscribe()
            raise

    async def run(self, stop: asyncio.Event) -> None:
        assert self._texts_sub is not None and self._receipts_sub is not None, (
            "run() before start()"
        )
        try:
            await stop.wait()
        finally:
            self.contacts.close()
            await self._unsubscribe()

    async def _unsubscribe(self) -> None:
        for subscription in (self._texts_sub, self._receipts_sub):
            if subscription is not None:
                with contextlib.suppress(nats.errors.Error):
                    await subscription.unsubscribe()
        self._texts_sub = self._receipts_sub = None

    async def _on_text(self, msg: Msg) -> None:
        text = json.loads(msg.data)
        if text.get("campaign_id") != self._campaign_id:
            return
        message_id = int(text["message_id"])
        if message_id in self.texts:
            return  # published again (an outbox retry): the stream keeps one, the bridge sends one
        self.texts[message_id] = text
        if message_id in self.provider_ids:  # its receipt overtook it
            self.contacts.receive(text)

    async def _on_receipt(self, msg: Msg) -> None:
        receipt = json.loads(msg.data)
        message_id, provider_id = receipt.get("message_id"), receipt.get("provider_message_id")
        if receipt.get("status") != "sent" or not isinstance(message_id, int) or not provider_id:
            return  # a status callback's receipt (no message id), or a failure
        first = message_id not in self.provider_ids
        self.provider_ids.setdefault(message_id, set()).add(str(provider_id))
        if first and message_id in self.texts:
            self.contacts.receive(self.texts[message_id])

    async def _reply(self, phone: str, to: str, body: str) -> None:
        await self._link.contact_text(phone, to, body)

    async def verdict(self, expected: set[int]) -> tuple[dict[str, int], dict[str, bool]]:
        """Each of `expected` (the campaign's texts) on OUTBOUND, and accepted by the simulator
        exactly once: one provider id each, and as many texts from the campaign's number as
        there are messages, each the one its receipt names."""
        accepted = Counter(await self._link.sids_from(self._sending_number))
        ours = {m: self.provider_ids.get(m, set()) for m in expected}
        # `{provider}:{account}:{id}` (services/bridge/): the simulator knows the id alone.
        receipted = {pid.rsplit(":", 1)[-1] for ids in ours.values() for pid in ids}
        return {"on_outbound": len(self.texts), "taken_by_provider": accepted.total()}, {
            "every accepted text reached OUTBOUND": set(self.texts) == expected,
            "every accepted text reached the provider exactly once": (
                all(len(ids) == 1 for ids in ours.values())
                and accepted.total() == len(expected)
                and set(accepted) == receipted
                and all(n == 1 for n in accepted.values())
            ),
        }
