"""Any Unicode from the SMS bridge, through real NATS JetStream and real Postgres (issue #14).

The property: any Unicode `body`, `from` and `to` the bridge sends is stored once (a `message`
row, or an `unmatched_inbound` row) or dead-lettered on its first delivery with a reason, never
both and never retried; and a STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, "stop texting
me") wrapped in control, format or space characters, from a contact's number however it is
written, is honoured: the organization's opt-out, the conversation closed, a reply refused.

Every example of a test runs against the same database and streams (hypothesis reuses the
function's fixtures), so the campaign is built by the first example and looked up by the rest,
and each example checks only what its own messages did: the rows keyed by their provider ids,
the dead letters added to DEADLETTER since it began, the consumer's and the metrics' deltas.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from services.inbound.opt_out import classify
from shared.contract import catalogue as api
from shared.domain.text import storable
from tests.integration.test_sending_and_replies import (
    SENDING_NUMBER,
    _drained,
    _phone,
    _ready_campaign,
    _send,
)
from tests.support.baton_client import Baton
from tests.support.services import service_process
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

INBOUND_SUBJECT = api.INBOUND_SMS.subject
DEAD_SUBJECT = api.DEAD_LETTERS.at("inbound")
CONSUMER = "inbound-sms"
CONTACTS = 6
UUID_LENGTH = 36
_SURROGATE = re.compile("[\ud800-\udfff]")

# --- what the bridge may send ------------------------------------------------------------------

CARRIER_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "stop texting me")
# Around a word or a number: controls (NUL, NEL, CR LF...), format characters (zero-width
# spaces and joiners, BOM, bidi overrides and isolates, soft hyphen, tags), every kind of space.
_AROUND = st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]) | st.sampled_from(
    list("\x00\x85\r\n\t\u00a0\u00ad\u180e\u200b\u200c\u200d\u2060\u202e\u202c\u2066\u2069")
    + list("\u3000\ufeff\U000e0001")
)
wrapping = st.text(_AROUND, max_size=6)
# Inside a word: characters that are neither letters nor a break between words.
_INSIDE = st.text(st.characters(categories=["Cc", "Cf"], exclude_characters="\t\n\r\x85"),
                  max_size=2)  # fmt: skip


def _full_width(text: str) -> str:
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) for c in text)


@st.composite
def wrapped_stops(draw: st.DrawFn) -> str:
    """A carrier opt-out word in any case, maybe full-width, maybe with zero-width characters or
    controls between its letters, wrapped in control, format and space characters."""
    word = draw(st.sampled_from(CARRIER_WORDS))
    word = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in word)
    if draw(st.booleans()):
        word = _full_width(word)
    if draw(st.booleans()):
        word = "".join(c + draw(_INSIDE) for c in word)
    return draw(wrapping) + word + draw(wrapping)


# How a bridge may write a US number (+1 415 555 0003): `n` is its ten national digits.
PHONE_FORMATS: dict[str, Callable[[str], str]] = {
    "e164": lambda n: f"+1{n}",
    "parens": lambda n: f"({n[:3]}) {n[3:6]}-{n[6:]}",
    "dashes": lambda n: f"{n[:3]}-{n[3:6]}-{n[6:]}",
    "dots": lambda n: f"{n[:3]}.{n[3:6]}.{n[6:]}",
    "spaced": lambda n: f"1 {n[:3]} {n[3:6]} {n[6:]}",
    "plus-parens": lambda n: f"+1 ({n[:3]}) {n[3:6]}-{n[6:]}",
    "national": lambda n: n,
    "eleven": lambda n: f"1{n}",
    "full-width": lambda n: _full_width(f"+1{n}"),
}


@dataclass(frozen=True)
class Number:
    """A number as the bridge writes it: a contact's (by index), ours, or any text at all."""

    kind: str  # "contact", "ours" or "raw"
    index: int = 0
    style: str = "e164"
    before: str = ""
    after: str = ""
    text: str = ""

    def render(self, phones: list[str]) -> str:
        if self.kind == "raw":
            return self.text
        e164 = phones[self.index] if self.kind == "contact" else SENDING_NUMBER
        return self.before + PHONE_FORMATS[self.style](e164[2:]) + self.after


