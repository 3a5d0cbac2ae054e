"""How a verified webhook's message is kept, whichever provider sent it: in the spool (durable
before the 2xx), under its Nats-Msg-Id, and counted."""

from __future__ import annotations

import msgspec
from prometheus_client import Counter

from services.bridge.outbound import TEXTS
from services.bridge.spool import Spool
from shared.contract import catalogue as api
from shared.contract.schemas.messaging import InboundSms, Receipt

RECEIVED = Counter(
    "baton_bridge_webhooks_total",
    "Signed webhooks kept, by provider and kind.",
    ["provider", "kind"],
)


async def keep_text(spool: Spool, provider: str, text: InboundSms) -> None:
    """A contact's text, under its namespaced provider id."""
    await spool.keep(api.INBOUND_SMS.subject, text.provider_message_id, msgspec.json.encode(text))
    RECEIVED.labels(provider, "message").inc()


async def keep_status(spool: Spool, provider: str, receipt: Receipt, provider_status: str) -> None:
    """A status callback as a receipt. The provider's own status is in the Nats-Msg-Id, so a
    `delivered` after a `sent` is not a repeat in the stream's window."""
    provider_id = receipt.provider_message_id or ""
    kept = await spool.keep(
        api.INBOUND_RECEIPT.subject,
        f"{provider_id}:{provider_status}",
        msgspec.json.encode(receipt),
        provider_id,
    )
    RECEIVED.labels(provider, "status").inc()
    if kept and receipt.status == "failed":
        # Most carrier filtering (Twilio 30007, Telnyx 40002/40003) is reported here, after the
        # send was accepted: the carrier-filtering alert counts it with the send calls' failures,
        # once however often the provider calls.
        TEXTS.labels(provider, "failed", receipt.error_code or "").inc()
