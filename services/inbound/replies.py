"""A contact's reply: recorded once, and its conversation flipped to needs-reply (or closed on
STOP), whoever holds it; Unassigned replies wait for texters requesting replies."""

from __future__ import annotations

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import Counter

from services.inbound.opt_out import is_opt_out
from shared.database import Connection
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
        if is_opt_out(sms.body):
            # The message, the opt-out and closing every conversation of the number in the
            # organization commit together.
            async with self._pool.acquire() as conn, conn.transaction():
                outcome = await self._record(conn, sms, phone, to, opt_out=True)
        else:
            # A reply is one statement: no transaction round trips around it.
            async with self._pool.acquire() as conn:
                outcome = await self._record(conn, sms, phone, to, opt_out=False)
        RECEIVED.labels(outcome).inc()

    async def _record(
        self, conn: Connection, sms: InboundSms, phone: str, to: str, *, opt_out: bool
    ) -> str:
        row = await conn.fetchrow(
            QUERIES["ingest"], phone, to, sms.body, sms.provider_message_id, sms.received_at
        )
        assert row is not None
        if row["conversation_id"] is None:
            await conn.execute(
                QUERIES["insert_unmatched"], sms.provider_message_id, phone, to, sms.body,
                sms.received_at,
            )  # fmt: skip
            return "unmatched"
        if not row["new"]:
            return "duplicate"
        if not opt_out:
            return "needs_reply"
        await conn.execute(QUERIES["add_opt_out"], row["org_id"], phone)
        await conn.execute(QUERIES["close_for_phone"], row["org_id"], phone)
        return "opt_out"


def _normalise_or_raw(number: str, region: str) -> str:
    try:
        return to_e164(number, region)
    except InvalidPhoneError:
        return number  # a short code: kept as given, matched as given
