"""`baton.send.opt_out`: a person opts a contact out whose words the classifier did not read as
an opt-out ("I said STOP", "STOP this is harassment"). A missed revocation must have a remedy:
the texter holding the conversation (or a moderator) records it, with the same effects as a STOP
(shared/runtime/consent.py): the organization's list, every conversation closed, one confirmation,
an event naming who did it."""

from __future__ import annotations

import uuid

import asyncpg

from services.sender import queries
from services.sender.send_rules import holder_refusal
from shared.contract.access_policy import allows
from shared.contract.errors import not_found
from shared.contract.schemas import messaging as s
from shared.runtime import consent, outbox
from shared.runtime.access import Caller
from shared.runtime.database import Connection


class ManualOptOut:
    def __init__(self, pool: asyncpg.Pool, publisher: outbox.OutboxPublisher) -> None:
        self._pool = pool
        self._publisher = publisher

    async def opt_out(self, request: s.OptOutContact, caller: Caller) -> s.ContactOptedOut:
        hidden = not_found("conversation", request.conversation_id)
        async with self._pool.acquire() as conn, conn.transaction():
            # The row lock serialises this with a send in the same conversation.
            row = await queries.conversation_for_send(
                conn, conversation_id=request.conversation_id, caller_id=caller.user_id
            )
            if row is None or not row.caller_is_member:
                raise hidden
            refusal = holder_refusal(row.id, caller.user_id, row)
            if refusal is not None and not await _moderates(conn, caller, row.org_id):
                # A texter acts as the holder, by the rule a send follows: removed from the
                # campaign, or no longer holding it, they may not.
                raise refusal
            new = await consent.opt_out(
                conn,
                org_id=row.org_id,
                phone=row.phone,
                conversation_id=row.id,
                our_number=await consent.last_our_number(conn, row.id),
                source="texter",
                event_id=f"consent:texter:{uuid.uuid4()}",
                actor_id=caller.user_id,
            )
        self._publisher.nudge()  # the confirmation and the event go out now
        return s.ContactOptedOut(conversation_id=row.id, opted_out_now=new)


async def _moderates(conn: Connection, caller: Caller, org_id: int) -> bool:
    """Whether the caller is a moderator or higher in the organization (any conversation)."""
    role = await caller.role_in(conn, org_id, not_found("organization", org_id), "texter")
    return allows(role, "moderator")
