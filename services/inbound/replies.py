"""A contact's reply: recorded once, and its conversation flipped to needs-reply (or closed on
STOP), whoever holds it; Unassigned replies wait for texters requesting replies."""

from __future__ import annotations

import asyncpg
import msgspec
from nats.aio.msg import Msg
from prometheus_client import Counter

from services.inbound.opt_out import Outcome, classify
from shared import outbox
from shared.database import Connection
from shared.errors import bad_request
from shared.phones import InvalidPhoneError, to_e164
from shared.queries import load_queries
from shared.schemas.messaging import ConsentChanged, InboundSms

QUERIES = load_queries("services.inbound")
RECEIVED = Counter(
    "baton_messages_received_total", "Contacts' messages ingested, by outcome.", ["outcome"]
)
CONSENT_SUBJECT = "baton.events.contact.{}"


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
        intent = classify(sms.body)
        if intent is not None:
            # The message, the change of consent, what it does to the number's conversations
            # and its event commit together.
            async with self._pool.acquire() as conn, conn.transaction():
                outcome = await self._record(conn, sms, phone, to, intent)
        else:
            # A reply is one statement: no transaction round trips around it.
            async with self._pool.acquire() as conn:
                outcome = await self._record(conn, sms, phone, to, None)
        RECEIVED.labels(outcome).inc()

    async def _record(
        self, conn: Connection, sms: InboundSms, phone: str, to: str, intent: Outcome | None
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
        if intent is None:
            return "needs_reply"
        if intent == "opt_out":
            await conn.execute(QUERIES["add_opt_out"], row["org_id"], phone)
            await conn.execute(QUERIES["close_for_phone"], row["org_id"], phone)
        else:
            # START or UNSTOP: the number may be texted again, and the conversation it wrote
            # in waits for an answer; its other conversations stay closed.
            if not await conn.fetchval(QUERIES["remove_opt_out"], row["org_id"], phone):
                return "needs_reply"  # it had not opted out: an ordinary reply
            await conn.execute(QUERIES["reopen"], row["conversation_id"])
        event = ConsentChanged(
            org_id=row["org_id"], conversation_id=row["conversation_id"], change=intent,
            provider_message_id=sms.provider_message_id,
        )  # fmt: skip
        subject = CONSENT_SUBJECT.format("opted_out" if intent == "opt_out" else "opted_in")
        await outbox.enqueue(conn, subject, f"consent:{sms.provider_message_id}",
                             msgspec.json.encode(event))  # fmt: skip
        return intent


def _normalise_or_raw(number: str, region: str) -> str:
    try:
        return to_e164(number, region)
    except InvalidPhoneError:
        return number  # a short code: kept as given, matched as given
