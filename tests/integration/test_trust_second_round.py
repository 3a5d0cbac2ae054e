"""Issue #30, "Trust, second round": one regression test per finding of the outside review, on
real NATS and Postgres, each also showing that nothing else changed."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import asyncpg
import jwt
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from shared.contract import catalogue as api
from tests.integration.test_sending_and_replies import (
    SENDING_NUMBER,
    _drained,
    _phone,
    _ready_campaign,
    _send,
)
from tests.support.baton_client import SIGNER, TEST_AUTH_SECRET, Baton, campaign_with_texters
from tests.support.snapshots import snapshot
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OTHER_NUMBER = "+14155550999"
NOBODYS_NUMBER = "+14155550777"


async def _publish(nc: NatsClient, provider_id: str, phone: str, to: str, body: str) -> None:
    payload = {"provider_message_id": provider_id, "from": phone, "to": to, "body": body,
               "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
    await nc.jetstream().publish(api.INBOUND_SMS.subject, json.dumps(payload).encode(),
                                 headers={"Nats-Msg-Id": str(uuid.uuid4())})  # fmt: skip


def _collisions(table: str) -> float:
    value = REGISTRY.get_sample_value("baton_inbound_id_collisions_total", {"table": table})
    return value or 0.0


async def _settled(nc: NatsClient) -> None:
    """Every contact's text published so far is handled and acknowledged (by its stream
    sequence: a consumer's pending count can lag a publish just acknowledged)."""
    js = nc.jetstream()
    last = (await js.stream_info("INBOUND")).state.last_seq

    async def acked() -> bool:
        info = await js.consumer_info("INBOUND", "inbound-sms")
        return info.ack_floor.stream_seq >= last and await _drained(nc, "INBOUND", "inbound-sms")

    await eventually(acked)


async def _other_org_campaign(assigner: Baton, sender: Baton) -> dict[str, Any]:
    """A second organization sending from OTHER_NUMBER to the same phones, its first initial
    sent."""
    c = await campaign_with_texters(assigner, texters=1, contacts=3, batch_size=3,
                                    sending_number=OTHER_NUMBER)  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        texting_hours={"start": 0, "end": 24})  # fmt: skip
    batch = await assigner.call(api.ASSIGN_REQUEST, campaign_id=c["campaign"],
                                as_user=c["texters"][0])  # fmt: skip
    c["conversations"] = batch["conversation_ids"]
    await sender.call(api.SEND_INITIAL, **_send(c["texters"][0], c["conversations"][0]))
    return c


# --- Finding 1: a STOP dropped because another organization's message had its id ---