# Every code point but surrogates: controls, NUL, format characters, unassigned ones...
any_text = st.text(max_size=24) | st.text(_AROUND, max_size=8)
# ...and strings with surrogates as Python holds them: a pair (two code points) is one character
# in JSON's \ud83d\ude00, a lone one is JSON that msgspec refuses to decode.
with_surrogates = st.lists(
    st.characters() | st.characters(categories=["Cs"]) | st.just("\ud83d\ude00"), max_size=8
).map("".join)
written_as = st.sampled_from(sorted(PHONE_FORMATS))
contact_numbers = st.builds(Number, kind=st.just("contact"), index=st.integers(0, CONTACTS - 1),
                            style=written_as, before=wrapping, after=wrapping)  # fmt: skip
# As Baton stores it (E.164), as often as written some other way.
exact_contact_numbers = st.builds(Number, kind=st.just("contact"),
                                  index=st.integers(0, CONTACTS - 1))  # fmt: skip
our_numbers = st.builds(Number, kind=st.just("ours"), style=written_as, before=wrapping,
                        after=wrapping)  # fmt: skip
raw_numbers = st.builds(Number, kind=st.just("raw"), text=st.one_of(
    any_text,
    with_surrogates,
    st.from_regex(r"\+1415555[5-9][0-9]{3}", fullmatch=True),  # valid, but nobody we know
    st.from_regex(r"[0-9]{3,8}", fullmatch=True),  # a short code
    st.text(min_size=65, max_size=70),  # longer than the schema takes
))  # fmt: skip
senders = st.one_of(exact_contact_numbers, contact_numbers, our_numbers, raw_numbers)
recipients = st.one_of(st.just(Number(kind="ours")), our_numbers, raw_numbers)
bodies = st.one_of(
    st.text(max_size=24),
    st.text(_AROUND, max_size=8),
    with_surrogates,
    wrapped_stops(),
    st.sampled_from(["START", "UNSTOP", "yes", "Who is this?", "don't stop"]),
    st.just("x" * 10_001),  # longer than the schema takes
)


@dataclass(frozen=True)
class Draft:
    prefix: str  # of the provider message id, before a unique uuid
    body: str
    sender: Number
    to: Number
    ascii_json: bool  # \u escapes for everything, or raw UTF-8 where it can be encoded


prefixes = st.one_of(
    st.just(""), st.text(max_size=8), st.text(_AROUND, max_size=3), with_surrogates
)
drafts = st.builds(Draft, prefix=prefixes, body=bodies, sender=senders, to=recipients,
                   ascii_json=st.booleans())  # fmt: skip


# --- publishing and reading back ---------------------------------------------------------------


@dataclass
class Published:
    draft: Draft
    key: str  # the uuid ending the provider message id
    provider_id: str
    body: str
    from_: str
    to: str
    payload: bytes
    seq: int  # in the INBOUND stream


def _decoded(text: str) -> str:
    """`text` as a JSON decoder reads it back: surrogate pairs joined, lone surrogates kept."""
    value: str = json.loads(json.dumps(text))
    return value


def _lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(_decoded(text)) is not None


def _encode(fields: dict[str, str], ascii_json: bool) -> bytes:
    if not ascii_json:
        try:
            return json.dumps(fields, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            pass  # surrogates have no UTF-8: only an escape can carry them
    return json.dumps(fields).encode()


async def _publish(nc: NatsClient, draft: Draft, phones: list[str]) -> Published:
    key = str(uuid.uuid4())
    fields = {"provider_message_id": draft.prefix + key, "from": draft.sender.render(phones),
              "to": draft.to.render(phones), "body": draft.body,
              "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
    payload = _encode(fields, draft.ascii_json)
    ack = await nc.jetstream().publish(INBOUND_SUBJECT, payload,
                                       headers={"Nats-Msg-Id": str(uuid.uuid4())})  # fmt: skip
    return Published(draft, key, fields["provider_message_id"], fields["body"], fields["from"],
                     fields["to"], payload, ack.seq)  # fmt: skip


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"consumer": CONSUMER, **labels}) or 0.0


