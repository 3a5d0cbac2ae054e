"""Delivery receipts from the provider bridge update the delivery status of messages we sent."""

from __future__ import annotations

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import Counter

from services.sender.sending import QUERIES
from shared.errors import bad_request
from shared.phones import InvalidPhoneError, to_sending_number
from shared.schemas.messaging import Receipt

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
        updated = await self._pool.fetchval(
            QUERIES["apply_receipt"],
            receipt.message_id,
            receipt.provider_message_id,
            receipt.status,
            receipt.error_code,
            receipt.provider_message_id,
            self._our_number(receipt.from_),
        )
        if updated is not None:
            RECEIPTS.labels(receipt.status).inc()
