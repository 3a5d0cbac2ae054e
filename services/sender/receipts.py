"""Delivery receipts from the provider bridge update the delivery status of messages we sent."""

from __future__ import annotations

import asyncpg
import structlog
from nats.aio.msg import Msg
from prometheus_client import Counter

from services.sender.named_queries import QUERIES
from shared.errors import bad_request
from shared.phones import InvalidPhoneError, to_sending_number
from shared.schemas.messaging import Receipt

log = structlog.get_logger(__name__)
FOREIGN_FROM = Counter(
    "baton_receipts_foreign_from_total",
    "Receipts reporting a `from` number the message's organization does not own (ignored).",
)
RECEIPTS = Counter("baton_receipts_total", "Delivery receipts applied, by status.", ["status"])


class Receipts:
    def __init__(self, pool: asyncpg.Pool, default_region: str = "US") -> None:
        self._pool = pool
        self._region = default_region

    def _our_number(self, reported: str | None) -> str | None:
        if reported is None:
            return None
        try:
            return to_sending_number(reported, self._region)
        except InvalidPhoneError:
            return reported  # recorded as the bridge gave it; replies to it match it as given

    async def apply(self, receipt: Receipt, _: Msg) -> None:
        if receipt.message_id is None and receipt.provider_message_id is None:
            raise bad_request("a receipt names message_id or provider_message_id")
        # An unknown or already-final message changes nothing; redelivery is harmless.
        reported = self._our_number(receipt.from_)
        updated = await self._pool.fetchrow(
            QUERIES["apply_receipt"],
            receipt.message_id,
            receipt.provider_message_id,
            receipt.status,
            receipt.error_code,
            receipt.provider_message_id,
            reported,
        )
        if updated is None:
            return
        RECEIPTS.labels(receipt.status).inc()
        if reported is not None and updated["our_number"] != reported:
            # Kept off the message: replies to a number the organization does not own would
            # reach whoever does. The bridge's number pool is misconfigured; say so.
            FOREIGN_FROM.inc()
            log.warning("receipt_from_not_the_organizations", message_id=updated["id"],
                        reported=reported)  # fmt: skip
