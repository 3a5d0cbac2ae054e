"""Texts to contacts leave Baton one way: queued in the transaction that decides them (a send, an
opt-out's confirmation), then published to OUTBOUND by the outbox with Nats-Msg-Id = message id."""

from __future__ import annotations

import msgspec

from shared.contract import catalogue as api
from shared.contract.schemas.messaging import OutboundSms
from shared.runtime import outbox
from shared.runtime.database import Connection

OUTBOUND_SUBJECT = api.OUTBOUND_SMS.subject


async def queue_text(conn: Connection, sms: OutboundSms) -> None:
    """Inside the caller's transaction: the text goes out if and only if it commits."""
    await outbox.enqueue(conn, OUTBOUND_SUBJECT, str(sms.message_id), msgspec.json.encode(sms))
