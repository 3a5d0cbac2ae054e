"""A contact's reply: recorded once, and its conversation flipped to needs-reply (or closed on
STOP), whoever holds it; Unassigned replies wait for texters requesting replies."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import Counter

from services.inbound.opt_out import Outcome, classify
from shared import consent
from shared.database import Connection
from shared.errors import bad_request
from shared.phones import InvalidPhoneError, to_e164, to_sending_number
from shared.queries import load_queries
from shared.schemas.messaging import InboundSms

QUERIES = load_queries("services.inbound")
RECEIVED = Counter(
    "baton_messages_received_total", "Contacts' messages ingested, by outcome.", ["outcome"]
)


class Replies:
    def __init__(
        self, pool: asyncpg.Pool, nudge_outbox: Callable[[], None], default_region: str = "US"
    ) -> None:
        self._pool = pool
        # Called after an opt-out commits its event and confirmation: the event goes out now. The
        # confirmation is the sender's to publish (only its NATS user may text), at its outbox's
        # next poll, within a second.
        self._nudge_outbox = nudge_outbox
        self._region = default_region

    async def ingest(self, sms: InboundSms, _: Msg) -> None:
        try:
            phone = to_e164(sms.from_, self._region, strict=False)
        except InvalidPhoneError as exc:
            raise bad_request(f"sender number: {exc}") from None
        to = _normalise_or_raw(sms.to, self._region)
        intent = classify(sms.body)
        if intent is not None:
            # The message, the change of consent, what it does to the number's conversations
            # and its event commit together.
            async with self._pool.acquire() as conn, conn.transaction():
                outcome = await self._record(conn, sms, phone, to, intent)
            self._nudge_outbox()
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
        org_id, conversation_id = row["org_id"], row["conversation_id"]
        if conversation_id is None:
            new = await conn.fetchval(
                QUERIES["insert_unmatched"], sms.provider_message_id, phone, to, sms.body,
                sms.received_at, org_id,
            )  # fmt: skip
            if org_id is None or intent is None or not new:
                return "unmatched"
            # A number the organization owns, from someone it never texted: the consent is
            # still the organization's to honour.
        elif not row["new"]:
            return "duplicate"
        elif intent is None:
            return "needs_reply"
        event_id = f"consent:{sms.provider_message_id}"
        if intent == "opt_out":
            if not await consent.opt_out(
                conn, org_id=org_id, phone=phone, conversation_id=conversation_id,
                our_number=to, source="reply", event_id=event_id,
                provider_message_id=sms.provider_message_id,
            ):  # fmt: skip
                return "opt_out_repeated"  # consent already withdrawn: confirmed once, not again
        elif not await consent.opt_in(
            conn, org_id=org_id, phone=phone, conversation_id=conversation_id, our_number=to,
            event_id=event_id, provider_message_id=sms.provider_message_id,
        ):  # fmt: skip
            return "needs_reply" if conversation_id else "unmatched"  # had not opted out
        return intent


def _normalise_or_raw(number: str, region: str) -> str:
    try:
        return to_sending_number(number, region)
    except InvalidPhoneError:
        return number  # no number of ours looks like it: kept as given, in unmatched_inbound
