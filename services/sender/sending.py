"""`baton.send.initial` and `baton.send.reply`: every check and the send in one transaction,
shared with the sends waiting at the same moment (services/sender/group_commit.py).

The last guard before a text goes out is services/sender/send_rules.py. The message and its
outbox row commit together; the outbox publisher sends it to OUTBOUND with Nats-Msg-Id = message
id. A retry with the same idempotency key answers with the first result and sends nothing new.
"""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter

from services.sender.group_commit import GroupCommit, Kind
from shared.contract.schemas import messaging as s
from shared.domain.clock import Clock, utc_now
from shared.runtime import outbox
from shared.runtime.access import Caller

SENT = Counter("baton_messages_sent_total", "Messages accepted for sending.", ["kind"])


class Sending:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: outbox.OutboxPublisher,
        clock: Clock = utc_now,
    ) -> None:
        # Looked up when called: endpoint lists are also built with no publisher (docs, tests).
        self._group = GroupCommit(pool, clock, on_texts_queued=lambda: publisher.nudge())

    async def initial(self, request: s.Send, caller: Caller) -> s.Sent:
        return await self._send(request, caller.user_id, "initial")

    async def reply(self, request: s.Send, caller: Caller) -> s.Sent:
        return await self._send(request, caller.user_id, "reply")

    async def _send(self, request: s.Send, texter_id: int, kind: Kind) -> s.Sent:
        sent = await self._group.send(request, texter_id, kind)
        if not sent.duplicate:
            SENT.labels(kind).inc()
        return sent