def _counters() -> dict[str, float]:
    return {
        **{outcome: _metric("baton_consumer_messages_total", outcome=outcome)
           for outcome in ("ok", "dead_lettered", "retried", "unavailable")},
        "redelivered": _metric("baton_consumer_redeliveries_total"),
    }  # fmt: skip


@dataclass
class Outcomes:
    messages: dict[str, asyncpg.Record]  # by the uuid ending the provider id
    unmatched: dict[str, asyncpg.Record]
    letters: list[dict[str, Any]]
    deliveries: int  # by the consumer, during the example
    redelivered_now: int
    counters: dict[str, float]  # deltas


class Round:
    """One example: what was there before, what its messages did after the consumer drained."""

    def __init__(self, nc: NatsClient, pool: asyncpg.Pool) -> None:
        self.nc, self.pool = nc, pool
        self.dead_before = self.delivered_before = 0
        self.counters_before: dict[str, float] = {}

    async def begin(self) -> Round:
        js = self.nc.jetstream()
        if not await _drained(self.nc, "INBOUND", CONSUMER):
            # A failed example left messages undelivered or waiting to be retried: they go, and
            # a delivery of one still in the handler settles, so that this example shows only
            # what its own messages do. (After a passing example there is nothing to purge.)
            await js.purge_stream("INBOUND")
            await eventually(lambda: _drained(self.nc, "INBOUND", CONSUMER))
            while True:
                counted = _counters()
                await asyncio.sleep(0.3)
                if _counters() == counted:
                    break
        self.dead_before = (await js.stream_info("DEADLETTER")).state.last_seq
        info = await js.consumer_info("INBOUND", CONSUMER)
        self.delivered_before = info.delivered.consumer_seq if info.delivered else 0
        self.counters_before = _counters()
        return self

    async def settled(self) -> bool:
        """The consumer settled every message, or retried one: a failure to report at once,
        not to wait out."""
        now = _counters()
        if any(now[k] > self.counters_before[k] for k in ("retried", "unavailable", "redelivered")):
            return True
        return await _drained(self.nc, "INBOUND", CONSUMER)

    async def outcomes(self, sent: list[Published]) -> Outcomes:
        js = self.nc.jetstream()
        await eventually(self.settled)
        keys = {p.key for p in sent}
        messages = {
            r["provider_message_id"][-UUID_LENGTH:]: r
            for r in await self.pool.fetch(
                """SELECT m.provider_message_id, m.body, m.conversation_id, m.our_number,
                          k.phone AS contact_phone, c.org_id
                   FROM message m JOIN conversation v ON v.id = m.conversation_id
                   JOIN contact k ON k.id = v.contact_id JOIN campaign c ON c.id = v.campaign_id
                   WHERE m.direction = 'inbound'""")
            if r["provider_message_id"][-UUID_LENGTH:] in keys
        }  # fmt: skip
        unmatched = {
            r["provider_message_id"][-UUID_LENGTH:]: r
            for r in await self.pool.fetch("SELECT * FROM unmatched_inbound")
            if r["provider_message_id"][-UUID_LENGTH:] in keys
        }
        # Every message of the example, and every dead letter, is in its stream before its
        # delivery is settled: what DEADLETTER holds now is all this example dead-lettered.
        last = (await js.stream_info("DEADLETTER")).state.last_seq
        letters = []
        for seq in range(self.dead_before + 1, last + 1):
            raw = await js.get_msg("DEADLETTER", seq)
            if raw.subject == DEAD_SUBJECT and raw.data is not None:
                letters.append(json.loads(raw.data))
        info = await js.consumer_info("INBOUND", CONSUMER)
        delivered = info.delivered.consumer_seq if info.delivered else 0
        after = _counters()
        return Outcomes(messages, unmatched, letters, delivered - self.delivered_before,
                        info.num_redelivered or 0,
                        {k: after[k] - self.counters_before[k] for k in after})  # fmt: skip


