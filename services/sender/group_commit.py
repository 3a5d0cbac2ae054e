"""Group commit for sends: the sends waiting at one moment share one transaction.

A send arrives, waits in line, and the first free writer takes everything waiting (up to
MAX_BATCH) and does it with set-based statements: one read of the idempotency keys, one locked
read of the conversations, one insert of the messages, one status update, one outbox insert,
one commit. At low load a send waits for nothing (a writer is free, the batch is one send); under
load the line fills while the writers work, so the number of commits per second stays near the
number of writers while the sends per commit grow. Each send is answered on its own: a refusal
(not the holder, opted out, outside texting hours, ...) fails that send alone, and the others of
its batch go out. Every check is the single send's (services/sender/send_rules.py).

The guarantees are the single send's, batch or not:
- A key seen before answers with its first result; the unique index on (texter, key) stays the
  last word, so a key taken by a concurrent batch is skipped by the insert and answered as a
  retry (`duplicate`). A key twice in one batch: the first goes, the second is its retry.
- A conversation twice in one batch: the second waits for the next batch, so it sees the first's
  effect (`already_sent`, for two initials), exactly as two sends one after the other would.
- If the transaction fails, nothing of the batch happened, and every send of it gets the error
  (an outage: `unavailable`, retry with the same key). A crash after the commit and before the
  answers leaves committed sends that a retry with the same key finds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import asyncpg
import msgspec
import structlog
from prometheus_client import Histogram

from services.sender import queries
from services.sender.send_rules import ConversationForSend, refusal_for
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError
from shared.contract.schemas import messaging as s
from shared.domain.clock import Clock
from shared.runtime import failpoints, outbox
from shared.runtime.batch_writers import BatchWriters, fail_every, take_distinct
from shared.runtime.database import Connection
from shared.runtime.outbound import OUTBOUND_SUBJECT

log = structlog.get_logger(__name__)
Kind = Literal["initial", "reply"]
# Sends per transaction at most: bounds a batch's statements and how long its locks are held.
MAX_BATCH = 128
BATCH_SIZE = Histogram(
    "baton_send_batch_size",
    "Sends committed together by the sender's group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)


@dataclass
class _Send:
    request: s.Send
    texter_id: int
    kind: Kind
    answer: asyncio.Future[s.Sent] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def key(self) -> tuple[int, str]:
        return (self.texter_id, self.request.idempotency_key)


class GroupCommit:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        on_texts_queued: Callable[[], None],
        writers: int = 4,
    ) -> None:
        self._pool = pool
        # Called after a batch that queued new texts commits (the outbox publishes them now).
        self._on_texts_queued = on_texts_queued
        self._clock = clock
        self._writers = BatchWriters(self._take, self._commit, writers)

    async def send(self, request: s.Send, texter_id: int, kind: Kind) -> s.Sent:
        pending = _Send(request, texter_id, kind)
        self._writers.submit(pending)
        # Shielded: a caller that gives up does not cancel the batch the send is in.
        return await asyncio.shield(pending.answer)

    @staticmethod
    def _take(waiting: deque[_Send]) -> list[_Send]:
        """Up to MAX_BATCH waiting sends, at most one per conversation."""
        return take_distinct(waiting, MAX_BATCH, lambda send: send.request.conversation_id)

    async def _commit(self, batch: list[_Send]) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                outcomes = await self._apply(conn, batch)
        except Exception as exc:
            fail_every(batch, exc)
            return
        BATCH_SIZE.observe(len(batch))
        failpoints.reached("sender:after_batch_commit")
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.answer.done():  # never, while sends are shielded; a writer must not die
                continue
            if isinstance(outcome, BatonError):
                pending.answer.set_exception(outcome)
            else:
                pending.answer.set_result(outcome)
        if any(isinstance(o, s.Sent) and not o.duplicate for o in outcomes):
            self._on_texts_queued()

    async def _apply(self, conn: Connection, batch: list[_Send]) -> list[s.Sent | BatonError]:
        outcomes: dict[int, s.Sent | BatonError] = {}
        earlier = await self._previous(conn, batch)
        first_with_key: dict[tuple[int, str], int] = {}
        fresh: list[int] = []
        for i, pending in enumerate(batch):
            if pending.key in earlier:
                outcomes[i] = _retry_answer(pending, earlier[pending.key])
            elif pending.key in first_with_key:
                continue  # answered as a retry of the first, below
            else:
                first_with_key[pending.key] = i
                fresh.append(i)
        rows = await queries.conversations_for_send(
            conn,
            conversation_ids=[batch[i].request.conversation_id for i in fresh],
            caller_ids=[batch[i].texter_id for i in fresh],
        )
        found = {fresh[row.i - 1]: row for row in rows}
        now = self._clock()
        going: list[int] = []
        for i in fresh:
            refusal = refusal_for(
                batch[i].request, batch[i].texter_id, batch[i].kind, found.get(i), now
            )
            if refusal is None:
                going.append(i)
            else:
                outcomes[i] = refusal
        # A refused send may be the retry of one another batch committed while this one waited
        # on the conversation's lock: looked for before the lock, it was not there yet, and the
        # conversation it finds now is already sent. It gets that send's answer, as any retry.
        refused = [i for i in fresh if i in outcomes]
        if refused:
            committed = await self._previous(conn, [batch[i] for i in refused])
            for i in refused:
                if batch[i].key in committed:
                    outcomes[i] = _retry_answer(batch[i], committed[batch[i].key])
        inserted = await queries.insert_outbounds(
            conn,
            conversation_ids=[found[i].id for i in going],
            kinds=[batch[i].kind for i in going],
            texter_ids=[batch[i].texter_id for i in going],
            bodies=[batch[i].request.body for i in going],
            idempotency_keys=[batch[i].request.idempotency_key for i in going],
            our_numbers=[found[i].sending_number for i in going],
        )
        message_of = {(r.texter_id, r.idempotency_key): r.id for r in inserted}
        texts: list[tuple[str, str, bytes]] = []
        initials: list[int] = []
        replies: list[int] = []
        raced: list[int] = []
        for i in going:
            pending, row = batch[i], found[i]
            message_id = message_of.get(pending.key)
            if message_id is None:  # a concurrent batch took this key first
                raced.append(i)
                continue
            (initials if pending.kind == "initial" else replies).append(row.id)
            texts.append(_text(message_id, pending, row))
            outcomes[i] = s.Sent(message_id=message_id, conversation_id=row.id, status="queued")
        if initials or replies:
            await queries.mark_sent(conn, initials=initials, replies=replies)
        await outbox.enqueue_many(conn, texts)
        if raced:
            taken = await self._previous(conn, [batch[i] for i in raced])
            for i in raced:
                outcomes[i] = _retry_answer(batch[i], taken[batch[i].key])
        for i, pending in enumerate(batch):
            if i not in outcomes:  # the same key twice in this batch: the first's answer
                first = first_with_key[pending.key]
                outcomes[i] = _as_retry(batch[first], outcomes[first], pending)
        return [outcomes[i] for i in range(len(batch))]

    async def _previous(
        self, conn: Connection, batch: list[_Send]
    ) -> dict[tuple[int | None, str | None], queries.PreviousSendsRow]:
        rows = await queries.previous_sends(
            conn,
            texter_ids=[p.texter_id for p in batch],
            idempotency_keys=[p.request.idempotency_key for p in batch],
        )
        return {(r.texter_id, r.idempotency_key): r for r in rows}


def _retry_answer(pending: _Send, row: queries.PreviousSendsRow) -> s.Sent | BatonError:
    if row.conversation_id != pending.request.conversation_id or row.kind != pending.kind:
        return _key_reused()
    return s.Sent(
        message_id=row.id,
        conversation_id=row.conversation_id,
        status=row.delivery_status,
        duplicate=True,
    )


def _as_retry(first: _Send, outcome: s.Sent | BatonError, pending: _Send) -> s.Sent | BatonError:
    """The answer to `pending`, which carries the key `first` (of the same batch) carried."""
    if (
        first.request.conversation_id != pending.request.conversation_id
        or first.kind != pending.kind
    ):
        return _key_reused()
    if isinstance(outcome, BatonError):
        return outcome
    return msgspec.structs.replace(outcome, duplicate=True)


def _key_reused() -> BatonError:
    return BatonError(
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        "This idempotency key was already used for another text (another conversation, or an "
        "initial and a reply)",
    )


def _text(message_id: int, pending: _Send, row: ConversationForSend) -> tuple[str, str, bytes]:
    sms = s.OutboundSms(
        message_id=message_id,
        conversation_id=row.id,
        campaign_id=row.campaign_id,
        org_id=row.org_id,
        to=row.phone,
        from_number=row.sending_number,
        body=pending.request.body,
        kind=pending.kind,
    )
    return (OUTBOUND_SUBJECT, str(message_id), msgspec.json.encode(sms))
