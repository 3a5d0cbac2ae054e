"""A contact's consent inside one organization, whoever records it: the inbound service reading
a STOP or START, or a texter opting out a contact whose words the classifier missed.

An opt-out adds the number to the organization's list and closes every conversation it has with
them; a new one (not a repeat) is confirmed once, in the organization's words, and is an event.
All of it happens in the caller's transaction, with the change it describes.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from shared.contract import catalogue as api
from shared.contract.schemas.messaging import ConsentChanged, OutboundSms
from shared.runtime import consent_queries as queries
from shared.runtime import outbox
from shared.runtime.database import Connection
from shared.runtime.outbound import queue_text

# `carrier`: a provider refused a text because the contact opted out at the carrier (21610).
Source = Literal["reply", "texter", "carrier"]


async def opt_out(
    conn: Connection,
    *,
    org_id: int,
    phone: str,
    conversation_id: int | None,
    our_number: str | None,
    source: Source,
    event_id: str,
    provider_message_id: str | None = None,
    actor_id: int | None = None,
) -> bool:
    """Whether the number had not opted out already (a repeat changes nothing, is not confirmed
    again and is no event). `our_number`: the number the confirmation goes from; None, or no
    conversation, sends none (Baton texts only inside conversations)."""
    is_new = await queries.add_opt_out(conn, org_id=org_id, phone=phone, source=source)
    await queries.close_for_phone(conn, org_id=org_id, phone=phone)
    if not is_new:
        return False
    if conversation_id is not None and our_number is not None:
        await confirm_opt_out(
            conn, org_id=org_id, conversation_id=conversation_id, phone=phone, our_number=our_number
        )
    await _event(
        conn,
        "opt_out",
        org_id,
        conversation_id,
        phone,
        our_number,
        event_id,
        provider_message_id,
        actor_id,
    )
    return True


async def opt_in(
    conn: Connection,
    *,
    org_id: int,
    phone: str,
    conversation_id: int | None,
    our_number: str,
    event_id: str,
    provider_message_id: str,
) -> bool:
    """START or UNSTOP: whether the number had opted out (and no longer has). The conversation it
    wrote in waits for an answer again; its other conversations stay closed."""
    if not await queries.remove_opt_out(conn, org_id=org_id, phone=phone):
        return False
    if conversation_id is not None:
        await queries.reopen(conn, conversation_id=conversation_id)
    await _event(
        conn,
        "opt_in",
        org_id,
        conversation_id,
        phone,
        our_number,
        event_id,
        provider_message_id,
        None,
    )
    return True


async def last_our_number(conn: Connection, conversation_id: int) -> str | None:
    """The number that last texted the conversation's contact, else its campaign's."""
    return await queries.last_our_number(conn, conversation_id=conversation_id)


async def confirm_opt_out(
    conn: Connection, *, org_id: int, conversation_id: int, phone: str, our_number: str
) -> None:
    """The one confirmation CTIA expects, in the organization's words, from the number the
    contact texted; sent whatever the hour, since it answers the contact. Queued here; the
    sender's outbox publishes it (only its NATS user may text). `opt_out` sends it for a new
    opt-out; inbound sends it later for one found owed (its STOP applied before an older START:
    services/inbound/replies.py)."""
    row = await queries.queue_confirmation(
        conn, conversation_id=conversation_id, org_id=org_id, our_number=our_number
    )
    await queue_text(
        conn,
        OutboundSms(
            message_id=row.id,
            conversation_id=conversation_id,
            campaign_id=row.campaign_id,
            org_id=org_id,
            to=phone,
            from_number=our_number,
            body=row.body,
            kind="opt_out_confirmation",
        ),
    )


async def _event(
    conn: Connection,
    change: Literal["opt_out", "opt_in"],
    org_id: int,
    conversation_id: int | None,
    phone: str,
    our_number: str | None,
    event_id: str,
    provider_message_id: str | None,
    actor_id: int | None,
) -> None:
    event = ConsentChanged(
        org_id=org_id,
        conversation_id=conversation_id,
        phone=phone,
        our_number=our_number,
        change=change,
        provider_message_id=provider_message_id,
        actor_id=actor_id,
    )
    channel = api.CONTACT_OPTED_OUT if change == "opt_out" else api.CONTACT_OPTED_IN
    subject = channel.subject
    await outbox.enqueue(conn, subject, event_id, msgspec.json.encode(event))