def _assert_each_once_on_first_delivery(sent: list[Published], seen: Outcomes) -> None:
    """Stored once or dead-lettered once, never both; one delivery each, nothing retried."""
    letters_by_payload: dict[str, list[dict[str, Any]]] = {}
    for letter in seen.letters:
        letters_by_payload.setdefault(letter["payload"], []).append(letter)
    accounted = 0
    for p in sent:
        letters = letters_by_payload.get(p.payload.decode(), [])
        where = (["message"] if p.key in seen.messages else []) + (
            ["unmatched_inbound"] if p.key in seen.unmatched else []
        ) + ["dead letter"] * len(letters)  # fmt: skip
        assert len(where) == 1, f"{where or 'nowhere'} for {p.draft!r}, published as {p.payload!r}"
        accounted += len(letters)
        for letter in letters:
            assert letter["source"] == "inbound" and letter["subject"] == INBOUND_SUBJECT, letter
            assert letter["reason"].startswith(("unparseable: ", "bad_request: ")), (
                letter["reason"], p.draft)  # fmt: skip
    assert accounted == len(seen.letters), "a dead letter for no message of this example"
    # JetStream delivered each message once, and the consumer neither retried nor saw a
    # redelivery: every outcome was settled on the first delivery.
    assert seen.deliveries == len(sent), (seen.deliveries, len(sent))
    assert seen.redelivered_now == 0
    assert seen.counters["retried"] == seen.counters["unavailable"] == 0, seen.counters
    assert seen.counters["redelivered"] == 0, seen.counters
    assert seen.counters["ok"] == len(seen.messages) + len(seen.unmatched), seen.counters
    assert seen.counters["dead_lettered"] == len(seen.letters), seen.counters


# --- the campaign, built by an example and kept for the rest ------------------------------------

_CAMPAIGNS: dict[str, dict[str, Any]] = {}  # by test database


