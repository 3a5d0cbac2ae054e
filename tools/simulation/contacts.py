"""The simulated campaign's contacts: each text that reaches one may draw an answer, some of
them STOP, sent a moment later. Whichever bridge carries the texts (the simulation's stand-in,
or Baton's own bridge and the provider simulator), the contacts decide the same way: by a
seeded random, in the order the texts reached them, so a run is the same each time."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping

# How a contact's text leaves: (the contact's phone, the number it texts, the body).
SendText = Callable[[str, str, str], Awaitable[None]]


class Contacts:
    def __init__(
        self,
        sending_number: str,
        reply_rate: float,
        stop_rate: float,
        send: SendText,
        seed: int = 7,
    ) -> None:
        self._sending_number = sending_number
        self._reply_rate = reply_rate
        self._stop_rate = stop_rate
        self._send = send
        self._random = random.Random(seed)
        self.delivered: dict[int, str] = {}  # message id -> phone
        self.replies = 0
        self.stops: dict[str, int] = {}  # phone -> conversation id
        self.confirmations: set[int] = set()  # message ids of opt-out confirmations
        self.conversation_of: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # A reply that could not be sent: the simulation fails with it.
        self.failed: BaseException | None = None
        # Set on every delivery, for whoever waits for the last texts to arrive.
        self.delivery = asyncio.Event()

    @property
    def replying(self) -> bool:
        """A contact's reply (a STOP, perhaps) is still on its way."""
        return bool(self._tasks)

    def receive(self, text: Mapping[str, object]) -> None:
        """A text (as on OUTBOUND) reached its contact, who may answer it."""
        message_id, phone = int(str(text["message_id"])), str(text["to"])
        self.delivered[message_id] = phone
        self.delivery.set()
        self.conversation_of[phone] = int(str(text["conversation_id"]))
        if text.get("kind") == "opt_out_confirmation":
            self.confirmations.add(message_id)
            return
        # Decided now, not after an await: texts received together draw from the seeded
        # random in the order they arrived.
        if phone in self.stops or self._random.random() >= self._reply_rate:
            return
        body = "STOP" if self._random.random() < self._stop_rate else "Yes, count me in!"
        to = str(text.get("from_number") or "") or self._sending_number
        task = asyncio.create_task(self._reply_later(phone, to, body))
        self._tasks.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failed = self.failed or task.exception()

    async def _reply_later(self, phone: str, to: str, body: str) -> None:
        await asyncio.sleep(self._random.uniform(0.2, 1.5))
        await self._send(phone, to, body)
        self.replies += 1
        if body == "STOP":
            self.stops[phone] = self.conversation_of[phone]

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
