"""A contact's reply: recorded once, and its conversation flipped to needs-reply (or closed on
STOP), whoever holds it; Unassigned replies wait for texters requesting replies.

Replies that arrive together share one transaction (group commit, as the sender's sends do:
shared/runtime/batch_writers.py): the pull worker hands each fetched message to `ingest` at once,
the plain replies waiting at one moment are matched, locked in id order, recorded and flipped by one
set-based statement each, and each message is acked only after the commit that recorded it. A
batch that fails for anything but an outage is done again one message at a time, so a message
that cannot be stored fails alone. An opt-out or opt-in is its own transaction: the message, the
change of consent, what it does to the number's conversations and its event commit together.
A number's STOP and START take effect in the order they reached the stream, whichever process
handles them and however often one is delivered: the last applied is kept per organization and
number in Postgres (migration 0009), and an older word changes nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import Counter, Histogram

from services.inbound import collisions, queries
from services.inbound.opt_out import Outcome, classify
from shared.contract.errors import bad_request
from shared.contract.schemas.messaging import InboundSms
from shared.domain.phones import InvalidPhoneError, to_e164, to_sending_number
from shared.runtime import consent
from shared.runtime.batch_writers import BatchWriters, fail_every, take_distinct
from shared.runtime.database import Connection
from shared.runtime.outages import is_unavailable

RECEIVED = Counter(
    "baton_messages_received_total", "Contacts' messages ingested, by outcome.", ["outcome"]
)
# Replies per transaction at most: the pull worker's fetch (256 by default) fits in one or two.
MAX_BATCH = 256
REPLY_BATCH_SIZE = Histogram(
    "baton_reply_batch_size",
    "Contacts' replies committed together by inbound's group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


@dataclass
class _Message:
    sms: InboundSms
    phone: str  # the contact's, in E.164
    to: str  # the number they texted, normalised when it looks like one of ours
    answer: asyncio.Future[str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(frozen=True)
class _Recorded:
    org_id: int | None
    conversation_id: int | None  # None: it matched no conversation (unmatched_inbound)
    new: bool  # False: a redelivery of a message recorded before
    stored_id: str  # the provider's id, or the one derived from it on a collision


class Replies:
    def __init__(
        self,
        pool: asyncpg.Pool,
        nudge_outbox: Callable[[], None],
        default_region: str = "US",
        writers: int = 2,
    ) -> None:
        self._pool = pool
        # Called after an opt-out commits its event and confirmation: the event goes out now. The
        # confirmation is the sender's to publish (only its NATS user may text), at its outbox's
        # next poll, within a second.
        self._nudge_outbox = nudge_outbox
        self._region = default_region
        self._writers = BatchWriters(self._take, self._commit, writers)

    async def ingest(self, sms: InboundSms, msg: Msg | None) -> None:
        try:
            phone = to_e164(sms.from_, self._region, strict=False)
        except InvalidPhoneError as exc:
            raise bad_request(f"sender number: {exc}") from None
        message = _Message(sms, phone, _normalise_or_raw(sms.to, self._region))
        intent = classify(sms.body)
        if intent is None:
            self._writers.submit(message)
            # Shielded: a worker that gives up does not cancel the batch the reply is in.
            outcome = await asyncio.shield(message.answer)
        else:
            # Where the message sits in the stream: the order of a number's STOP and START.
            sequence = msg.metadata.sequence.stream if msg is not None else None
            async with self._pool.acquire() as conn, conn.transaction():
                outcome, collided = await self._consent(conn, message, intent, sequence)
            self._nudge_outbox()
            _count_collision(collided)
        RECEIVED.labels(outcome).inc()

    @staticmethod
    def _take(waiting: deque[_Message]) -> list[_Message]:
        """Up to MAX_BATCH waiting replies, at most one per provider message id: a copy is found
        as recorded in the next batch."""
        return take_distinct(waiting, MAX_BATCH, lambda message: message.sms.provider_message_id)

    async def _commit(self, batch: list[_Message]) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                recorded = await _record(conn, batch)
        except Exception as exc:
            if len(batch) > 1 and not is_unavailable(exc):
                for message in batch:  # one at a time, so only the culprit fails
                    await self._commit([message])
                return
            fail_every(batch, exc)
            return
        REPLY_BATCH_SIZE.observe(len(batch))
        for message, outcome in zip(batch, recorded, strict=True):
            _count_collision(_collision(message, outcome))
            if not message.answer.done():
                message.answer.set_result(_outcome(outcome))

    async def _consent(
        self, conn: Connection, message: _Message, intent: Outcome, sequence: int | None
    ) -> tuple[str, str | None]:
        """What became of a STOP or START, and where it collided (`_collision`)."""
        recorded = (await _record(conn, [message]))[0]
        return await self._consent_of(conn, message, recorded, intent, sequence), _collision(
            message, recorded
        )

    async def _consent_of(
        self,
        conn: Connection,
        message: _Message,
        recorded: _Recorded,
        intent: Outcome,
        sequence: int | None,
    ) -> str:
        org_id, conversation_id = recorded.org_id, recorded.conversation_id
        if conversation_id is None:
            if org_id is None or not recorded.new:
                return "unmatched"
            # A number the organization owns, from someone it never texted: the consent is
            # still the organization's to honour.
        elif not recorded.new:
            return "duplicate"
        assert org_id is not None  # a matched conversation has its campaign's organization
        phone, to = message.phone, message.to
        if sequence is not None and not await queries.consent_turn(
            conn, org_id=org_id, phone=phone, sequence=sequence
        ):
            # The number said something later that is already applied: this word is kept as
            # the message it is, and the consent stays what the later word made it.
            if intent == "opt_in" and await queries.late_start(
                conn,
                org_id=org_id,
                phone=phone,
                sequence=sequence,
                confirm=conversation_id is not None,
            ):
                # ...but in stream order it opted the number in, and the STOP applied before it
                # (a repeat then) began a new opt-out: that one is confirmed now.
                assert conversation_id is not None
                await consent.confirm_opt_out(
                    conn, org_id=org_id, conversation_id=conversation_id, phone=phone, our_number=to
                )
            return "consent_superseded"
        # The id the message is kept under: a STOP colliding with another's id has an event of
        # its own.
        stored_id = recorded.stored_id
        event_id = f"consent:{stored_id}"
        if intent == "opt_out":
            is_new = await consent.opt_out(
                conn,
                org_id=org_id,
                phone=phone,
                conversation_id=conversation_id,
                our_number=to,
                source="reply",
                event_id=event_id,
                provider_message_id=stored_id,
            )
            if sequence is not None:
                await queries.stop_applied(
                    conn, org_id=org_id, phone=phone, sequence=sequence, is_new=is_new
                )
            if not is_new:
                return "opt_out_repeated"  # consent already withdrawn: confirmed once, not again
            return intent
        opted_in = await consent.opt_in(
            conn,
            org_id=org_id,
            phone=phone,
            conversation_id=conversation_id,
            our_number=to,
            event_id=event_id,
            provider_message_id=stored_id,
        )
        if sequence is not None:
            await queries.start_applied(conn, org_id=org_id, phone=phone, sequence=sequence)
        if not opted_in:
            return "needs_reply" if conversation_id else "unmatched"  # had not opted out
        return intent


async def _record(conn: Connection, batch: list[_Message]) -> list[_Recorded]:
    """Match, lock, record and flip a batch of messages (one provider id each), in the caller's
    transaction; what became of each, in order. A provider id already taken is a repeat only if
    the message under it says the same (services/inbound/collisions.py)."""
    matches = await queries.match_messages(
        conn, phones=[m.phone for m in batch], to_numbers=[m.to for m in batch]
    )
    orgs = [r.org_id for r in matches]
    conversations = [r.conversation_id for r in matches]
    matched = [i for i, c in enumerate(conversations) if c is not None]
    unmatched = [i for i, c in enumerate(conversations) if c is None]
    stored: dict[int, tuple[str, bool]] = {}  # message -> (id kept under, new)
    if matched:
        locked = sorted({c for c in conversations if c is not None})
        await queries.lock_conversations(conn, conversation_ids=locked)
        inserted = await queries.insert_inbound_messages(
            conn,
            conversation_ids=[conversations[i] for i in matched],
            bodies=[batch[i].sms.body for i in matched],
            provider_message_ids=[batch[i].sms.provider_message_id for i in matched],
            received_ats=[batch[i].sms.received_at for i in matched],
            our_numbers=[batch[i].to for i in matched],
        )
        stored.update(_inserted(batch, matched, inserted))
        for i in matched:
            if i not in stored:
                stored[i] = await _store_taken(conn, batch[i], conversations[i], orgs[i])
        flipped = [conversations[i] for i in matched if stored[i][1]]
        if flipped:
            await queries.flip_to_needs_reply(conn, conversation_ids=flipped)
    if unmatched:
        unmatched_rows = await queries.insert_unmatched(
            conn,
            provider_message_ids=[batch[i].sms.provider_message_id for i in unmatched],
            from_phones=[batch[i].phone for i in unmatched],
            to_phones=[batch[i].to for i in unmatched],
            bodies=[batch[i].sms.body for i in unmatched],
            received_ats=[batch[i].sms.received_at for i in unmatched],
            org_ids=[orgs[i] for i in unmatched],
        )
        stored.update(_inserted(batch, unmatched, unmatched_rows))
        for i in unmatched:
            if i not in stored:
                stored[i] = await _store_taken(conn, batch[i], None, orgs[i])
    return [
        _Recorded(orgs[i], conversations[i], stored[i][1], stored[i][0]) for i in range(len(batch))
    ]


def _inserted(
    batch: list[_Message],
    rows: list[int],
    inserted: list[queries.InsertInboundMessagesRow] | list[queries.InsertUnmatchedRow],
) -> dict[int, tuple[str, bool]]:
    """The messages at `rows` that the batch insert stored under their provider ids."""
    new = {r.provider_message_id for r in inserted}
    ids = (batch[i].sms.provider_message_id for i in rows)
    return {i: (pid, True) for i, pid in zip(rows, ids, strict=True) if pid in new}


async def _store_taken(
    conn: Connection, message: _Message, conversation_id: int | None, org_id: int | None
) -> tuple[str, bool]:
    """A message whose provider id was taken: a repeat, or stored under a derived id."""
    sms = message.sms
    content = (message.phone, message.to, sms.body)

    async def insert(candidate: str) -> bool:
        if conversation_id is None:
            return bool(
                await queries.insert_unmatched(
                    conn,
                    provider_message_ids=[candidate],
                    from_phones=[message.phone],
                    to_phones=[message.to],
                    bodies=[sms.body],
                    received_ats=[sms.received_at],
                    org_ids=[org_id],
                )
            )
        return bool(
            await queries.insert_inbound_messages(
                conn,
                conversation_ids=[conversation_id],
                bodies=[sms.body],
                provider_message_ids=[candidate],
                received_ats=[sms.received_at],
                our_numbers=[message.to],
            )
        )

    # Where the message under a taken id is kept: the table this one would have gone to.
    same = queries.unmatched_repeats if conversation_id is None else queries.inbound_repeats

    async def repeats(candidate: str) -> bool | None:
        return await same(
            conn,
            provider_message_id=candidate,
            from_phone=message.phone,
            to_phone=message.to,
            body=sms.body,
        )

    ids = collisions.derived_ids(sms.provider_message_id, *content)
    return await collisions.store(ids, insert, repeats)


def _collision(message: _Message, recorded: _Recorded) -> str | None:
    """The table a new message was stored in under a derived id, if it was."""
    if not recorded.new or recorded.stored_id == message.sms.provider_message_id:
        return None
    return "unmatched_inbound" if recorded.conversation_id is None else "message"


def _count_collision(table: str | None) -> None:
    if table is not None:
        collisions.ID_COLLISIONS.labels(table).inc()


def _outcome(recorded: _Recorded) -> str:
    if recorded.conversation_id is None:
        return "unmatched"
    return "needs_reply" if recorded.new else "duplicate"


def _normalise_or_raw(number: str, region: str) -> str:
    try:
        return to_sending_number(number, region)
    except InvalidPhoneError:
        return number  # no number of ours looks like it: kept as given, in unmatched_inbound
