"""Routing inside organizations (issue #14), on real NATS and Postgres: an organization owns its
sending numbers; a reply, a STOP and its confirmation stay in the organization whose number the
contact texted, and a reply to a number nobody owns is kept apart."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from shared.contract import catalogue as api
from shared.runtime.commands import exit_codes
from shared.runtime.settings import CommonSettings
from tests.integration.test_sending_and_replies import _phone, _send
from tests.support.baton_client import TEST_AUTH_SECRET, Baton, campaign_with_texters
from tests.support.snapshots import snapshot
from tests.support.waiting import eventually
from tools.cli.main import main

pytestmark = pytest.mark.integration

NUMBER_A = "+14155550101"
NUMBER_B = "+14155550102"
NOBODYS = "+14155550199"
DEFAULT_CONFIRMATION = (
    "You are unsubscribed and will receive no more texts from us. Reply START to resubscribe."
)


async def _org(assigner: Baton, number: str | None, contacts: int = 3) -> dict[str, Any]:
    """An organization whose one texter holds every conversation of its campaign, which sends
    from `number` (registered to the organization) or from none."""
    c = await campaign_with_texters(assigner, texters=1, contacts=contacts, batch_size=contacts)
    settings: dict[str, Any] = {"texting_hours": {"start": 0, "end": 24}}
    if number is not None:
        await assigner.call(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"],
                            numbers=[number])  # fmt: skip
        settings["sending_number"] = number
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"],
                        campaign_id=c["campaign"], **settings)  # fmt: skip
    c["texter"] = c["texters"][0]
    batch = await assigner.call(api.ASSIGN_REQUEST, as_user=c["texter"],
                                campaign_id=c["campaign"])  # fmt: skip
    c["conversations"] = batch["conversation_ids"]
    return c


async def _conversation_with(pool: asyncpg.Pool, campaign: int, phone: str) -> int:
    return int(await pool.fetchval(
        "SELECT v.id FROM conversation v JOIN contact k ON k.id = v.contact_id"
        " WHERE v.campaign_id = $1 AND k.phone = $2", campaign, phone))  # fmt: skip


async def _sharing_a_contact(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool, number_a: str, number_b: str | None
) -> tuple[dict[str, Any], dict[str, Any], str, int, int]:
    """Organizations A and B with the same contact, each texted it (A first, then B): A, B, the
    contact's number, and A's and B's conversations with it."""
    a, b = await _org(assigner, number_a), await _org(assigner, number_b)
    in_a = a["conversations"][0]
    phone = await _phone(pool, in_a)
    in_b = await _conversation_with(pool, b["campaign"], phone)
    await sender.call(api.SEND_INITIAL, **_send(a["texter"], in_a))
    await sender.call(api.SEND_INITIAL, **_send(b["texter"], in_b))
    return a, b, phone, in_a, in_b


