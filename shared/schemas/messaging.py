"""Messages out and in: send requests, the OUTBOUND/INBOUND stream payloads, receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from shared.schemas.base import Id, Message, Request
from shared.text import storable

Body = Annotated[str, msgspec.Meta(min_length=1, max_length=1600)]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Send(Request):
    """`baton.send.initial` and `baton.send.reply`: one text from the caller in a conversation
    the caller holds."""

    conversation_id: Id
    body: Body
    # A retried request with the same key returns the first result and sends nothing new.
    idempotency_key: IdempotencyKey


class Sent(Message):
    message_id: int
    conversation_id: int
    status: str
    # True when this answers a retry of a request already carried out.
    duplicate: bool = False


class OutboundSms(Message):
    """On JetStream `baton.outbound.sms`, with Nats-Msg-Id = message_id, for the provider bridge."""

    message_id: int
    conversation_id: int
    campaign_id: int
    to: str
    # The campaign's number (or the number the contact texted, for a confirmation); null: the
    # bridge chooses one and reports it in its receipt's `from`.
    from_number: str | None
    body: str
    # A texter's `initial` or `reply`, or Baton's own `opt_out_confirmation`.
    kind: Literal["initial", "reply", "opt_out_confirmation"]


class InboundSms(Request):
    """On JetStream `baton.inbound.sms`, from the provider bridge."""

    provider_message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    from_: Annotated[str, msgspec.Meta(max_length=64)] = msgspec.field(name="from")
    to: Annotated[str, msgspec.Meta(max_length=64)]
    body: Annotated[str, msgspec.Meta(max_length=10_000)]
    # The provider's time, kept on the message; the release clock runs on Baton's own.
    received_at: datetime

    def __post_init__(self) -> None:
        # Made storable at the edge: a NUL or a stray control character from a carrier must
        # neither lose a STOP nor fail the INSERT on every redelivery.
        self.body = storable(self.body)
        self.from_ = storable(self.from_).strip()
        self.to = storable(self.to).strip()


class Receipt(Request):
    """On JetStream `baton.inbound.receipt`: the provider's word on a message we sent."""

    status: Literal["sent", "delivered", "failed"]
    message_id: Id | None = None
    provider_message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    error_code: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    # The number the text went from, when the bridge chose it (a number pool) or knows it: replies
    # to it are matched to this conversation. Omitted: the campaign's number, given in the text.
    from_: Annotated[str, msgspec.Meta(max_length=64)] | None = msgspec.field(
        name="from", default=None
    )

    def __post_init__(self) -> None:
        if self.from_ is not None:
            self.from_ = storable(self.from_).strip() or None


class ConsentChanged(Message):
    """On `baton.events.contact.opted_out` / `.opted_in`: a contact's STOP (or START) to a number
    the organization owns, in the conversation it wrote in (null: a number the organization never
    texted); the opt-out covers every campaign of that organization, and no other's."""

    org_id: int
    conversation_id: int | None
    phone: str
    our_number: str
    change: Literal["opt_out", "opt_in"]
    provider_message_id: str


class DeadLetter(Message):
    """On `baton.deadletter.<source>`: a message that could not be processed, and why."""

    source: str
    reason: str
    subject: str
    payload: str
