"""`baton.send.initial` and `baton.send.reply`: every check and the send in one transaction.

The last guard before a text goes out (Spoke's "your assignment has changed"): the conversation
must still be this texter's, the contact must not have opted out, the status must allow it and
the contact's local time must be within texting hours. The message and its outbox row commit
together; the outbox publisher sends it to OUTBOUND with Nats-Msg-Id = message id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg
from prometheus_client import Counter

from shared import outbox
from shared.access import Caller
from shared.error_codes import ErrorCode
from shared.errors import BatonError, not_found
from shared.outbound import queue_text
from shared.queries import load_queries
from shared.schemas import messaging as s
from shared.texting_hours import CampaignHours, utc_now, zones_to_check

QUERIES = load_queries("services.sender")
SENT = Counter("baton_messages_sent_total", "Messages accepted for sending.", ["kind"])
REPLYABLE = ("needs_reply", "replied", "awaiting_reply")


class Sending:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: outbox.OutboxPublisher,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._clock = clock

    async def initial(self, request: s.Send, caller: Caller) -> s.Sent:
        return await self._send(request, caller.user_id, "initial")

    async def reply(self, request: s.Send, caller: Caller) -> s.Sent:
        return await self._send(request, caller.user_id, "reply")

    async def _send(self, request: s.Send, texter_id: int, kind: str) -> s.Sent:
        previous = await self._previous(request, texter_id)
        if previous is not None:
            return previous
        try:
            sent = await self._send_once(request, texter_id, kind)
        except asyncpg.UniqueViolationError:
            # The same key raced us and won: answer with its result.
            previous = await self._previous(request, texter_id)
            assert previous is not None
            return previous
        self._publisher.nudge()
        SENT.labels(kind).inc()
        return sent

    async def _previous(self, request: s.Send, texter_id: int) -> s.Sent | None:
        row = await self._pool.fetchrow(
            QUERIES["previous_send"], texter_id, request.idempotency_key
        )
        if row is None:
            return None
        if row["conversation_id"] != request.conversation_id:
            raise BatonError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "This idempotency key was already used for another conversation",
            )
        return s.Sent(
            message_id=row["id"],
            conversation_id=row["conversation_id"],
            status=row["delivery_status"],
            duplicate=True,
        )

    async def _send_once(self, request: s.Send, texter_id: int, kind: str) -> s.Sent:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                QUERIES["conversation_for_send"], request.conversation_id, texter_id
            )
            # Another organization's conversation is, to this caller, no conversation at all.
            if row is None or not row["caller_is_member"]:
                raise not_found("conversation", request.conversation_id)
            if not row["caller_is_texter"]:
                # Removed from the campaign: what they still hold is no longer theirs to text.
                raise BatonError(ErrorCode.NOT_A_MEMBER, "You are not a texter on this campaign")
            if row["assignee_id"] != texter_id:
                raise BatonError(
                    ErrorCode.ASSIGNMENT_CHANGED,
                    "Your assignment has changed: this conversation is no longer yours",
                )
            if row["campaign_status"] != "active":
                raise BatonError(ErrorCode.CAMPAIGN_NOT_ACTIVE, "This campaign is not active")
            if row["opted_out"] or row["status"] == "closed":
                raise BatonError(
                    ErrorCode.OPTED_OUT, "This contact has opted out; nothing can be sent"
                )
            if kind == "initial" and row["status"] != "not_started":
                raise BatonError(ErrorCode.ALREADY_SENT, "The initial message was already sent")
            if kind == "reply" and row["status"] not in REPLYABLE:
                raise BatonError(ErrorCode.INITIAL_NOT_SENT, "Send the initial message first")
            hours = CampaignHours.of(row)
            if not hours.sendable(self._clock(), row["zones"]):
                where = ", ".join(zones_to_check(row["zones"], hours.fallback_zone))
                raise BatonError(
                    ErrorCode.OUTSIDE_TEXTING_HOURS,
                    f"It is outside texting hours ({row['texting_hours_start']}:00-"
                    f"{row['texting_hours_end']}:00) where this contact is ({where})",
                )
            message_id = await conn.fetchval(
                QUERIES["insert_outbound"],
                row["id"],
                kind,
                texter_id,
                request.body,
                request.idempotency_key,
                row["sending_number"],
            )
            await conn.execute(
                QUERIES["mark_initial_sent" if kind == "initial" else "mark_replied"], row["id"]
            )
            await queue_text(conn, s.OutboundSms(
                message_id=message_id,
                conversation_id=row["id"],
                campaign_id=row["campaign_id"],
                org_id=row["org_id"],
                to=row["phone"],
                from_number=row["sending_number"],
                body=request.body,
                kind="initial" if kind == "initial" else "reply",
            ))  # fmt: skip
        return s.Sent(message_id=message_id, conversation_id=row["id"], status="queued")
