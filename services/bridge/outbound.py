"""Texts out: from OUTBOUND to the provider, never two for one `message_id`.

Each text taken from the stream goes through these steps; a bridge killed between any two (the
crash points named below) leaves Postgres saying what a restarted one, or another replica, does:

1. `take_attempts`: the text's attempt row is created, counting its first call (or the lease on
   an existing row is taken), create-only on `message_id`. No lease: another replica holds the
   text; it comes back later.
2. A row already `sent` or `failed`: its receipt is published again and the text acked. A row
   `begun` after a call (`calls > 0`): that call's answer never arrived here, so the provider's
   message list is searched (to, from, since the first call, same body) before anything is sent.
   Found: recorded as sent. The lookup fails: the text comes back later; never sent blind.
3. `mark_calling` (a new row counted its call in step 1), the number's slot, then the provider
   call (the one moment a text can leave).
4. Accepted: `mark_sent` with the namespaced provider id, the `sent` receipt published, then ack.
   Refused for now (429, queue full), or the bridge's credentials refused (401/403: a
   deployment's fault, never the text's): `mark_refused` and back to the stream after the jittered
   back-off. A 5xx, a timeout or a lost connection: the row stays `begun` (looked up next time).
   Refused for good: `mark_failed`, a `failed` receipt with the code, ack.

Acks come only after the provider has answered for good and the receipt is on INBOUND; the
receipt's Nats-Msg-Id (`{provider message id}:sent`) makes a second copy of it harmless.

Steps 1 and 4 are group commits (shared/runtime/batch_writers.py, as the sender's sends): the
texts taken at one moment share one `take_attempts` statement, and the texts the provider accepted
at one moment one `mark_sent`. A text waits for its own batch's commit before its next step, so
each text passes the steps above in order and a crash point sees what it saw one text at a time;
a batch that fails fails each of its texts, which come back as when their own statement failed.
At low load a batch is one text and waits for nothing; under load the texts per statement grow
while the statements per second stay near the writers' count (a statement of one text cost the
bridge two round trips on the pool: the statement and the connection's reset).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
import msgspec
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import Counter, Gauge, Histogram

from services.bridge import queries as q
from services.bridge.lanes import Lanes
from services.bridge.provider import (
    SENDS_AT_ONCE,
    Accepted,
    Provider,
    ProviderRefusedError,
    ProviderUnreachableError,
)
from shared.contract import catalogue as api
from shared.contract.schemas.messaging import DeadLetter, OutboundSms, Receipt
from shared.domain.provider_codes import NO_SENDING_NUMBER
from shared.runtime import failpoints
from shared.runtime.backoff import Backoff
from shared.runtime.batch_writers import BatchWriters, fail_every, take_distinct
from shared.runtime.jetstream import ConsumerSpec
from shared.runtime.pull_worker import rebound_after_errors

log = structlog.get_logger(__name__)
T = TypeVar("T")

OUTBOUND_CONSUMER = ConsumerSpec(
    "OUTBOUND",
    "bridge-outbound",
    api.OUTBOUND_SMS.pattern,
    # Longer than one provider call (BATON_BRIDGE_PROVIDER_TIMEOUT_SECONDS, 10 s by default):
    # the wait for the number's slot ends with an in-progress signal, which restarts this clock.
    # Short, so that the texts a killed bridge held come back soon; the attempt's lease settles
    # a redelivery that arrives while another replica still holds the text.
    ack_wait_seconds=15.0,
)
TEXTS = Counter(
    "baton_bridge_texts_total",
    "Texts the bridge settled, by provider, outcome (sent, failed, retried) and provider code.",
    ["provider", "outcome", "code"],
)
UNKNOWN_CODES = Counter(
    "baton_bridge_unknown_codes_total",
    "Provider error codes the bridge does not know (settled as failed), by provider and code.",
    ["provider", "code"],
)
PROVIDER_SECONDS = Histogram(
    "baton_bridge_provider_call_seconds",
    "A provider call's latency, by provider and call (send, find).",
    ["provider", "call"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BACKLOG = Gauge(
    "baton_bridge_number_backlog", "Texts waiting for their number's next slot.", ["number"]
)
RATE = Gauge("baton_bridge_number_rate", "The rate a number is held to, texts/s.", ["number"])
CREDENTIALS_REFUSED = Gauge(
    "baton_bridge_provider_credentials_refused",
    "1 while the provider refuses the bridge's credentials (a wrong or rotated token, a suspended"
    " account): texts wait on the stream until they are fixed.",
    ["provider"],
)
IN_HAND = Gauge("baton_bridge_in_flight", "Texts taken from OUTBOUND and not yet settled.")
# The lane of texts with no number of their own that the Messaging Service (or profile) sends
# from its pool of numbers.
POOL_LANE = "pool"
# How long an organization's numbers held by the account are remembered for texts without one.
ORG_NUMBERS_SECONDS = 30.0
RATES_REFRESH_SECONDS = 30.0
# Texts per group-committed statement at most (one fetch's worth): bounds a statement's rows and
# how long it holds their locks.
ATTEMPT_BATCH = 256
# Statements of each kind in flight at once, each on a connection of the pool.
ATTEMPT_WRITERS = 2
ATTEMPT_BATCH_SIZE = Histogram(
    "baton_bridge_attempt_batch_size",
    "Texts whose attempt rows one statement took or marked sent, by statement.",
    ["statement"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


@dataclass(frozen=True)
class Held:
    text: OutboundSms
    msg: Msg


@dataclass
class _Taking:
    """A text waiting for its attempt row: the row, or None when another replica holds it."""

    text: OutboundSms
    answer: asyncio.Future[q.TakeAttemptsRow | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class _Marking:
    """A text the provider accepted, waiting for its `sent` to be recorded."""

    message_id: int
    provider_message_id: str
    answer: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Outbound:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        provider: Provider,
        *,
        default_rate: float,
        pool_rate: float | None = None,
        max_in_flight: int,
        backlog_seconds: float,
        lease_seconds: float,
        lookup_after_seconds: float = 10.0,
        fetch_batch: int = 256,
    ) -> None:
        self._pool = pool
        self._js = js
        self._provider = provider
        self._default_rate = default_rate
        self._rates: dict[str, float] = {POOL_LANE: pool_rate or default_rate}
        self._org_numbers: dict[int, tuple[float, list[str]]] = {}
        self._max_in_flight = max_in_flight
        self._lease = lease_seconds
        self._lookup_after = lookup_after_seconds
        self._batch = fetch_batch
        self._lanes: Lanes[Held] = Lanes(
            self._send, self._rate_for, backlog_seconds, calls_at_once=SENDS_AT_ONCE
        )
        self._taking = BatchWriters(self._next_takes, self._take_attempts, ATTEMPT_WRITERS)
        self._marking = BatchWriters(self._next_marks, self._mark_sent, ATTEMPT_WRITERS)

    def _rate_for(self, number: str) -> float:
        return self._rates.get(number, self._default_rate)

    async def _refresh_rates(self) -> None:
        rows = await q.number_rates(self._pool)
        pool = self._rates[POOL_LANE]
        self._rates = {row.phone: float(row.rate_per_second) for row in rows}
        self._rates[POOL_LANE] = pool

    async def _bind(self) -> JetStreamContext.PullSubscription:
        return await self._js.pull_subscribe_bind(
            durable=OUTBOUND_CONSUMER.durable, stream=OUTBOUND_CONSUMER.stream
        )

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self._bind()
        failures = Backoff(base=0.1, cap=5.0)
        rates_at = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() - rates_at > RATES_REFRESH_SECONDS:
                    await self._refresh_rates()
                    rates_at = time.monotonic()
                room = self._max_in_flight - self._lanes.held
                if room <= 0:
                    await asyncio.sleep(0.05)
                    continue
                try:
                    messages = await sub.fetch(min(room, self._batch), timeout=1.0)
                except TimeoutError:
                    messages = []
                for msg in messages:
                    await self._take(msg)
                failures.reset()
            except Exception as exc:
                log.warning("bridge_fetch_failed", error=str(exc) or type(exc).__name__)
                sub = await rebound_after_errors(sub, self._bind, failures.failures + 1)
                await failures.wait(stop)
            self._report()
        await self._lanes.finish(grace_seconds=10)
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    def _report(self) -> None:
        IN_HAND.set(self._lanes.held)
        for number, waiting in self._lanes.backlog().items():
            BACKLOG.labels(number).set(waiting)

    async def _take(self, msg: Msg) -> None:
        try:
            text = msgspec.json.decode(msg.data, type=OutboundSms)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            await self._dead_letter(msg, f"unparseable: {exc}")
            return
        if text.from_number is None and not self._provider.picks_numbers:
            synced, chosen = await self._org_number(text)
            if not synced:  # the account's numbers not read yet: an empty list says nothing
                await msg.nak(delay=_retry_delay(msg))
                return
            text = msgspec.structs.replace(text, from_number=chosen)
        lane = text.from_number or POOL_LANE
        RATE.labels(lane).set(self._rate_for(lane))
        wait = self._lanes.admit(lane, Held(text, msg))
        if wait is not None:
            await msg.nak(delay=wait)

    async def _org_number(self, text: OutboundSms) -> tuple[bool, str | None]:
        """One of the text's organization's numbers that the account holds (docs/api.md: the
        bridge chooses one): the same one for a contact each time (by a stable hash of their
        number), so a text taken again is looked up from the number it may have gone from, and a
        contact hears from one number. None: the organization has none."""
        now = time.monotonic()
        known = self._org_numbers.get(text.org_id)
        if known is None or now - known[0] > ORG_NUMBERS_SECONDS:
            row = await q.org_numbers_held(
                self._pool,
                provider=self._provider.name,
                account=self._provider.account,
                org_id=text.org_id,
            )
            if not row.synced:
                return False, None
            phones = list(row.phones)
            if not phones:  # not remembered: a number added a moment later is used at once
                return True, None
            known = (now, phones)
            self._org_numbers[text.org_id] = known
        phones = known[1]
        return True, phones[zlib.crc32(text.to.encode()) % len(phones)]

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        letter = DeadLetter(
            source="bridge",
            reason=reason,
            subject=msg.subject,
            payload=msg.data.decode("utf-8", "replace"),
        )
        await self._js.publish(
            api.DEAD_LETTERS.at("bridge"),
            msgspec.json.encode(letter),
            headers={"Nats-Msg-Id": f"OUTBOUND:{msg.metadata.sequence.stream}"},
        )
        await msg.term()

    async def _send(self, lane: str, held: Held) -> None:
        try:
            await self.settle(held.text, held.msg, lane)
        except Exception as exc:
            # Postgres or NATS gone mid-way: the attempt row says where the text stands, and
            # the text comes back after the back-off (or ack_wait, if NATS is gone too).
            log.warning(
                "bridge_text_unsettled",
                message_id=held.text.message_id,
                error=str(exc) or type(exc).__name__,
            )
            with contextlib.suppress(Exception):
                await q.release_lease(self._pool, message_id=held.text.message_id)
            with contextlib.suppress(Exception):
                await held.msg.nak(delay=_retry_delay(held.msg))

    @staticmethod
    def _next_takes(waiting: deque[_Taking]) -> list[_Taking]:
        # One row per text in a statement: a text twice (taken again while in hand) waits.
        return take_distinct(waiting, ATTEMPT_BATCH, lambda taking: taking.text.message_id)

    async def _take_attempts(self, batch: list[_Taking]) -> None:
        try:
            rows = await q.take_attempts(
                self._pool,
                provider=self._provider.name,
                account=self._provider.account,
                lease_seconds=self._lease,
                message_ids=[t.text.message_id for t in batch],
                to_numbers=[t.text.to for t in batch],
                from_numbers=[t.text.from_number for t in batch],
            )
        except Exception as exc:
            fail_every(batch, exc)
            return
        ATTEMPT_BATCH_SIZE.labels("take_attempts").observe(len(batch))
        by_id = {row.message_id: row for row in rows}
        for taking in batch:
            if not taking.answer.done():
                taking.answer.set_result(by_id.get(taking.text.message_id))

    @staticmethod
    def _next_marks(waiting: deque[_Marking]) -> list[_Marking]:
        return take_distinct(waiting, ATTEMPT_BATCH, lambda marking: marking.message_id)

    async def _mark_sent(self, batch: list[_Marking]) -> None:
        try:
            await q.mark_sent(
                self._pool,
                message_ids=[m.message_id for m in batch],
                provider_message_ids=[m.provider_message_id for m in batch],
            )
        except Exception as exc:
            fail_every(batch, exc)
            return
        ATTEMPT_BATCH_SIZE.labels("mark_sent").observe(len(batch))
        for marking in batch:
            if not marking.answer.done():
                marking.answer.set_result(None)

    async def settle(self, text: OutboundSms, msg: Msg, lane: str) -> None:
        provider = self._provider
        taking = _Taking(text)
        self._taking.submit(taking)
        # Shielded: a text cancelled at shutdown does not cancel the statement it shares.
        row = await asyncio.shield(taking.answer)
        if row is None:  # another replica holds it; it settles it, or its lease runs out
            await msg.nak(delay=self._lease)
            return
        if row.state == "sent":
            # A sent row always names its provider id (mark_sent sets both).
            assert row.provider_message_id is not None
            await self._sent(text, msg, Accepted(row.provider_message_id, text.from_number))
            return
        if row.state == "failed":
            await self._failed(text, msg, row.error_code)
            return
        if row.from_number is not None and row.from_number != text.from_number:
            # Chosen for an earlier attempt from a list that has changed since: that number is
            # the one the text may have gone from, and is looked up and sent from.
            text = msgspec.structs.replace(text, from_number=row.from_number)
        if text.from_number is None and not provider.picks_numbers:
            # Nothing to send from: real Twilio refuses an empty MessagingServiceSid, so it is
            # not asked.
            TEXTS.labels(provider.name, "failed", NO_SENDING_NUMBER).inc()
            await q.mark_failed(self._pool, code=NO_SENDING_NUMBER, message_id=text.message_id)
            await self._failed(text, msg, NO_SENDING_NUMBER)
            return
        failpoints.reached("bridge-outbound:after_attempt_taken")
        if not row.fresh and row.state == "begun" and row.calls > 0:
            # A provider's message list may lag a just-taken text: looked up only once the last
            # call is old enough to be listed.
            since_call = row.since_call
            if since_call is not None and since_call < self._lookup_after:
                await q.release_lease(self._pool, message_id=text.message_id)
                await msg.nak(delay=self._lookup_after - since_call)
                return
            # A row with calls counted has its first call's time (take_attempt, mark_calling).
            assert row.first_call_at is not None
            found = await self._timed("find", provider.find(text, row.first_call_at))
            if found is not None:
                await self._record_sent(text, msg, found)
                return
        if not row.fresh:  # a new row has its call counted already
            await q.mark_calling(self._pool, message_id=text.message_id)
        # The number's slot is taken last, right before the call: no database wait lies between
        # the two to bunch a number's calls together.
        try:
            async with self._lanes.slot(lane):
                await msg.in_progress()  # the ack clock starts again for the call
                failpoints.reached("bridge-outbound:before_provider_call")
                accepted = await self._timed("send", provider.send(text))
        except ProviderRefusedError as refused:
            await self._refused(text, msg, refused)
            return
        except ProviderUnreachableError as exc:
            TEXTS.labels(provider.name, "retried", "unreachable").inc()
            log.warning("provider_unreachable", message_id=text.message_id, error=str(exc))
            await q.release_lease(self._pool, message_id=text.message_id)
            await msg.nak(delay=_retry_delay(msg))
            return
        failpoints.reached("bridge-outbound:after_provider_accepted")
        CREDENTIALS_REFUSED.labels(provider.name).set(0)
        await self._record_sent(text, msg, accepted)

    async def _timed(self, call: str, work: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await work
        finally:
            PROVIDER_SECONDS.labels(self._provider.name, call).observe(
                time.perf_counter() - started
            )

    async def _record_sent(self, text: OutboundSms, msg: Msg, accepted: Accepted) -> None:
        marking = _Marking(text.message_id, accepted.provider_message_id)
        self._marking.submit(marking)
        await asyncio.shield(marking.answer)
        failpoints.reached("bridge-outbound:after_sent_recorded")
        TEXTS.labels(self._provider.name, "sent", "").inc()
        await self._sent(text, msg, accepted)

    async def _sent(self, text: OutboundSms, msg: Msg, accepted: Accepted) -> None:
        receipt = Receipt(
            status="sent",
            message_id=text.message_id,
            provider_message_id=accepted.provider_message_id,
            from_=accepted.from_number or text.from_number,
        )
        await self._publish(receipt, f"{accepted.provider_message_id}:sent")
        failpoints.reached("bridge-outbound:before_ack")
        await msg.ack()

    async def _refused(self, text: OutboundSms, msg: Msg, refused: ProviderRefusedError) -> None:
        outcome, name = refused.outcome, self._provider.name
        if outcome.kind == "credentials":
            # The deployment's fault, not the text's: it is not failed, it waits for the fix.
            # One line per code, rate-limited like every repeated line; no token in it.
            CREDENTIALS_REFUSED.labels(name).set(1)
            TEXTS.labels(name, "retried", outcome.code).inc()
            log.error("provider_credentials_refused", provider=name, code=outcome.code)
            await q.mark_refused(self._pool, code=outcome.code, message_id=text.message_id)
            await msg.nak(delay=_retry_delay(msg))
            return
        if outcome.kind == "retry":
            TEXTS.labels(name, "retried", outcome.code).inc()
            if outcome.maybe_taken:  # the text may be at the provider: looked up next time
                await q.release_lease(self._pool, message_id=text.message_id)
            else:
                await q.mark_refused(self._pool, code=outcome.code, message_id=text.message_id)
            await msg.nak(delay=_retry_delay(msg))
            return
        if not outcome.known:
            UNKNOWN_CODES.labels(name, outcome.code).inc()
        TEXTS.labels(name, "failed", outcome.code).inc()
        await q.mark_failed(self._pool, code=outcome.code, message_id=text.message_id)
        await self._failed(text, msg, outcome.code)

    async def _failed(self, text: OutboundSms, msg: Msg, code: str | None) -> None:
        # A carrier's opt-out (21610) is applied by the sender from this receipt's code, in the
        # text's organization (services/sender/receipts.py): one place records every opt-out.
        receipt = Receipt(
            status="failed", message_id=text.message_id, error_code=code, from_=text.from_number
        )
        provider = self._provider
        await self._publish(
            receipt, f"{provider.name}:{provider.account}:baton-{text.message_id}:failed"
        )
        await msg.ack()

    async def _publish(self, receipt: Receipt, msg_id: str) -> None:
        await self._js.publish(
            api.INBOUND_RECEIPT.subject,
            msgspec.json.encode(receipt),
            headers={"Nats-Msg-Id": msg_id},
        )


def _retry_delay(msg: Msg) -> float:
    """The one jittered back-off, by how many times the text was delivered already."""
    delivered = msg.metadata.num_delivered or 1
    return Backoff(base=1.0, cap=60.0, failures=delivered - 1).next_delay()
