"""`baton.send.opt_out`: a person opts a contact out whose words the classifier did not read as
an opt-out ("I said STOP", "STOP this is harassment"). A missed revocation must have a remedy:
the texter holding the conversation (or a moderator) records it, with the same effects as a STOP
(shared/consent.py): the organization's list, every conversation closed, one confirmation, an
event naming who did it."""

from __future__ import annotations

import uuid

import asyncpg

from services.sender.named_queries import QUERIES
from shared import consent, outbox
from shared.access import Caller
from shared.errors import not_found
from shared.schemas import messaging as s


class ManualOptOut:
    def __init__(self, pool: asyncpg.Pool, publisher: outbox.OutboxPublisher) -> None:
        self._pool = pool
        self._publisher = publisher

    async def opt_out(self, request: s.OptOutContact, caller: Caller) -> s.ContactOptedOut:
        hidden = not_found("conversation", request.conversation_id)
        async with self._pool.acquire() as conn, conn.transaction():
            # The row lock serialises this with a send in the same conversation.
            row = await conn.fetchrow(
                QUERIES["conversation_for_send"], request.conversation_id, caller.user_id
            )
            if row is None or not row["caller_is_member"]:
                raise hidden
            if row["assignee_id"] != caller.user_id:
                await caller.role_in(conn, row["org_id"], hidden, "moderator")
            new = await consent.opt_out(
                conn, org_id=row["org_id"], phone=row["phone"], conversation_id=row["id"],
                our_number=await consent.last_our_number(conn, row["id"]), source="texter",
                event_id=f"consent:texter:{uuid.uuid4()}", actor_id=caller.user_id,
            )  # fmt: skip
        self._publisher.nudge()  # the confirmation and the event go out now
        return s.ContactOptedOut(conversation_id=row["id"], opted_out_now=new)
