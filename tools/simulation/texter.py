"""A texter: joins by the invite link, sends initials at human speed, answers replies, and asks
for more conversations when done (the Request Conversations button). An unresponsive texter sends
the first batch and then stops: their replies wait until the reaper releases them.

Each texter's client carries that texter's own token: Baton knows who is asking from the token,
so joins, requests and sends name no texter."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

from shared.contract import catalogue as api
from shared.contract.errors import BatonError
from shared.contract.schemas.assign import BatchKind, Join, RequestBatch
from shared.contract.schemas.messaging import Send, Sent
from shared.contract.schemas.query import ConversationStatus, ListConversations
from shared.runtime.client import BatonClient


class Texter:
    def __init__(
        self, client: BatonClient, campaign: int, texter_id: int, rate: float, responsive: bool
    ) -> None:
        """`client` acts as `texter_id`."""
        self._client = client
        self._campaign = campaign
        self.texter_id = texter_id
        self._interval = 1.0 / rate
        self.responsive = responsive
        self.sent: list[int] = []  # message ids Baton accepted
        self.latencies: list[float] = []  # of sends, seconds
        self.request_latencies: list[float] = []  # of batch requests (Request Conversations)
        self.refusals: Counter[str] = Counter()
        self.batches = 0
        self.idle = False

    async def run(self, token: str, stop: asyncio.Event) -> None:
        joined = await self._client.call(api.ASSIGN_JOIN, Join(token=token))
        self.batches += 1 if joined.conversation_ids else 0
        while not stop.is_set():
            worked = await self._send_all("not_started", api.SEND_INITIAL, stop)
            if self.responsive:
                worked += await self._send_all("needs_reply", api.SEND_REPLY, stop)
            # An unresponsive texter is one who stopped: after the first batch, no more requests.
            got = self.responsive and (
                await self._request("initials") or await self._request("replies")
            )
            self.idle = not worked and not got
            if self.idle:
                await asyncio.sleep(0.5)

    async def _held(self, status: ConversationStatus) -> list[int]:
        page = await self._client.call(
            api.CONVERSATIONS,
            ListConversations(
                campaign_id=self._campaign,
                assignee_id=self.texter_id,
                status=status,
                limit=1000,
            ),
        )
        return [row.conversation_id for row in page.conversations]

    async def _send_all(
        self, status: ConversationStatus, route: api.Route[Send, Sent], stop: asyncio.Event
    ) -> int:
        done = 0
        for conversation in await self._held(status):
            if stop.is_set():
                break
            started = time.perf_counter()
            try:
                sent = await self._client.call(
                    route,
                    Send(
                        conversation_id=conversation,
                        body="Hi, it's a volunteer with the campaign. Can we count on your vote?",
                        idempotency_key=str(uuid.uuid4()),
                    ),
                )
                self.sent.append(sent.message_id)
                done += 1
            except BatonError as refusal:  # moved away, opted out meanwhile, ...
                self.refusals[str(refusal.code)] += 1
            self.latencies.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, self._interval - (time.perf_counter() - started)))
        return done

    async def _request(self, kind: BatchKind) -> bool:
        started = time.perf_counter()
        try:
            batch = await self._client.call(
                api.ASSIGN_REQUEST, RequestBatch(campaign_id=self._campaign, kind=kind)
            )
        except BatonError as refusal:
            self.refusals[str(refusal.code)] += 1
            return False
        finally:
            self.request_latencies.append(time.perf_counter() - started)
        self.batches += 1
        return bool(batch.conversation_ids)