async def _campaign(
    database_url: str, assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> dict[str, Any]:
    """A campaign sending from SENDING_NUMBER whose CONTACTS contacts were all sent an initial."""
    if database_url not in _CAMPAIGNS:
        c = await _ready_campaign(assigner, pool, contacts=CONTACTS)
        for conversation in c["conversations"]:
            await sender.call(api.SEND_INITIAL, **_send(c["texters"][0], conversation))
        c["phones"] = [await _phone(pool, conversation) for conversation in c["conversations"]]
        _CAMPAIGNS[database_url] = c
    return _CAMPAIGNS[database_url]


# --- the properties ------------------------------------------------------------------------------

# A few examples of many messages each, on the services the test's fixtures started. No shrinking:
# a failure leaves messages being retried, so every shrink step would pay for clearing them and
# shrinking would outlast the suite's timeout; instead each assertion names the one message that
# broke the property, with its draft and the bytes published.
LIVE = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


@LIVE
@given(batch=st.lists(drafts, min_size=1, max_size=12))
async def test_any_unicode_from_the_bridge_is_stored_once_or_dead_lettered_at_once(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient,
    database_url: str, batch: list[Draft],
) -> None:  # fmt: skip
    c = await _campaign(database_url, assigner, sender, pool)
    phones: list[str] = c["phones"]
    round_ = await Round(nc, pool).begin()
    sent = [await _publish(nc, draft, phones) for draft in batch]
    seen = await round_.outcomes(sent)
    _assert_each_once_on_first_delivery(sent, seen)

    opted_out = {r["phone"] for r in await pool.fetch(
        "SELECT phone FROM opt_out WHERE org_id = $1", c["org"])}  # fmt: skip
    consent: dict[str, set[str | None]] = {}  # what each number's stored messages asked
    for p in sent:
        letters = [x for x in seen.letters if x["payload"] == p.payload.decode()]
        fields = (p.provider_id, p.body, p.from_, p.to)
        if any(_lone_surrogate(f) for f in fields):
            # Not JSON msgspec decodes: refused before any field is read.
            assert [x["reason"].split(":")[0] for x in letters] == ["unparseable"], p.draft
            continue
        decoded = [_decoded(f) for f in fields]
        if not (1 <= len(decoded[0]) <= 200 and len(decoded[2]) <= 64 and len(decoded[3]) <= 64
                and len(decoded[1]) <= 10_000):  # fmt: skip
            assert [x["reason"].split(":")[0] for x in letters] == ["unparseable"], p.draft
            continue
        if "\x00" in decoded[0]:
            assert [x["reason"] for x in letters] == [
                "bad_request: `provider_message_id` holds a NUL"
            ], p.draft
            continue
        if p.draft.sender.kind == "contact" and p.draft.to.kind == "ours":
            # A contact's number to ours, however the bridge wrote and wrapped either: their
            # conversation, whatever the body says.
            assert p.key in seen.messages, (p.draft, letters, seen.unmatched.get(p.key))
            index = p.draft.sender.index
            assert seen.messages[p.key]["conversation_id"] == c["conversations"][index]
        row = seen.messages.get(p.key) or seen.unmatched.get(p.key)
        if row is None:
            continue  # dead-lettered, with a reason (checked above): an unreadable sender
        # Stored as sent, less only what Postgres cannot store or a person cannot read.
        assert row["provider_message_id"] == decoded[0]
        assert row["body"] == storable(decoded[1]), (row["body"], p.draft)
        if p.key in seen.messages:
            assert row["org_id"] == c["org"]
            phone, org = row["contact_phone"], row["org_id"]
        else:
            phone, org = row["from_phone"], row["org_id"]
        if org is not None:
            consent.setdefault(phone, set()).add(classify(storable(decoded[1])))
    # What the classifier read in each number's stored messages is what happened to its consent
    # (the order of an opt-out and an opt-in in one example is the consumer's, so not both).
    for phone, asked in consent.items():
        if "opt_out" in asked and "opt_in" not in asked:
            assert phone in opted_out, (phone, asked)
        if "opt_in" in asked and "opt_out" not in asked:
            assert phone not in opted_out, (phone, asked)


# Each stop: the message, the contact (its number written and wrapped some way), our number
# (the same), and whether the JSON escapes everything or carries raw UTF-8.
stop_messages = st.lists(
    st.tuples(wrapped_stops(), contact_numbers, st.just(Number(kind="ours")) | our_numbers,
              st.booleans()),
    min_size=1, max_size=4, unique_by=lambda stop: stop[1].index,
)  # fmt: skip


@LIVE
@given(stops=stop_messages)
async def test_a_stop_wrapped_in_any_control_or_format_characters_is_honoured(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient,
    database_url: str, stops: list[tuple[str, Number, Number, bool]],
) -> None:  # fmt: skip
    c = await _campaign(database_url, assigner, sender, pool)
    phones: list[str] = c["phones"]
    # Every example starts with consent given and the conversations open, as after the initials.
    await pool.execute("DELETE FROM opt_out WHERE org_id = $1", c["org"])
    await pool.execute(
        """UPDATE conversation SET status = 'awaiting_reply', needs_reply_since = NULL,
                  updated_at = now()
           WHERE campaign_id = $1 AND status <> 'awaiting_reply'""", c["campaign"])  # fmt: skip
    round_ = await Round(nc, pool).begin()
    sent = [await _publish(nc, Draft("", body, contact, ours, ascii_json), phones)
            for body, contact, ours, ascii_json in stops]  # fmt: skip
    seen = await round_.outcomes(sent)
    _assert_each_once_on_first_delivery(sent, seen)
    assert seen.letters == [], [(x["reason"], x["payload"]) for x in seen.letters]
    for p in sent:
        index = p.draft.sender.index
        conversation, phone = c["conversations"][index], phones[index]
        row = seen.messages.get(p.key)
        assert row is not None, (p.draft, seen.unmatched.get(p.key))
        assert row["conversation_id"] == conversation
        assert row["body"] == storable(p.body)
        assert await pool.fetchval(
            "SELECT count(*) FROM opt_out WHERE org_id = $1 AND phone = $2", c["org"], phone
        ) == 1, p.draft  # fmt: skip
        status = await pool.fetchval("SELECT status FROM conversation WHERE id = $1", conversation)
        assert status == "closed", (status, p.draft)
        refusal = await sender.error(api.SEND_REPLY, **_send(c["texters"][0], conversation))
        assert refusal.code == "opted_out", (refusal.code, p.draft)


# --- bytes that are not UTF-8 ---------------------------------------------------------------------

# JSON is UTF-8 (RFC 8259), but a bridge may still send other bytes: each is a bridge message from
# a contact to our number with a string holding bytes that no UTF-8 decoder accepts.
NOT_UTF8 = {
    # UTF-16 code units encoded one by one (Java's modified UTF-8, CESU-8): 😀 as two surrogates.
    "cesu-8 pair": ("body", b"STOP \xed\xa0\xbd\xed\xb8\x80"),
    # A lone surrogate as raw bytes (WTF-8), where the escape \ud800 would be its JSON.
    "wtf-8 lone surrogate": ("body", b"STOP\xed\xa0\x80"),
    # Latin-1 from a carrier that never heard of UTF-8.
    "latin-1": ("body", b"caf\xe9"),
    # A sequence cut short, an overlong "/", a byte that begins nothing.
    "truncated": ("body", b"\xe2\x82"),
    "overlong": ("body", b"\xc0\xaf"),
    "in the sender": ("from", b"\xff"),
}


async def test_a_payload_that_is_not_utf8_is_dead_lettered_at_once_and_ingest_goes_on(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool, nc: NatsClient, database_url: str,
    nats_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    c = await _campaign(database_url, assigner, sender, pool)
    phone = c["phones"][1]
    log = tmp_path / "inbound.log"
    async with service_process("inbound", database_url, nats_url, log,
                               fetch_timeout_seconds="0.2", retry_delay_seconds="0.2") as process:  # fmt: skip

        async def answering() -> bool:
            assert process.returncode is None, log.read_text()[-3000:]
            try:
                await nc.request(api.STATUS["inbound"].subject, b"{}", timeout=0.5)
            except Exception:
                return False
            return True

        await eventually(answering, within=30)
        round_ = await Round(nc, pool).begin()
        js = nc.jetstream()
        sent: dict[str, tuple[str, bytes]] = {}  # payload as a dead letter holds it
        for name, (field, raw) in NOT_UTF8.items():
            key = str(uuid.uuid4())
            fields = {"provider_message_id": key, "from": phone, "to": SENDING_NUMBER,
                      "body": "yes", "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
            fields[field] = "@@raw@@"
            payload = json.dumps(fields).encode().replace(b"@@raw@@", raw)
            await js.publish(INBOUND_SUBJECT, payload, headers={"Nats-Msg-Id": key})
            sent[key] = (name, payload)
        # After them, a reply that must still be taken in: the consumer goes on.
        after = await _publish(nc, Draft("", "yes", Number("contact", 1), Number("ours"), True),
                               c["phones"])  # fmt: skip

        async def settled() -> bool:
            assert process.returncode is None, (
                f"inbound exited with {process.returncode} on a payload that is not UTF-8:\n"
                + log.read_text()[-3000:]
            )
            return await _drained(nc, "INBOUND", CONSUMER)

        await eventually(settled)
        seen = await round_.outcomes([after])
        assert process.returncode is None
    assert after.key in seen.messages, "the reply after them was not taken in"
    letters = {x["payload"]: x["reason"] for x in seen.letters}
    for name, payload in sent.values():
        reason = letters.get(payload.decode("utf-8", errors="replace"))
        assert reason is not None and reason.startswith("unparseable: "), (name, reason)
    assert len(seen.letters) == len(sent)
    assert seen.deliveries == len(sent) + 1  # each delivered once
    assert seen.redelivered_now == 0
    stored = await pool.fetchval(
        """SELECT count(*) FROM message WHERE provider_message_id = ANY($1::text[])""", list(sent)
    ) + await pool.fetchval(
        "SELECT count(*) FROM unmatched_inbound WHERE provider_message_id = ANY($1::text[])",
        list(sent),
    )  # fmt: skip
    assert stored == 0
