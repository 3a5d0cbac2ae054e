"""Delivery receipts from the provider bridge update the delivery status of messages we sent."""

from __future__ import annotations

import asyncpg
import structlog
from nats.aio.msg import Msg
from prometheus_client import Counter

from services.sender import queries
from shared.contract.errors import bad_request
from shared.contract.schemas.messaging import Receipt
from shared.domain.phones import InvalidPhoneError, to_sending_number
from shared.domain.provider_codes import is_carrier_opt_out
from shared.runtime import consent
from shared.runtime.database import Connection

log = structlog.get_logger(__name__)
FOREIGN_FROM = Counter(
    "baton_receipts_foreign_from_total",
    "Receipts reporting a `from` number the message's organization does not own (ignored).",
)
RECEIPTS = Counter("baton_receipts_total", "Delivery receipts applied, by status.", ["status"])
CARRIER_OPT_OUTS = Counter(
    "baton_carrier_opt_outs_total",
    "Contacts opted out because the carrier refused a text as opted out (Twilio 21610), new ones.",
)


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
        async with self._pool.acquire() as conn, conn.transaction():
            updated = await self._apply(conn, receipt, reported)
            if receipt.status == "failed" and is_carrier_opt_out(receipt.error_code):
                await self._carrier_opt_out(conn, receipt)
        if updated is None:
            return
        RECEIPTS.labels(receipt.status).inc()
        if reported is not None and updated.our_number != reported:
            # Kept off the message: replies to a number the organization does not own would
            # reach whoever does. The bridge's number pool is misconfigured; say so.
            FOREIGN_FROM.inc()
            log.warning(
                "receipt_from_not_the_organizations", message_id=updated.id, reported=reported
            )

    async def _apply(
        self, conn: Connection, receipt: Receipt, reported: str | None
    ) -> queries.ApplyReceiptRow | None:
        return await queries.apply_receipt(
            conn,
            message_id=receipt.message_id,
            provider_message_id=receipt.provider_message_id,
            status=receipt.status,
            error_code=receipt.error_code,
            new_provider_message_id=receipt.provider_message_id,
            reported_number=reported,
        )

    async def _carrier_opt_out(self, conn: Connection, receipt: Receipt) -> None:
        """The carrier refused the text because the contact opted out with it (they texted STOP
        to the carrier): recorded in the text's organization as their STOP would be, with no
        confirmation (the carrier already stops every text). A repeat changes nothing."""
        if receipt.message_id is None:
            return
        target = await queries.carrier_opt_out_target(conn, message_id=receipt.message_id)
        if target is None:
            return
        new = await consent.opt_out(
            conn,
            org_id=target.org_id,
            phone=target.phone,
            conversation_id=target.conversation_id,
            our_number=None,
            source="carrier",
            event_id=f"consent:carrier:{receipt.message_id}",
        )
        if new:
            CARRIER_OPT_OUTS.inc()
