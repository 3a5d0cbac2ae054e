"""The webhooks' durable spool: what a provider delivers is kept in Postgres before the webhook
is answered 2xx, then forwarded to INBOUND in arrival order, each once.

Why every message goes through it, not only while JetStream is away: the providers barely retry
(Twilio calls the fallback URL once; Telnyx tries three times within seconds), so a text must be
durable before the 2xx; and one queue keeps the order a STOP and a START arrived in, which two
paths (direct while up, spooled while down) would not. The forwarder publishes with the
message's own Nats-Msg-Id and deletes it after JetStream's PubAck: a bridge killed in between
publishes it again, which the stream drops as a repeat inside its duplicate window, and beyond
it Postgres does (a provider id already stored: services/inbound/collisions.py, and receipts
that never take a final status back).
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import msgspec
import structlog
from nats.js import JetStreamContext
from prometheus_client import Counter, Gauge

from services.bridge import queries as q
from shared.contract import catalogue as api
from shared.contract.schemas.messaging import Receipt
from shared.runtime.backoff import Backoff
from shared.runtime.outages import is_unavailable

log = structlog.get_logger(__name__)
SPOOLED = Gauge("baton_bridge_spooled", "Webhook messages kept, not yet on INBOUND.")
FORWARDED = Counter(
    "baton_bridge_forwarded_total", "Webhook messages forwarded to INBOUND, by kind.", ["kind"]
)
SPOOL_BYPASSED = Counter(
    "baton_bridge_spool_bypassed_total",
    "Webhook messages published straight to INBOUND because Postgres did not keep them, by why"
    " (unavailable, timeout).",
    ["reason"],
)
BATCH = 100
LEASE_SECONDS = 30.0
# A status for a text whose send the bridge has not recorded yet (its call's answer is still on
# the way) waits this long for it, then goes as it is. A held status is not leased: the messages
# after it are forwarded meanwhile (lease_spool).
HOLD_SECONDS = 60.0


class Spool:
    def __init__(
        self, pool: asyncpg.Pool, js: JetStreamContext, write_timeout_seconds: float
    ) -> None:
        self._pool = pool
        self._js = js
        self._write_timeout = write_timeout_seconds
        self._nudged = asyncio.Event()

    async def keep(
        self, subject: str, msg_id: str, payload: bytes, provider_message_id: str | None = None
    ) -> bool:
        """Durable when this returns; False when it was kept already (a repeat changes nothing;
        when Postgres was bypassed, a repeat JetStream still remembers).
        Postgres away, or not answering within the write timeout (which leaves room inside the
        provider's patience: settings.WEBHOOK_PATIENCE_SECONDS), it goes straight to INBOUND
        instead: stored there once JetStream acknowledges. A write that commits after all is
        forwarded later with the same Nats-Msg-Id: a repeat the stream, or Postgres beyond its
        window, drops."""
        try:
            kept = await asyncio.wait_for(
                q.spool(
                    self._pool,
                    subject=subject,
                    msg_id=msg_id,
                    payload=payload,
                    provider_message_id=provider_message_id,
                ),
                timeout=self._write_timeout,
            )
        except Exception as exc:
            if not isinstance(exc, TimeoutError) and not is_unavailable(exc):
                raise
            SPOOL_BYPASSED.labels(
                "timeout" if isinstance(exc, TimeoutError) else "unavailable"
            ).inc()
            ack = await self._js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
            # A repeat inside the stream's duplicate window is one there too: not counted again.
            return not ack.duplicate
        self._nudged.set()
        return kept is not None

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(base=0.2, cap=5.0)
        while not stop.is_set():
            try:
                forwarded = await self.forward_once()
                backoff.reset()
            except Exception as exc:
                log.warning("spool_not_forwarded", error=str(exc) or type(exc).__name__)
                await backoff.wait(stop)
                continue
            if not forwarded:
                self._nudged.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._nudged.wait(), timeout=1.0)

    async def forward_once(self) -> int:
        """Forward the oldest batch in order; stops at the first failure, keeping the order."""
        leased = await q.lease_spool(
            self._pool, limit=BATCH, lease_seconds=LEASE_SECONDS, hold_seconds=HOLD_SECONDS
        )
        rows = sorted(leased, key=lambda row: row.id)
        SPOOLED.set(await q.spooled(self._pool))
        done: set[int] = set()
        try:
            for row in rows:
                payload = await self._with_message_id(row)
                if payload is None:
                    continue  # its send's record went between the lease and here: next time
                await self._js.publish(row.subject, payload, headers={"Nats-Msg-Id": row.msg_id})
                await q.forwarded(self._pool, spool_id=row.id)
                FORWARDED.labels(row.subject.rsplit(".", 1)[-1]).inc()
                done.add(row.id)
        finally:
            left = [row.id for row in rows if row.id not in done]
            if left:
                with contextlib.suppress(Exception):
                    await q.release_spool(self._pool, spool_ids=left)
        return len(done)

    async def _with_message_id(self, row: q.LeaseSpoolRow) -> bytes | None:
        """A status callback names only the provider's id; the text's own id is added from the
        bridge's record, so a `delivered` that overtakes the send's `sent` receipt still finds
        its message (the sender applies a receipt by message_id first). None: held, for now."""
        payload = bytes(row.payload)
        provider_id = row.provider_message_id
        if row.subject != api.INBOUND_RECEIPT.subject or provider_id is None:
            return payload
        message_id = await q.message_for_provider_id(self._pool, provider_message_id=provider_id)
        if message_id is None:
            return None if row.age < HOLD_SECONDS else payload
        receipt = msgspec.json.decode(payload, type=Receipt)
        receipt.message_id = message_id
        return msgspec.json.encode(receipt)