async def test_a_stop_under_another_organizations_provider_id_is_stored_and_honoured(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    a = await _ready_campaign(assigner, pool)
    await sender.call(api.SEND_INITIAL, **_send(a["texters"][0], a["conversations"][0]))
    a_phone = await _phone(pool, a["conversations"][0])
    await _publish(nc, "p-1", a_phone, SENDING_NUMBER, "hello")
    await _settled(nc)
    a_message = await pool.fetchrow(
        "SELECT * FROM message WHERE direction = 'inbound' AND provider_message_id = 'p-1'"
    )
    assert a_message is not None
    b = await _other_org_campaign(assigner, sender)
    b_conversation = b["conversations"][0]
    b_phone = await _phone(pool, b_conversation)
    collided = _collisions("message")

    await _publish(nc, "p-1", b_phone, OTHER_NUMBER, "STOP")
    await _settled(nc)

    # Stored, under an id of its own, and honoured in organization B only.
    kept = await pool.fetchrow(
        "SELECT conversation_id, body, provider_message_id FROM message"
        " WHERE direction = 'inbound' AND provider_message_id LIKE 'p-1~%'"
    )  # fmt: skip
    assert kept is not None and kept["conversation_id"] == b_conversation
    assert kept["body"] == "STOP"
    assert await pool.fetch("SELECT org_id, phone FROM opt_out") == [(b["org"], b_phone)]
    assert (
        await pool.fetchval("SELECT status FROM conversation WHERE id = $1", b_conversation)
        == "closed"
    )
    assert _collisions("message") == collided + 1
    # Organization A's message and conversation are as they were.
    assert (
        await pool.fetchrow(
            "SELECT * FROM message WHERE direction = 'inbound' AND provider_message_id = 'p-1'"
        )
        == a_message
    )
    assert (
        await pool.fetchval("SELECT status FROM conversation WHERE id = $1", a["conversations"][0])
        == "needs_reply"
    )

    # True repeats of either are still recorded once: nothing at all changes.
    before = await snapshot(pool)
    await _publish(nc, "p-1", b_phone, OTHER_NUMBER, "STOP")
    await _publish(nc, "p-1", a_phone, SENDING_NUMBER, "hello")
    await _settled(nc)
    assert await snapshot(pool) == before
    assert _collisions("message") == collided + 1


async def test_an_unmatched_text_under_a_taken_id_is_kept_and_its_repeat_is_not(
    inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    collided = _collisions("unmatched_inbound")
    await _publish(nc, "u-1", "+12024441003", NOBODYS_NUMBER, "who is this")
    await _settled(nc)
    before = await snapshot(pool, exclude=frozenset({"unmatched_inbound"}))
    await _publish(nc, "u-1", "+12024441004", NOBODYS_NUMBER, "who is this")
    await _publish(nc, "u-1", "+12024441003", NOBODYS_NUMBER, "STOP")
    await _settled(nc)
    rows = await pool.fetch(
        "SELECT provider_message_id, from_phone, body FROM unmatched_inbound ORDER BY id"
    )
    # The first, settled alone, kept the id; the two after it arrived together, and a batch
    # writes different contacts' texts in no particular order.
    assert (rows[0]["from_phone"], rows[0]["body"]) == ("+12024441003", "who is this")
    assert sorted((r["from_phone"], r["body"]) for r in rows[1:]) == [
        ("+12024441003", "STOP"), ("+12024441004", "who is this"),
    ]  # fmt: skip
    assert rows[0]["provider_message_id"] == "u-1"
    assert all(r["provider_message_id"].startswith("u-1~") for r in rows[1:])
    assert _collisions("unmatched_inbound") == collided + 2
    assert await snapshot(pool, exclude=frozenset({"unmatched_inbound"})) == before
    # Each again: a repeat, nothing added.
    for phone, body in (("+12024441003", "who is this"), ("+12024441004", "who is this"),
                        ("+12024441003", "STOP")):  # fmt: skip
        await _publish(nc, "u-1", phone, NOBODYS_NUMBER, body)
    await _settled(nc)
    assert await pool.fetchval("SELECT count(*) FROM unmatched_inbound") == 3
    assert _collisions("unmatched_inbound") == collided + 2


# --- Finding 2: a texter removed from a campaign could still opt out its contacts ---


async def test_a_removed_texter_holds_nothing_and_cannot_opt_out(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool)
    texter, held = c["texters"][0], c["conversations"]
    await sender.call(api.SEND_INITIAL, **_send(texter, held[0]))
    await _publish(nc, str(uuid.uuid4()), await _phone(pool, held[0]), SENDING_NUMBER, "hi back")
    await eventually(lambda: pool.fetchval(
        "SELECT status = 'needs_reply' FROM conversation WHERE id = $1", held[0]))  # fmt: skip
    await _settled(nc)
    history = await pool.fetch("SELECT * FROM message ORDER BY id")
    events = await nc.jetstream().subscribe(api.CONVERSATIONS_REASSIGNED.pattern, stream="EVENTS")
    untouched = frozenset({"conversation", "campaign_texter", "assignment_event", "outbox",
                           "removal", "campaign_tally"})  # fmt: skip
    before = await snapshot(pool, exclude=untouched)

    removed = await assigner.call(api.CAMPAIGN_TEXTERS_REMOVE, as_user=c["owner"],
                                  campaign_id=c["campaign"], user_ids=[texter])  # fmt: skip

    assert removed == {"changed": 1, "unassigned": len(held)}
    rows = await pool.fetch("SELECT id, assignee_id, status FROM conversation ORDER BY id")
    assert {r["id"] for r in rows if r["assignee_id"] is None} >= set(held)
    assert all(r["assignee_id"] != texter for r in rows)
    # The answered reply keeps its history and its status; the others wait, Unassigned.
    statuses = {r["id"]: r["status"] for r in rows}
    assert statuses[held[0]] == "needs_reply"
    assert await pool.fetch("SELECT * FROM message ORDER BY id") == history
    logged = await pool.fetch("SELECT from_texter_id, to_texter_id, reason, actor_id,"
                              " conversation_ids FROM assignment_event WHERE reason = 'unassign'")  # fmt: skip
    assert [tuple(r) for r in logged] == [(texter, None, "unassign", c["owner"], sorted(held))]
    event = json.loads((await events.next_msg(timeout=10)).data)
    assert (event["reason"], event["to_texter_id"], sorted(event["conversation_ids"])) == (
        "unassign", None, sorted(held))  # fmt: skip
    assert await snapshot(pool, exclude=untouched) == before

    # Every subject a texter calls now answers not_a_member, the opt-out as a send does, and
    # nothing changes: no opt-out, no confirmation queued.
    before = await snapshot(pool)
    for conversation in held[:2]:
        refusal = await sender.error(api.SEND_OPT_OUT, as_user=texter,
                                     conversation_id=conversation)  # fmt: skip
        assert refusal.code == "not_a_member"
        refusal = await sender.error(api.SEND_REPLY, **_send(texter, conversation))
        assert refusal.code == "not_a_member"
    assert await snapshot(pool) == before


# --- Finding 3: taking someone out of an organization, changing a role ---


async def test_members_are_listed_changed_and_removed_by_the_roles_that_may(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> None:
    c = await _ready_campaign(assigner, pool)
    org, owner, texter = c["org"], c["owner"], c["texters"][0]
    people = {"owner": owner, "texter": texter}
    for role in ("admin", "moderator"):
        people[role] = (await assigner.call(api.USER_CREATE, as_user=owner, org_id=org,
                                            name=role, role=role))["user_id"]  # fmt: skip
    admin, moderator = people["admin"], people["moderator"]
    stranger = (await campaign_with_texters(assigner, texters=1, contacts=1))["owner"]

    listed = await assigner.call(api.ORG_MEMBERS, as_user=moderator, org_id=org)
    roles = {m["user_id"]: m["role"] for m in listed["members"]}
    assert {roles[user] for user in people.values()} == set(people)
    assert roles[owner] == "owner" and roles[texter] == "texter"
    one = await assigner.call(api.ORG_MEMBERS, as_user=moderator, org_id=org, user_id=admin)
    assert one["members"] == [{"user_id": admin, "name": "admin", "role": "admin",
                               "request_level": "auto_approve"}]  # fmt: skip

    # Refused, each changing nothing.
    before = await snapshot(pool)
    refusals = [
        (api.ORG_MEMBERS, texter, {}, "forbidden"),
        (api.ORG_MEMBERS, stranger, {}, "not_found"),
        (api.ORG_MEMBERS_REMOVE, moderator, {"user_id": texter}, "forbidden"),
        (api.ORG_MEMBERS_REMOVE, stranger, {"user_id": texter}, "not_found"),
        (api.ORG_MEMBERS_UPDATE, stranger, {"user_id": texter, "role": "owner"}, "not_found"),
        # Owners and admins are an owner's to make, demote or remove.
        (api.ORG_MEMBERS_UPDATE, admin, {"user_id": moderator, "role": "admin"}, "forbidden"),
        (api.ORG_MEMBERS_UPDATE, admin, {"user_id": admin, "role": "owner"}, "forbidden"),
        (api.ORG_MEMBERS_UPDATE, admin, {"user_id": owner, "role": "texter"}, "forbidden"),
        (api.ORG_MEMBERS_REMOVE, admin, {"user_id": owner}, "forbidden"),
        # The last owner is neither demoted nor removed.
        (api.ORG_MEMBERS_UPDATE, owner, {"user_id": owner, "role": "admin"}, "conflict"),
        (api.ORG_MEMBERS_REMOVE, owner, {"user_id": owner}, "conflict"),
        # Someone not in the organization.
        (api.ORG_MEMBERS_REMOVE, admin, {"user_id": stranger}, "not_a_member"),
        (api.ORG_MEMBERS_UPDATE, admin, {"user_id": 10**12, "role": "texter"}, "not_a_member"),
    ]
    for route, caller, fields, code in refusals:
        refusal = await assigner.error(route, as_user=caller, org_id=org, **fields)
        assert refusal.code == code, (route.subject, caller, fields, refusal)
    assert await snapshot(pool) == before

    # An admin changes a texter's role; an owner makes a second owner, then may step down.
    changed = await assigner.call(api.ORG_MEMBERS_UPDATE, as_user=admin, org_id=org,
                                  user_id=moderator, role="texter")  # fmt: skip
    assert changed == {"user_id": moderator, "name": "moderator", "role": "texter",
                       "request_level": "auto_approve"}  # fmt: skip
    await assigner.call(api.ORG_MEMBERS_UPDATE, as_user=owner, org_id=org, user_id=admin,
                        role="owner")  # fmt: skip
    await assigner.call(api.ORG_MEMBERS_UPDATE, as_user=owner, org_id=org, user_id=owner,
                        role="admin")  # fmt: skip
    assert await pool.fetchval("SELECT role FROM organization_member WHERE org_id = $1"
                               " AND user_id = $2", org, owner) == "admin"  # fmt: skip

    # Removing a texter who holds conversations: out of the organization, off its campaigns and
    # what they held back to Unassigned with its events; their token now reaches nothing there.
    held = await pool.fetchval("SELECT count(*) FROM conversation WHERE assignee_id = $1", texter)
    assert held > 0
    untouched = frozenset({"conversation", "campaign_texter", "assignment_event", "outbox",
                           "organization_member", "removal", "campaign_tally"})  # fmt: skip
    before = await snapshot(pool, exclude=untouched)
    members = await pool.fetch("SELECT * FROM organization_member WHERE user_id <> $1"
                               " ORDER BY org_id, user_id", texter)  # fmt: skip
    removed = await assigner.call(api.ORG_MEMBERS_REMOVE, as_user=admin, org_id=org,
                                  user_id=texter)  # fmt: skip
    assert removed == {"user_id": texter, "unassigned": held}
    assert await pool.fetchval("SELECT count(*) FROM conversation WHERE assignee_id = $1",
                               texter) == 0  # fmt: skip
    assert await pool.fetchval("SELECT count(*) FROM campaign_texter WHERE user_id = $1",
                               texter) == 0  # fmt: skip
    assert await pool.fetch("SELECT * FROM organization_member ORDER BY org_id, user_id") == members
    assert await pool.fetchval("SELECT sum(cardinality(conversation_ids)) FROM assignment_event"
                               " WHERE reason = 'unassign' AND from_texter_id = $1",
                               texter) == held  # fmt: skip
    assert await snapshot(pool, exclude=untouched) == before
    for route, fields in ((api.ASSIGN_REQUEST, {"campaign_id": c["campaign"]}),
                          (api.CONVERSATIONS, {"campaign_id": c["campaign"]}),
                          (api.SEND_OPT_OUT, {"conversation_id": c["conversations"][0]})):  # fmt: skip
        baton = sender if route is api.SEND_OPT_OUT else assigner
        assert (await baton.error(route, as_user=texter, **fields)).code == "not_found"


async def test_an_invite_link_does_not_bring_back_someone_removed(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> None:
    """Found by the outside review: `baton.assign.join` made a removed person a texter again,
    with a first batch. Taken out of the organization, or off the campaign, a link no longer
    brings them back; an admin adding them to the campaign again does."""
    c = await _ready_campaign(assigner, pool)
    org, owner, campaign = c["org"], c["owner"], c["campaign"]
    out_of_org, off_campaign = c["texters"][0], c["texters"][1]
    await assigner.call(api.ORG_MEMBERS_REMOVE, as_user=owner, org_id=org, user_id=out_of_org)
    await assigner.call(api.CAMPAIGN_TEXTERS_REMOVE, as_user=owner, campaign_id=campaign,
                        user_ids=[off_campaign])  # fmt: skip
    token = (await assigner.call(api.CAMPAIGN_INVITE, as_user=owner, campaign_id=campaign,
                                 kind="initials"))["token"]  # fmt: skip

    before = await snapshot(pool)
    for removed in (out_of_org, off_campaign):
        refusal = await assigner.error(api.ASSIGN_JOIN, as_user=removed, token=token)
        assert refusal.code == "invalid_invite", refusal
    assert await snapshot(pool) == before

    # The admin's choice brings one back: added to the campaign, the link works for them again.
    await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=owner, campaign_id=campaign,
                        user_ids=[off_campaign])  # fmt: skip
    joined = await assigner.call(api.ASSIGN_JOIN, as_user=off_campaign, token=token)
    assert joined["campaign_id"] == campaign
    # Someone never removed still joins by the link, as before.
    newcomer = (await assigner.call(api.USER_CREATE, as_user=owner, org_id=org, name="New",
                                    role="texter"))["user_id"]  # fmt: skip
    assert (await assigner.call(api.ASSIGN_JOIN, as_user=newcomer, token=token))["campaign_id"] == (
        campaign
    )
    assert (await assigner.error(api.ASSIGN_JOIN, as_user=out_of_org, token=token)).code == (
        "invalid_invite"
    )


# --- Finding 4: tokens without bounds, an exp that overflowed, a repeated Authorization ---


async def _raw_request(nats_url: str, subject: str, headers: list[tuple[str, str]],
                       body: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """A request written on the wire by hand: nats-py's client cannot send a header twice."""
    url = urlparse(nats_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        await reader.readline()  # INFO
        inbox = f"_INBOX.raw{uuid.uuid4().hex}"
        block = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        head, payload = block.encode(), json.dumps(body).encode()
        writer.write(b'CONNECT {"headers":true,"verbose":false,"no_responders":true}\r\n')
        writer.write(f"SUB {inbox} 1\r\n".encode())
        writer.write(f"HPUB {subject} {inbox} {len(head)} {len(head) + len(payload)}\r\n".encode())
        writer.write(head + payload + b"\r\n")
        await writer.drain()
        while True:
            line = await asyncio.wait_for(reader.readline(), 10)
            if line.startswith(b"PING"):
                writer.write(b"PONG\r\n")
                continue
            if line.startswith((b"MSG", b"HMSG")):
                size = int(line.split()[-1])
                skip = int(line.split()[-2]) if line.startswith(b"HMSG") else 0
                data = await reader.readexactly(size + 2)
                return dict(json.loads(data[skip:size]))
    finally:
        writer.close()


async def test_a_repeated_authorization_header_is_refused_and_changes_nothing(
    assigner: Baton, pool: asyncpg.Pool, nats_url: str
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=2)
    owner, texter, campaign = c["owner"], c["texters"][0], c["campaign"]
    read = {"campaign_id": campaign}
    one = await _raw_request(nats_url, api.CAMPAIGN_READ.subject,
                             [("Authorization", "Bearer " + SIGNER.mint(owner))], read)  # fmt: skip
    assert one["ok"] is True  # written by hand, a request with one header is served
    before = await snapshot(pool)
    update = {"campaign_id": campaign, "batch_size": 7}
    for first, last in ((owner, owner), (texter, owner), (owner, texter)):
        for name in ("Authorization", "authorization"):
            headers = [("Authorization", "Bearer " + SIGNER.mint(first)),
                       (name, "Bearer " + SIGNER.mint(last))]  # fmt: skip
            reply = await _raw_request(nats_url, api.CAMPAIGN_UPDATE.subject, headers, update)
            assert reply["ok"] is False and reply["error"]["code"] == "unauthenticated", reply
    assert await snapshot(pool) == before


async def test_unbounded_and_unreadable_token_times_are_unauthenticated(
    assigner: Baton, pool: asyncpg.Pool, nats_url: str
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=2)
    before = await snapshot(pool)
    now = int(datetime.now(UTC).timestamp())
    payloads = [
        {"sub": str(c["owner"]), "iat": now, "exp": 253402300799},  # year 9999
        {"sub": str(c["owner"]), "exp": now + 2 * 86_400},  # two days, no iat
        {"sub": str(c["owner"]), "exp": 10**400},
    ]
    for claims in payloads:
        token = jwt.encode(claims, TEST_AUTH_SECRET, algorithm="HS256")
        reply = await _raw_request(nats_url, api.CAMPAIGN_UPDATE.subject,
                                   [("Authorization", "Bearer " + token)],
                                   {"campaign_id": c["campaign"], "batch_size": 7})  # fmt: skip
        assert reply["ok"] is False and reply["error"]["code"] == "unauthenticated", (claims, reply)
    assert await snapshot(pool) == before


# --- Finding 5: a contact's fields without bounds ---


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"note": "x" * 1_000_000}, "$.contacts[1].fields"),
        ({"k" * 101: "v"}, "key"),
        ({"": "v"}, "key"),
        ({f"k{n}": n for n in range(101)}, "$.contacts[1].fields"),
        ({"deep": {"list": ["x" * 10_001]}}, "$.contacts[1].fields"),
        ({"wide": list(range(101))}, "$.contacts[1].fields"),
        ({f"k{n}": "x" * 9_000 for n in range(4)}, "$.contacts[1]"),  # 36 KB in all
    ],
    ids=[
        "one-value-of-a-million",
        "long-key",
        "empty-key",
        "101-fields",
        "nested-long-text",
        "long-list",
        "row-too-large",
    ],
)
async def test_a_contacts_fields_are_bounded_and_a_refusal_names_them(
    assigner: Baton, pool: asyncpg.Pool, fields: dict[str, Any], where: str
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    before = await snapshot(pool)
    for file in (None, {"import_id": str(uuid.uuid4()), "rows": 2}):
        extra = {"file": file} if file else {}
        error = await assigner.error(api.CONTACTS_IMPORT, as_user=c["owner"],
                                     campaign_id=c["campaign"],
                                     contacts=[{"phone": "+16505550100"},
                                               {"phone": "+16505550101", "fields": fields}],
                                     **extra)  # fmt: skip
        assert error.code == "bad_request" and where in error.message, error
        assert "fields" in error.message
    assert await snapshot(pool) == before
    # At the bounds, accepted.
    fine = {f"k{n:02d}" + "k" * 97: "x" * 200 for n in range(100)}  # 30 KB
    done = await assigner.call(api.CONTACTS_IMPORT, as_user=c["owner"], campaign_id=c["campaign"],
                               contacts=[{"phone": "+16505550100", "fields": fine}])  # fmt: skip
    assert done["imported"] == 1


# --- Finding 6: 911 as a sending number ---


async def test_service_codes_and_non_numbers_are_no_sending_numbers(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    before = await snapshot(pool)
    for number in ("911", "411", "611", "1234", "1234567", "12345678", "+1911", "+15555550100",
                   "+1 (900) 000-0000"):  # fmt: skip
        error = await assigner.error(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"],
                                     numbers=["+14155550123", number])  # fmt: skip
        assert error.code == "bad_request" and "numbers" in error.message, (number, error)
        error = await assigner.error(api.CAMPAIGN_CREATE, as_user=c["owner"], org_id=c["org"],
                                     title="C", sending_number=number)  # fmt: skip
        assert error.code == "bad_request" and "sending_number" in error.message, (number, error)
    assert await snapshot(pool) == before
    added = await assigner.call(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"],
                                numbers=["+14155550123", "12345", "654321"])  # fmt: skip
    assert sorted(added["numbers"]) == ["+14155550123", "12345", "654321"]
    # One an earlier release registered can still be given up.
    await pool.execute("INSERT INTO sending_number (phone, org_id) VALUES ('911', $1)", c["org"])
    left = await assigner.call(api.ORG_NUMBERS_REMOVE, as_user=c["owner"], org_id=c["org"],
                               numbers=[" 911 "])  # fmt: skip
    assert sorted(left["numbers"]) == ["+14155550123", "12345", "654321"]


# --- Finding 8: an import id answers alike, another's or nobody's ---


async def test_an_abort_answers_alike_for_another_organizations_import_and_a_random_id(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    mine = await campaign_with_texters(assigner, texters=0, contacts=0)
    theirs = await campaign_with_texters(assigner, texters=0, contacts=0)
    live = str(uuid.uuid4())
    await assigner.call(api.CONTACTS_IMPORT, as_user=theirs["owner"],
                        campaign_id=theirs["campaign"], contacts=[{"phone": "+16505550100"}],
                        file={"import_id": live, "rows": 2})  # fmt: skip
    before = await snapshot(pool)

    async def answer(import_id: str, step: str, first_row: int) -> Any:
        try:
            return await assigner.call(api.CONTACTS_IMPORT, as_user=mine["owner"],
                                       campaign_id=mine["campaign"], contacts=[],
                                       file={"import_id": import_id, "rows": 2,
                                             "first_row": first_row, "step": step})  # fmt: skip
        except Exception as refusal:
            return getattr(refusal, "code", repr(refusal)), str(refusal).replace(import_id, "<id>")

    for step, first_row in (("abort", 0), ("commit", 1), ("stage", 1)):
        assert await answer(live, step, first_row) == await answer(
            str(uuid.uuid4()), step, first_row), step  # fmt: skip
    # Even while its owner's request holds it: never `busy` for someone else's.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM contact_file_import WHERE id = $1 FOR UPDATE",
                           uuid.UUID(live))  # fmt: skip
        assert await answer(live, "abort", 0) == await answer(str(uuid.uuid4()), "abort", 0)
    assert await snapshot(pool) == before
    assert await pool.fetchval("SELECT staged FROM contact_file_import WHERE id = $1",
                               uuid.UUID(live)) == 1  # fmt: skip


async def test_a_claim_in_flight_as_its_texter_is_removed_leaves_them_holding_nothing(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    """A claim holds its texter's claim lock until it commits (claims.sql); the removal waits for
    it and returns what it handed out."""
    c = await campaign_with_texters(assigner, texters=1, contacts=4, batch_size=2)
    texter, campaign = c["texters"][0], c["campaign"]
    async with pool.acquire() as claim, claim.transaction():
        await claim.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                            f"claim:{campaign}:{texter}")  # fmt: skip
        removal = asyncio.create_task(assigner.call(
            api.CAMPAIGN_TEXTERS_REMOVE, as_user=c["owner"], campaign_id=campaign,
            user_ids=[texter]))  # fmt: skip
        await asyncio.sleep(0.5)
        assert not removal.done()  # waiting for the claim
        await claim.execute(
            "UPDATE conversation SET assignee_id = $1 WHERE id IN (SELECT id FROM conversation"
            " WHERE campaign_id = $2 ORDER BY id LIMIT 2)", texter, campaign)  # fmt: skip
    removed = await removal
    assert removed == {"changed": 1, "unassigned": 2}
    assert await pool.fetchval("SELECT count(*) FROM conversation WHERE assignee_id = $1",
                               texter) == 0  # fmt: skip
    refusal = await assigner.error(api.ASSIGN_REQUEST, as_user=texter, campaign_id=campaign)
    assert refusal.code == "not_a_member"


# --- Finding 7: look-alike STOPs were ordinary replies ---


async def test_a_lookalike_stop_opts_out_and_a_lookalike_start_opts_no_one_in(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _ready_campaign(assigner, pool)
    stops = ["ST0P", "\u0455\u0442\u043e\u0440", "ST\u039fP"]  # a zero; Cyrillic; Greek omicron
    conversations = c["conversations"][: len(stops) + 1]
    for conversation in conversations:
        await sender.call(api.SEND_INITIAL, **_send(c["texters"][0], conversation))
    phones = [await _phone(pool, conversation) for conversation in conversations]
    for phone, body in zip(phones, stops, strict=False):
        await _publish(nc, str(uuid.uuid4()), phone, SENDING_NUMBER, body)
    # The last contact answers with a look-alike of a reply, then of START: neither opts out.
    await _publish(nc, str(uuid.uuid4()), phones[-1], SENDING_NUMBER, "st0p by the office?")
    await _settled(nc)
    opted = await pool.fetch("SELECT phone, source FROM opt_out ORDER BY phone")
    assert sorted((r["phone"], r["source"]) for r in opted) == sorted(
        (phone, "reply") for phone in phones[: len(stops)])  # fmt: skip
    statuses = await pool.fetch("SELECT id, status FROM conversation WHERE id = ANY($1)",
                                conversations)  # fmt: skip
    assert {r["id"]: r["status"] for r in statuses} == {
        **dict.fromkeys(conversations[: len(stops)], "closed"), conversations[-1]: "needs_reply"}  # fmt: skip
    # A look-alike START from an opted-out number keeps it opted out.
    before = await pool.fetch("SELECT * FROM opt_out ORDER BY phone")
    await _publish(nc, str(uuid.uuid4()), phones[0], SENDING_NUMBER, "\u0405\u0422\u0410RT")
    await _settled(nc)
    assert await pool.fetch("SELECT * FROM opt_out ORDER BY phone") == before
