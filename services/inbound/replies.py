"""A contact's reply: recorded once, and its conversation flipped to needs-reply (or closed on
STOP), whoever holds it; Unassigned replies wait for texters requesting replies."""

from __future__ import annotations

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import Counter

from services.inbound.opt_out import is_opt_out
from shared.errors import bad_request
from shared.phones import InvalidPhoneError, to_e164
from shared.queries import load_queries
from shared.schemas.messaging import InboundSms

QUERIES = load_queries("services.inbound")
RECEIVED = Counter(
    "baton_messages_received_total", "Contacts' messages ingested, by outcome.", ["outcome"]
)


class Replies:
    def __init__(self, pool: asyncpg.Pool, default_region: str = "US") -> None:
        self._pool = pool
        self._region = default_region

    async def ingest(self, sms: InboundSms, _: Msg) -> None:
        try:
            phone = to_e164(sms.from_, self._region)
        except InvalidPhoneError as exc:
            raise bad_request(f"sender number: {exc}") from None
        to = _normalise_or_raw(sms.to, self._region)
        if not is_opt_out(sms.body):
            outcome = await self._ingest_reply(sms, phone, to)
        else:
            outcome = await self._ingest_opt_out(sms, phone, to)
        RECEIVED.labels(outcome).inc()

    async def _ingest_reply(self, sms: InboundSms, phone: str, to: str) -> str:
        """The common case in one statement; an unknown number is kept apart."""
        row = await self._pool.fetchrow(
            QUERIES["ingest_reply"], phone, to, sms.body, sms.provider_message_id, sms.received_at
        )
        assert row is not None
        if row["conversation_id"] is None:
            await self._pool.execute(
                QUERIES["insert_unmatched"], sms.provider_message_id, phone, to, sms.body,
                sms.received_at,
            )  # fmt: skip
            return "unmatched"
        return "needs_reply" if row["new"] else "duplicate"

    async def _ingest_opt_out(self, sms: InboundSms, phone: str, to: str) -> str:
        """STOP and friends: the message, the opt-out and closing every conversation of the
        number in the organization, in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            conversation = await conn.fetchrow(QUERIES["match_conversation"], phone, to)
            if conversation is None:
                await conn.execute(
                    QUERIES["insert_unmatched"],
                    sms.provider_message_id,
                    phone,
                    to,
                    sms.body,
                    sms.received_at,
                )
                outcome = "unmatched"
            elif (
                await conn.fetchval(
                    QUERIES["insert_inbound"],
                    conversation["id"],
                    sms.body,
                    sms.provider_message_id,
                    sms.received_at,
                )
                is None
            ):
                outcome = "duplicate"
            else:
                await conn.execute(QUERIES["add_opt_out"], conversation["org_id"], phone)
                await conn.execute(QUERIES["close_for_phone"], conversation["org_id"], phone)
                outcome = "opt_out"
        return outcome


def _normalise_or_raw(number: str, region: str) -> str:
    try:
        return to_e164(number, region)
    except InvalidPhoneError:
        return number  # a short code: kept as given, matched as given
