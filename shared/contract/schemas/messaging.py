"""Messages out and in: send requests, the OUTBOUND/INBOUND stream payloads, receipts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

from shared.contract.schemas.base import Id, Message, Request
from shared.domain.text import storable

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
    # Whose text it is: a bridge with a number pool per organization picks from this one's.
    org_id: int
    to: str
    # The campaign's number (or the number the contact texted, for a confirmation); null: the
    # bridge chooses one and reports it in its receipt's `from`.
    from_number: str | None
    body: str
    # A texter's `initial` or `reply`, or Baton's own `opt_out_confirmation`.
    kind: Literal["initial", "reply", "opt_out_confirmation"]


class InboundSms(Message):
    """On JetStream `baton.inbound.sms`, from the provider bridge. Fields a bridge adds beyond
    these are ignored: a STOP is never refused over something Baton does not read."""

    provider_message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    from_: Annotated[str, msgspec.Meta(max_length=64)] = msgspec.field(name="from")
    to: Annotated[str, msgspec.Meta(max_length=64)]
    body: Annotated[str, msgspec.Meta(max_length=10_000)]
    # The provider's time (RFC 3339, or seconds since the epoch), kept on the message; the
    # release clock runs on Baton's own, so it may be left out, and anything else in it (a
    # format Baton cannot read, a wrong type) is kept as no time: never a reason to lose a STOP.
    received_at: Any = None

    def __post_init__(self) -> None:
        # Made storable at the edge: a NUL or a stray control character from a carrier must
        # neither lose a STOP nor fail the INSERT on every redelivery.
        self.body = storable(self.body)
        self.from_ = storable(self.from_).strip()
        self.to = storable(self.to).strip()
        self.received_at = _provider_time(self.received_at)


class Receipt(Message):
    """On JetStream `baton.inbound.receipt`: the provider's word on a message we sent. Fields
    beyond these are ignored."""

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
    """On `baton.events.contact.opted_out` / `.opted_in`: a contact's STOP (or START), in the
    conversation it wrote in (null: a number the organization never texted), or a texter's opt-out
    of a contact whose words Baton did not read as one; the opt-out covers every campaign of that
    organization, and no other's."""

    org_id: int
    conversation_id: int | None
    phone: str
    # The number the contact texted (or, for a texter's opt-out, last texted them).
    our_number: str | None
    change: Literal["opt_out", "opt_in"]
    # The contact's message; null for a texter's opt-out, whose `actor_id` says who.
    provider_message_id: str | None
    actor_id: int | None = None


class DeadLetter(Message):
    """On `baton.deadletter.<source>`: a message that could not be processed, and why."""

    source: str
    reason: str
    subject: str
    payload: str


def _provider_time(value: Any) -> datetime | None:
    """A provider's time as Baton keeps it: RFC 3339 (or ISO 8601; UTC when it names no zone),
    epoch seconds or milliseconds; None for anything else."""
    if isinstance(value, datetime):  # built in Python rather than decoded
        return _in_utc(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return _in_utc(parsed)
    return None


def _in_utc(value: datetime) -> datetime | None:
    """`value` in UTC (UTC when it names no zone); None when it has none that Postgres keeps as
    a time: 0001-01-01 at +05:00 is in year 0, 9999-12-31 at -05:00 in year 10000, and a STOP
    stamped with one failed its INSERT on every delivery."""
    try:
        in_utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        return None
    # asyncpg stores Python's first and last instants as -infinity and infinity: no time either.
    if in_utc.replace(tzinfo=None) in (datetime.min, datetime.max):
        return None
    return in_utc


def _from_epoch(seconds: float) -> datetime | None:
    """A provider's epoch time (seconds, or milliseconds when it is that large); None when it is
    no time at all, since it is only kept for the record."""
    if seconds > 10**11:
        seconds /= 1000
    try:
        return _in_utc(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return None


class OptOutContact(Request):
    """A texter (or a moderator) records an opt-out Baton did not read in the contact's words."""

    conversation_id: Id


class ContactOptedOut(Message):
    conversation_id: int
    # False: the number had already opted out of the organization; nothing changed.
    opted_out_now: bool