async def _text_in(nc: NatsClient, phone: str, to: str, body: str) -> str:
    """What a bridge publishes when `phone` texts `to`."""
    provider_id = str(uuid.uuid4())
    payload = {"provider_message_id": provider_id, "from": phone, "to": to, "body": body,
               "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
    await nc.jetstream().publish(api.INBOUND_SMS.subject, json.dumps(payload).encode(),
                                 headers={"Nats-Msg-Id": provider_id})  # fmt: skip
    return provider_id


async def _recorded(pool: asyncpg.Pool, provider_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT m.conversation_id, m.our_number, v.status FROM message m"
        " JOIN conversation v ON v.id = m.conversation_id WHERE m.provider_message_id = $1",
        provider_id,
    )


async def test_a_stop_to_one_organizations_number_stays_in_that_organization(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    # The case: the same number is a contact of A (which sends from NUMBER_A) and of B
    # (which has no number); both texted it, B last.
    a, b, phone, in_a, in_b = await _sharing_a_contact(assigner, sender, pool, NUMBER_A, None)
    outbound = await nc.jetstream().subscribe(f"{api.OUTBOUND_ROOT}.>", stream="OUTBOUND")
    for _ in range(2):
        await outbound.next_msg(timeout=10)
    events = await nc.jetstream().subscribe(f"{api.EVENTS_ROOT}.contact.>", stream="EVENTS")

    # A STOP to a number nobody owns is kept, and applies to no one.
    before = await snapshot(pool, exclude=frozenset({"unmatched_inbound"}))
    unowned = await _text_in(nc, phone, NOBODYS, "STOP")
    kept = await eventually(lambda: pool.fetchrow(
        "SELECT from_phone, to_phone, org_id FROM unmatched_inbound WHERE provider_message_id = $1",
        unowned))  # fmt: skip
    assert dict(kept) == {"from_phone": phone, "to_phone": NOBODYS, "org_id": None}
    assert await pool.fetchval("SELECT count(*) FROM opt_out") == 0
    assert await pool.fetchval("SELECT count(*) FROM message WHERE direction = 'inbound'") == 0
    assert await snapshot(pool, exclude=frozenset({"unmatched_inbound"})) == before

    # A STOP to A's number opts the contact out of A, and only of A.
    stop = await _text_in(nc, phone, NUMBER_A, "Please stop")
    await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM opt_out"))
    assert dict(await pool.fetchrow("SELECT org_id, phone FROM opt_out")) == {
        "org_id": a["org"], "phone": phone}  # fmt: skip
    recorded = await _recorded(pool, stop)
    assert recorded is not None
    assert (recorded["conversation_id"], recorded["our_number"]) == (in_a, NUMBER_A)
    statuses = dict(await pool.fetch("SELECT id, status FROM conversation WHERE id = ANY($1)",
                                     [in_a, in_b]))  # fmt: skip
    assert statuses == {in_a: "closed", in_b: "awaiting_reply"}
    assert (await sender.error(api.SEND_REPLY, **_send(a["texter"], in_a))).code == "opted_out"
    await sender.call(api.SEND_REPLY, **_send(b["texter"], in_b))

    # One confirmation, in A's conversation, from the number the contact texted.
    confirmations = [json.loads((await outbound.next_msg(timeout=10)).data) for _ in range(2)]
    confirmation = next(m for m in confirmations if m["kind"] == "opt_out_confirmation")
    assert {k: confirmation[k] for k in ("conversation_id", "to", "from_number", "body")} == {
        "conversation_id": in_a, "to": phone, "from_number": NUMBER_A,
        "body": DEFAULT_CONFIRMATION}  # fmt: skip
    row = await pool.fetchrow(
        "SELECT conversation_id, our_number, texter_id FROM message WHERE id = $1",
        confirmation["message_id"],
    )
    assert dict(row) == {"conversation_id": in_a, "our_number": NUMBER_A, "texter_id": None}
    event = await events.next_msg(timeout=10)
    # One event per subject, its id last (shared/runtime/outbox.py).
    assert event.subject.rsplit(".", 1)[0] == api.CONTACT_OPTED_OUT.subject
    assert {k: json.loads(event.data)[k] for k in ("org_id", "conversation_id", "phone",
                                                   "our_number")} == {
        "org_id": a["org"], "conversation_id": in_a, "phone": phone, "our_number": NUMBER_A}  # fmt: skip


async def test_two_organizations_sharing_a_contact_each_keep_their_replies_and_stops(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    a, b, phone, in_a, in_b = await _sharing_a_contact(assigner, sender, pool, NUMBER_A, NUMBER_B)
    # Their reply to A lands in A, though B texted last.
    reply = await _text_in(nc, phone, NUMBER_A, "Yes, I'll be there")
    recorded = await eventually(lambda: _recorded(pool, reply))
    assert (recorded["conversation_id"], recorded["status"]) == (in_a, "needs_reply")
    # Their STOP to B closes B's conversation and confirms from B's number; A's is untouched.
    await _text_in(nc, phone, NUMBER_B, "STOP")
    await eventually(lambda: pool.fetchval(
        "SELECT count(*) = 1 FROM message WHERE kind = 'opt_out_confirmation'"))  # fmt: skip
    confirmation = await pool.fetchrow(
        "SELECT conversation_id, our_number FROM message WHERE kind = 'opt_out_confirmation'"
    )
    assert dict(confirmation) == {"conversation_id": in_b, "our_number": NUMBER_B}
    assert [tuple(r) for r in await pool.fetch("SELECT org_id, phone FROM opt_out")] == [
        (b["org"], phone)]  # fmt: skip
    statuses = dict(await pool.fetch("SELECT id, status FROM conversation WHERE id = ANY($1)",
                                     [in_a, in_b]))  # fmt: skip
    assert statuses == {in_a: "needs_reply", in_b: "closed"}
    await sender.call(api.SEND_REPLY, **_send(a["texter"], in_a))


async def test_a_reply_goes_to_the_conversation_its_number_texted(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    # One organization, two numbers, two campaigns with the same contact; the second texted last.
    a = await _org(assigner, NUMBER_A)
    first = a["conversations"][0]
    phone = await _phone(pool, first)
    await assigner.call(api.ORG_NUMBERS_ADD, as_user=a["owner"], org_id=a["org"],
                        numbers=[NUMBER_B])  # fmt: skip
    second_campaign = (await assigner.call(
        api.CAMPAIGN_CREATE, as_user=a["owner"], org_id=a["org"], title="Second",
        sending_number=NUMBER_B, texting_hours={"start": 0, "end": 24}))["campaign_id"]  # fmt: skip
    await assigner.call(api.CONTACTS_IMPORT, as_user=a["owner"],
                        campaign_id=second_campaign, contacts=[{"phone": phone}])  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=a["owner"],
                        campaign_id=second_campaign, status="active", self_assign=True)  # fmt: skip
    await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=a["owner"],
                        campaign_id=second_campaign, user_ids=[a["texter"]])  # fmt: skip
    second = (await assigner.call(api.ASSIGN_REQUEST, as_user=a["texter"],
                                  campaign_id=second_campaign))["conversation_ids"][0]  # fmt: skip
    await sender.call(api.SEND_INITIAL, **_send(a["texter"], first))
    await sender.call(api.SEND_INITIAL, **_send(a["texter"], second))
    for number, conversation in ((NUMBER_A, first), (NUMBER_B, second)):
        reply = await _text_in(nc, phone, number, "who is this?")
        recorded = await eventually(lambda reply=reply: _recorded(pool, reply))  # type: ignore[misc]
        assert (recorded["conversation_id"], recorded["our_number"]) == (conversation, number)


async def test_the_number_a_bridge_reports_in_its_receipt_routes_the_replies(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    # A campaign without a number: the bridge chooses one from the organization's pool and says
    # which in its receipt (formatted its own way).
    a = await _org(assigner, None)
    await assigner.call(api.ORG_NUMBERS_ADD, as_user=a["owner"], org_id=a["org"],
                        numbers=["(415) 555-0101"])  # fmt: skip
    conversation = a["conversations"][0]
    sent = await sender.call(api.SEND_INITIAL, **_send(a["texter"], conversation))
    assert await pool.fetchval("SELECT our_number FROM message WHERE id = $1",
                               sent["message_id"]) is None  # fmt: skip
    receipt = {"message_id": sent["message_id"], "status": "sent", "from": "(415) 555-0101",
               "provider_message_id": "prov-1"}  # fmt: skip
    await nc.jetstream().publish(api.INBOUND_RECEIPT.subject, json.dumps(receipt).encode(),
                                 headers={"Nats-Msg-Id": "receipt-1"})  # fmt: skip
    await eventually(lambda: pool.fetchval(
        "SELECT our_number = $2 FROM message WHERE id = $1", sent["message_id"], NUMBER_A))  # fmt: skip
    reply = await _text_in(nc, await _phone(pool, conversation), NUMBER_A, "ok")
    recorded = await eventually(lambda: _recorded(pool, reply))
    assert recorded["conversation_id"] == conversation


async def test_consent_is_confirmed_once_per_opt_out_in_the_organizations_words(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    a = await _org(assigner, NUMBER_A)
    wording = "Rally for Parks: you're unsubscribed. Reply START to rejoin."
    updated = await assigner.call(api.ORG_UPDATE, as_user=a["owner"], org_id=a["org"],
                                  opt_out_confirmation=wording)  # fmt: skip
    assert updated == {"org_id": a["org"], "default_batch_size": 300,
                       "opt_out_confirmation": wording}  # fmt: skip
    conversation = a["conversations"][0]
    phone = await _phone(pool, conversation)
    await sender.call(api.SEND_INITIAL, **_send(a["texter"], conversation))

    async def confirmations() -> list[str]:
        return [r["body"] for r in await pool.fetch(
            "SELECT body FROM message WHERE kind = 'opt_out_confirmation' ORDER BY id")]  # fmt: skip

    async def inbound_count(n: int) -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) = $1 FROM message WHERE direction = 'inbound'", n))  # fmt: skip

    await _text_in(nc, phone, NUMBER_A, "STOP")
    await eventually(lambda: inbound_count(1))
    # A second STOP is recorded, and changes nothing: consent was already withdrawn.
    await _text_in(nc, phone, NUMBER_A, "stop texting me")
    await eventually(lambda: inbound_count(2))
    assert await confirmations() == [wording]
    # START opts back in (the conversation waits for an answer again); a later STOP is a new
    # opt-out, confirmed again.
    await _text_in(nc, phone, NUMBER_A, "START")
    await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM opt_out"))
    assert await pool.fetchval("SELECT status FROM conversation WHERE id = $1",
                               conversation) == "needs_reply"  # fmt: skip
    await sender.call(api.SEND_REPLY, **_send(a["texter"], conversation))
    await _text_in(nc, phone, NUMBER_A, "UNSUBSCRIBE")
    await eventually(lambda: inbound_count(4))
    assert await confirmations() == [wording, wording]
    assert await pool.fetchval("SELECT count(*) FROM opt_out") == 1


async def test_a_stop_from_someone_the_organization_never_texted_is_still_its_opt_out(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    a = await _org(assigner, NUMBER_A)
    stranger = "+16505550142"
    stop = await _text_in(nc, stranger, NUMBER_A, "stop")
    kept = await eventually(lambda: pool.fetchrow(
        "SELECT org_id FROM unmatched_inbound WHERE provider_message_id = $1", stop))  # fmt: skip
    assert kept["org_id"] == a["org"]
    await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM opt_out"))
    assert tuple(await pool.fetchrow("SELECT org_id, phone FROM opt_out")) == (a["org"], stranger)
    # Imported later, the number is refused as opted out of the organization.
    imported = await assigner.call(api.CONTACTS_IMPORT, as_user=a["owner"],
                                   campaign_id=a["campaign"], contacts=[{"phone": stranger}])  # fmt: skip
    assert (imported["imported"], imported["rejected"]) == (0, [{"row": 0, "reason": "opted_out"}])
    # No confirmation: there is no conversation to send it in (docs/opt_outs.md says why).
    assert await pool.fetchval("SELECT count(*) FROM message WHERE direction = 'outbound'") == 0


async def test_an_organization_owns_its_numbers_and_campaigns_send_only_from_them(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    a, b = await _org(assigner, NUMBER_A), await _org(assigner, None)
    owner_a, owner_b = a["owner"], b["owner"]
    listed = await assigner.call(api.ORG_NUMBERS, as_user=owner_a, org_id=a["org"])
    assert listed == {"org_id": a["org"], "numbers": [NUMBER_A]}
    # Numbers are normalised; one another organization holds is refused, all or nothing.
    before = await snapshot(pool)
    taken = await assigner.error(api.ORG_NUMBERS_ADD, as_user=owner_b, org_id=b["org"],
                                 numbers=["+1 415 555 0102", "415-555-0101"])  # fmt: skip
    assert (taken.code, taken.details) == ("conflict", {"numbers": [NUMBER_A]})
    assert await snapshot(pool) == before
    bad = await assigner.error(api.ORG_NUMBERS_ADD, as_user=owner_b, org_id=b["org"],
                               numbers=[NUMBER_B, "not a number"])  # fmt: skip
    assert (bad.code, bad.details) == ("bad_request", {"field": "numbers[1]"})
    added = await assigner.call(api.ORG_NUMBERS_ADD, as_user=owner_b, org_id=b["org"],
                                numbers=["+1 415 555 0102", "22395"])  # fmt: skip
    assert added["numbers"] == ["+14155550102", "22395"]
    # A campaign sends only from its own organization's numbers.
    for subject, target in ((api.CAMPAIGN_CREATE.subject, {"org_id": b["org"], "title": "X"}),
                            (api.CAMPAIGN_UPDATE.subject, {"campaign_id": b["campaign"]})):  # fmt: skip
        refusal = await assigner.error(subject, as_user=owner_b, sending_number=NUMBER_A, **target)
        assert (refusal.code, refusal.details) == ("bad_request", {"field": "sending_number"})
    campaign = await assigner.call(api.CAMPAIGN_UPDATE, as_user=owner_b,
                                   campaign_id=b["campaign"], sending_number="22395")  # fmt: skip
    assert campaign["sending_number"] == "22395"
    # A number still in use is not removed; once no campaign sends from it, it is.
    in_use = await assigner.error(api.ORG_NUMBERS_REMOVE, as_user=owner_b,
                                  org_id=b["org"], numbers=["22395"])  # fmt: skip
    assert (in_use.code, in_use.details) == ("conflict", {"campaign_ids": [b["campaign"]]})
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=owner_b, campaign_id=b["campaign"],
                        sending_number=None)  # fmt: skip
    removed = await assigner.call(api.ORG_NUMBERS_REMOVE, as_user=owner_b,
                                  org_id=b["org"], numbers=["22395"])  # fmt: skip
    assert removed["numbers"] == [NUMBER_B]
    # A texter may not register numbers; a stranger is told the organization does not exist.
    texter = await assigner.error(api.ORG_NUMBERS_ADD, as_user=b["texter"],
                                  org_id=b["org"], numbers=["+14155550103"])  # fmt: skip
    assert texter.code == "forbidden"
    stranger = await assigner.error(api.ORG_NUMBERS, as_user=owner_a, org_id=b["org"])
    assert stranger.code == "not_found"


async def test_numbers_and_the_confirmation_text_from_the_command_line(
    assigner: Baton, settings: CommonSettings, pool: asyncpg.Pool, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name in [n for n in os.environ if n.startswith("BATON_AUTH_")] + ["BATON_TOKEN"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATON_AUTH_SECRET", TEST_AUTH_SECRET)
    monkeypatch.setenv("BATON_NATS_URL", settings.nats_url)
    monkeypatch.chdir(tmp_path)
    a = await _org(assigner, None)
    owner, org = str(a["owner"]), str(a["org"])

    async def baton(*argv: str) -> Any:
        code = await asyncio.to_thread(main, [*argv, "--as", owner, "--json"])
        out = capsys.readouterr().out
        assert code == exit_codes.OK, out
        return json.loads(out)

    added = await baton("org", "numbers-add", org, "(415) 555-0101", "22395")
    assert added["numbers"] == [NUMBER_A, "22395"]
    campaign = await baton("campaign", "update", str(a["campaign"]), "--sending-number", "22395")
    assert campaign["sending_number"] == "22395"
    assert (await baton("org", "numbers", org))["numbers"] == [NUMBER_A, "22395"]
    await baton("campaign", "update", str(a["campaign"]), "--sending-number", "none")
    assert (await baton("org", "numbers-remove", org, "22395"))["numbers"] == [NUMBER_A]
    updated = await baton("org", "update", org, "--opt-out-confirmation", "Parks: unsubscribed.")
    assert updated["opt_out_confirmation"] == "Parks: unsubscribed."
    assert await pool.fetchval("SELECT opt_out_confirmation FROM organization WHERE id = $1",
                               a["org"]) == "Parks: unsubscribed."  # fmt: skip


async def test_a_stop_to_a_number_given_up_or_passed_on_reaches_whoever_texted_from_it(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    # A texted the contact from NUMBER_A, then gave the number up; B registered it since.
    a, b, phone, in_a, in_b = await _sharing_a_contact(assigner, sender, pool, NUMBER_A, None)
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=a["owner"],
                        campaign_id=a["campaign"], sending_number=None)  # fmt: skip
    await assigner.call(api.ORG_NUMBERS_REMOVE, as_user=a["owner"], org_id=a["org"],
                        numbers=[NUMBER_A])  # fmt: skip
    # The contact answers A's text: their STOP is A's, though A no longer owns the number.
    await _text_in(nc, phone, NUMBER_A, "STOP")
    await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM opt_out"))
    assert tuple(await pool.fetchrow("SELECT org_id, phone FROM opt_out")) == (a["org"], phone)
    assert (await sender.error(api.SEND_REPLY, **_send(a["texter"], in_a))).code == "opted_out"
    # B takes the number over; the contact's START answers A's text still, and B's standing
    # (texted, not opted out) is untouched.
    await assigner.call(api.ORG_NUMBERS_ADD, as_user=b["owner"], org_id=b["org"],
                        numbers=[NUMBER_A])  # fmt: skip
    start = await _text_in(nc, phone, NUMBER_A, "START")
    recorded = await eventually(lambda: _recorded(pool, start))
    assert recorded["conversation_id"] == in_a
    await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM opt_out"))
    assert await pool.fetchval("SELECT status FROM conversation WHERE id = $1", in_b) == (
        "awaiting_reply")  # fmt: skip


async def test_a_bridge_payload_with_extras_is_read_and_a_receipts_foreign_number_ignored(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    a, b = await _org(assigner, NUMBER_A), await _org(assigner, NUMBER_B)
    conversation = a["conversations"][0]
    sent = await sender.call(api.SEND_INITIAL, **_send(a["texter"], conversation))
    # A receipt naming B's number (or no number at all) does not move A's text onto it.
    for n, reported in enumerate((NUMBER_B, "not a number")):
        receipt = {"message_id": sent["message_id"], "status": "sent", "from": reported,
                   "num_segments": 1}  # fmt: skip
        await nc.jetstream().publish(api.INBOUND_RECEIPT.subject, json.dumps(receipt).encode(),
                                     headers={"Nats-Msg-Id": f"r-{n}"})  # fmt: skip
    await eventually(lambda: pool.fetchval(
        "SELECT delivery_status = 'sent' FROM message WHERE id = $1", sent["message_id"]))  # fmt: skip
    assert await pool.fetchval("SELECT our_number FROM message WHERE id = $1",
                               sent["message_id"]) == NUMBER_A  # fmt: skip
    # A STOP with fields Baton does not read, an epoch time, and the contact's number as the
    # provider wrote it, is honoured all the same.
    phone = await _phone(pool, conversation)
    stop = {"provider_message_id": "p-extras", "from": phone, "to": NUMBER_A, "body": "STOP",
            "received_at": 1764400000, "num_media": 0, "account_sid": "AC1"}  # fmt: skip
    await nc.jetstream().publish(api.INBOUND_SMS.subject, json.dumps(stop).encode(),
                                 headers={"Nats-Msg-Id": "p-extras"})  # fmt: skip
    await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM opt_out"))
    kept = await pool.fetchval(
        "SELECT provider_received_at FROM message WHERE provider_message_id = 'p-extras'"
    )
    assert kept == datetime.fromtimestamp(1764400000, UTC)
    # A STOP from a number phonenumbers does not know as assigned (a new area code) to an owned
    # number: still the organization's opt-out.
    await _text_in(nc, "+15555550100", NUMBER_B, "stop")
    await eventually(lambda: pool.fetchval(
        "SELECT count(*) = 1 FROM opt_out WHERE org_id = $1 AND phone = '+15555550100'",
        b["org"]))  # fmt: skip


async def test_a_texter_opts_out_a_contact_whose_words_were_not_read_as_one(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    a = await _org(assigner, NUMBER_A)
    first, second = a["conversations"][:2]
    await sender.call(api.SEND_INITIAL, **_send(a["texter"], first))
    await _text_in(nc, await _phone(pool, first), NUMBER_A, "I said STOP, this is harassment")
    await eventually(lambda: pool.fetchval(
        "SELECT status = 'needs_reply' FROM conversation WHERE id = $1", first))  # fmt: skip
    events = await nc.jetstream().subscribe(f"{api.EVENTS_ROOT}.contact.>", stream="EVENTS")
    moderator = (await assigner.call(api.USER_CREATE, as_user=a["owner"],
                                     org_id=a["org"], name="Mo", role="moderator"))["user_id"]  # fmt: skip
    other = (await assigner.call(api.USER_CREATE, as_user=a["owner"], org_id=a["org"],
                                 name="T2", role="texter"))["user_id"]  # fmt: skip
    stranger = (await _org(assigner, None))["owner"]
    # Not theirs to decide: a texter not on the campaign (as for a send), and a stranger to the
    # organization.
    assert (await sender.error(api.SEND_OPT_OUT, as_user=other,
                               conversation_id=first)).code == "not_a_member"  # fmt: skip
    assert (await sender.error(api.SEND_OPT_OUT, as_user=stranger,
                               conversation_id=first)).code == "not_found"  # fmt: skip
    done = await sender.call(api.SEND_OPT_OUT, as_user=a["texter"], conversation_id=first)
    assert done == {"conversation_id": first, "opted_out_now": True}
    assert tuple(await pool.fetchrow("SELECT org_id, source FROM opt_out")) == (a["org"], "texter")
    confirmation = await pool.fetchrow(
        "SELECT conversation_id, our_number FROM message WHERE kind = 'opt_out_confirmation'"
    )
    assert tuple(confirmation) == (first, NUMBER_A)
    event = json.loads((await events.next_msg(timeout=10)).data)
    assert (event["change"], event["actor_id"], event["provider_message_id"]) == (
        "opt_out", a["texter"], None)  # fmt: skip
    # A moderator may too; again changes nothing and sends nothing more.
    again = await sender.call(api.SEND_OPT_OUT, as_user=moderator, conversation_id=first)
    assert again["opted_out_now"] is False
    assert await pool.fetchval(
        "SELECT count(*) FROM message WHERE kind = 'opt_out_confirmation'") == 1  # fmt: skip
    assert (await sender.error(api.SEND_INITIAL, **_send(a["texter"], first))).code in {
        "opted_out", "already_sent"}  # fmt: skip
    await sender.call(api.SEND_INITIAL, **_send(a["texter"], second))


async def test_the_confirmation_text_is_texted_as_is_so_it_must_be_readable(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    a = await _org(assigner, None)
    before = await snapshot(pool)
    for wording in ("Parks\u0007: unsubscribed", "   "):
        refusal = await assigner.error(api.ORG_UPDATE, as_user=a["owner"],
                                       org_id=a["org"], opt_out_confirmation=wording)  # fmt: skip
        assert (refusal.code, refusal.details) == ("bad_request",
                                                   {"field": "opt_out_confirmation"})  # fmt: skip
    assert await snapshot(pool) == before
