"""A JetStream pull consumer loop: short fetches in batches, ack after commit, never lose a message.

- A message that decodes and is handled: ack (after the handler's transaction committed).
- A payload that cannot be parsed, or that the handler rejects as bad data: published to
  `baton.deadletter.<source>` with the reason, then terminated. Poison never loops.
- A passing error (Postgres or NATS unavailable, a deadlock: shared/runtime/outages.py): nak with a
  delay; it comes back, and is never dead-lettered for it.
- Any other failure: nak with a delay too, and after `max_attempts` deliveries dead-lettered.
- An empty fetch is normal (TimeoutError); repeated fetch errors re-bind the subscription, since
  pull subscriptions can stall after a server restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import msgspec
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import Counter, Gauge

from shared.contract import catalogue as api
from shared.contract.errors import BatonError
from shared.contract.schemas.messaging import DeadLetter
from shared.domain.unstorable import unstorable_field
from shared.runtime import failpoints
from shared.runtime.backoff import Backoff
from shared.runtime.jetstream import ConsumerSpec
from shared.runtime.outages import is_unavailable

log = structlog.get_logger(__name__)
PayloadT = TypeVar("PayloadT")

PROCESSED = Counter(
    "baton_consumer_messages_total",
    "JetStream messages handled, by consumer and outcome.",
    ["consumer", "outcome"],
)
REDELIVERED = Counter(
    "baton_consumer_redeliveries_total", "Messages delivered more than once.", ["consumer"]
)
LAG = Gauge(
    "baton_consumer_pending",
    "Messages in the stream not yet delivered to the consumer.",
    ["consumer"],
)
ACK_PENDING = Gauge(
    "baton_consumer_ack_pending", "Messages delivered but not yet acknowledged.", ["consumer"]
)
REBIND_AFTER_ERRORS = 5
# Outcomes (the `outcome` label): a message settled for good, or put back because a server the
# handler needs is gone (Postgres down, NATS lost before the ack).
SETTLED = frozenset({"ok", "dead_lettered"})
UNAVAILABLE = "unavailable"


async def rebound_after_errors(
    sub: JetStreamContext.PullSubscription,
    bind: Callable[[], Awaitable[JetStreamContext.PullSubscription]],
    failures: int,
) -> JetStreamContext.PullSubscription:
    """At every REBIND_AFTER_ERRORS-th fetch failure in a row, a pull subscription bound again
    (they can stall after a server restart); otherwise, or when binding fails, `sub` as it is."""
    if failures % REBIND_AFTER_ERRORS != 0:
        return sub
    with contextlib.suppress(Exception):
        await sub.unsubscribe()
    with contextlib.suppress(Exception):
        return await bind()
    return sub


class PullWorker(Generic[PayloadT]):
    def __init__(
        self,
        js: JetStreamContext,
        spec: ConsumerSpec,
        payload_type: type[PayloadT],
        handle: Callable[[PayloadT, Msg], Awaitable[None]],
        *,
        source: str,
        batch: int = 256,
        fetch_timeout: float = 1.0,
        retry_delay: float = 2.0,
        max_attempts: int = 20,
        concurrency: int = 16,
        on_outage: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`on_outage`: called when a whole batch failed for an outage; the services pass their
        pool's `expire_connections`, so that the probes after the outage get fresh connections
        instead of spending one back-off step on each dead one."""
        self._js = js
        self._spec = spec
        self._type = payload_type
        self._handle = handle
        self._source = source
        self._batch = batch
        self._fetch_timeout = fetch_timeout
        self._retry_delay = retry_delay
        self._max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._on_outage = on_outage

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self._bind()
        fetch_failures = Backoff(base=0.1, cap=5.0)
        # While every message fails because a server the handler needs is gone, the worker waits
        # ever longer between tries and fetches one message at a time: a probe, not a batch of
        # 256 connection attempts. The first message handled ends it.
        outage = Backoff(base=0.25, cap=5.0)
        fetches = 0
        while not stop.is_set():
            try:
                messages = await sub.fetch(
                    1 if outage.failures else self._batch, timeout=self._fetch_timeout
                )
            except TimeoutError:  # nats' TimeoutError is one too: nothing to fetch right now
                messages = []
            except Exception as exc:
                log.warning(
                    "fetch_failed",
                    consumer=self._spec.durable,
                    error=str(exc) or type(exc).__name__,
                )
                sub = await rebound_after_errors(sub, self._bind, fetch_failures.failures + 1)
                await fetch_failures.wait(stop)
                continue
            fetch_failures.reset()
            if messages:
                outcomes = await asyncio.gather(*(self._process(m) for m in messages))
                if UNAVAILABLE in outcomes and not any(o in SETTLED for o in outcomes):
                    if self._on_outage is not None:
                        await self._on_outage()
                    delay = outage.next_delay()
                    log.warning(
                        "consumer_backing_off", consumer=self._spec.durable, delay_s=round(delay, 2)
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                elif "ok" in outcomes:  # handled: the handler's servers are back (a dead
                    outage.reset()  # letter says only that NATS is)
            fetches += 1
            if fetches % 20 == 0 or not messages:
                await self._report_lag()
        # Let go of the pull subscription ourselves: left to nc.drain(), it holds shutdown for
        # the whole drain timeout (30 s) waiting on fetch requests that will never complete.
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    async def _bind(self) -> JetStreamContext.PullSubscription:
        return await self._js.pull_subscribe_bind(
            durable=self._spec.durable, stream=self._spec.stream
        )

    async def _report_lag(self) -> None:
        with contextlib.suppress(Exception):
            info = await self._js.consumer_info(self._spec.stream, self._spec.durable)
            LAG.labels(self._spec.durable).set(info.num_pending or 0)
            ACK_PENDING.labels(self._spec.durable).set(info.num_ack_pending or 0)

    async def _process(self, msg: Msg) -> str:
        async with self._slots:
            try:
                outcome = await self._settle(msg)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                # NATS went away before the ack, nak or dead letter reached it: nothing is lost,
                # the message comes back after ack_wait. The worker carries on with the rest.
                log.warning(
                    "consumer_unsettled",
                    consumer=self._spec.durable,
                    cause=type(exc).__name__,
                    error=str(exc),
                )
                outcome = UNAVAILABLE
        PROCESSED.labels(self._spec.durable, outcome).inc()
        return outcome

    async def _settle(self, msg: Msg) -> str:
        attempts = msg.metadata.num_delivered or 1
        if attempts > 1:
            REDELIVERED.labels(self._spec.durable).inc()
        try:
            payload = msgspec.json.decode(msg.data, type=self._type)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            # Bad data fails every time: dead-lettered now, never retried. msgspec raises
            # UnicodeDecodeError (not DecodeError) for a string's bytes that are not UTF-8, as a
            # bridge writing CESU-8 sends; uncaught, it stopped the worker on every redelivery.
            return await self._dead_letter(msg, f"unparseable: {exc}")
        except RecursionError:
            return await self._dead_letter(msg, "unparseable: nested too deeply")
        # Checked after the schema has cleaned what it can (InboundSms: body, from, to): what is
        # left would fail the INSERT on every delivery, so it is bad data now, not a retry.
        if field := unstorable_field(payload):
            return await self._dead_letter(msg, f"bad_request: `{field}` holds a NUL")
        try:
            await self._handle(payload, msg)
        except BatonError as exc:
            return await self._dead_letter(msg, f"{exc.code}: {exc.message}")
        except Exception as exc:
            if is_unavailable(exc):
                # An outage, not a bad message: it comes back however many times that takes and
                # is never dead-lettered for it.
                log.warning(
                    "consumer_retry",
                    consumer=self._spec.durable,
                    cause=type(exc).__name__,
                    error=str(exc),
                )
                await msg.nak(delay=self._retry_delay)
                return UNAVAILABLE
            log.exception("consumer_failed", consumer=self._spec.durable, attempts=attempts)
            if attempts >= self._max_attempts:
                return await self._dead_letter(msg, f"failed {attempts} times: {exc!r}")
            await msg.nak(delay=self._retry_delay)
            return "retried"
        failpoints.reached(f"{self._spec.durable}:before_ack")
        await msg.ack()
        return "ok"

    async def _dead_letter(self, msg: Msg, reason: str) -> str:
        letter = DeadLetter(
            source=self._source,
            reason=reason,
            subject=msg.subject,
            payload=msg.data.decode("utf-8", errors="replace"),
        )
        # Dead-lettered first, terminated second: a crash between the two redelivers the message
        # (and dead-letters it again), never loses it. The Nats-Msg-Id dedupes the copy.
        stream_seq = msg.metadata.sequence.stream
        await self._js.publish(
            api.DEAD_LETTERS.at(self._source),
            msgspec.json.encode(letter),
            headers={"Nats-Msg-Id": f"{self._spec.stream}:{stream_seq}"},
        )
        await msg.term()
        log.warning("dead_lettered", consumer=self._spec.durable, reason=reason[:200])
        return "dead_lettered"
