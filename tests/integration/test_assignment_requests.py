"""Issue #33, assignment requests that wait for approval, on real NATS and Postgres: each
request level, the double request, the rules an approval's claim obeys, who may set a level,
the texter's own list, every transition in the event log and on EVENTS, and an approval racing
an Unassign All."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from shared.contract import catalogue as api
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.snapshots import snapshot

pytestmark = pytest.mark.integration


async def _campaign(assigner: Baton, texters: int = 2, contacts: int = 20,
                    batch_size: int = 5) -> dict[str, Any]:  # fmt: skip
    """An active campaign open all day, with a moderator."""
    c = await campaign_with_texters(assigner, texters=texters, contacts=contacts,
                                    batch_size=batch_size)  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        texting_hours={"start": 0, "end": 24})  # fmt: skip
    c["moderator"] = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                          name="Mo", role="moderator"))["user_id"]  # fmt: skip
    return c


async def _level(assigner: Baton, c: dict[str, Any], texter: int, level: str) -> dict[str, Any]:
    member: dict[str, Any] = await assigner.call(
        api.ORG_MEMBERS_UPDATE, as_user=c["moderator"], org_id=c["org"], user_id=texter,
        request_level=level,
    )  # fmt: skip
    return member


async def _waiting(assigner: Baton) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """A campaign, its first texter (at approval_required) and their waiting request."""
    c = await _campaign(assigner)
    texter = c["texters"][0]
    await _level(assigner, c, texter, "approval_required")
    waiting = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    return c, texter, waiting


async def _held(pool: asyncpg.Pool, campaign: int, texter: int) -> list[int]:
    rows = await pool.fetch("SELECT id FROM conversation WHERE campaign_id = $1 AND assignee_id = "
                            "$2 ORDER BY id", campaign, texter)  # fmt: skip
    return [r["id"] for r in rows]


async def _transitions(pool: asyncpg.Pool, request_id: int) -> list[str]:
    rows = await pool.fetch("SELECT status FROM assignment_request_event WHERE request_id = $1 "
                            "ORDER BY id", request_id)  # fmt: skip
    return [r["status"] for r in rows]


async def test_auto_approve_is_the_default_and_hands_a_batch_at_once(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await _campaign(assigner)
    texter = c["texters"][0]
    members = await assigner.call(api.ORG_MEMBERS, as_user=c["owner"], org_id=c["org"],
                                  user_id=texter)  # fmt: skip
    assert members["members"][0]["request_level"] == "auto_approve"
    batch = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    assert batch["status"] == "assigned" and batch["request_id"] is None
    assert batch["conversation_ids"] == await _held(pool, c["campaign"], texter)
    assert len(batch["conversation_ids"]) == 5
    assert await pool.fetchval("SELECT count(*) FROM assignment_request WHERE org_id = $1",
                               c["org"]) == 0  # fmt: skip


async def test_do_not_approve_is_refused_and_changes_nothing(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await _campaign(assigner)
    texter = c["texters"][0]
    assert (await _level(assigner, c, texter, "do_not_approve"))["request_level"] == (
        "do_not_approve")  # fmt: skip
    before = await snapshot(pool)
    refusal = await assigner.error(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    assert refusal.code == "not_approved"
    assert await snapshot(pool) == before
    # The other texter, still at the default, is not affected.
    other = await assigner.call(api.ASSIGN_REQUEST, as_user=c["texters"][1],
                                campaign_id=c["campaign"])  # fmt: skip
    assert other["count"] == 5


async def test_approval_required_waits_then_approval_claims_the_batch_with_every_transition(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _campaign(assigner)
    texter, other = c["texters"]
    await _level(assigner, c, texter, "approval_required")
    events = await nc.jetstream().subscribe(api.ASSIGNMENT_REQUEST_CHANGED.pattern,
                                            stream="EVENTS")  # fmt: skip
    waiting = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    assert waiting == {"status": "pending_approval", "request_id": waiting["request_id"],
                       "conversation_ids": [], "count": 0,
                       "campaign_id": c["campaign"]}  # fmt: skip
    request_id = waiting["request_id"]
    assert isinstance(request_id, int)
    assert await _held(pool, c["campaign"], texter) == []
    first = json.loads((await events.next_msg(timeout=10)).data)
    assert (first["request_id"], first["status"], first["texter_id"]) == (
        request_id, "pending", texter)  # fmt: skip

    # A second request while it waits is refused, naming the one that waits; nothing changes.
    before = await snapshot(pool)
    again = await assigner.error(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    assert again.code == "request_pending" and again.details == {"request_id": request_id}
    assert await snapshot(pool) == before

    # The texter sees their own request, and only their own, whoever they name.
    mine = await assigner.call(api.ASSIGNMENT_REQUESTS, as_user=texter, org_id=c["org"])
    assert [r["request_id"] for r in mine["requests"]] == [request_id]
    theirs = await assigner.call(api.ASSIGNMENT_REQUESTS, as_user=other, org_id=c["org"],
                                 texter_id=texter)  # fmt: skip
    assert theirs["requests"] == []
    waiting_list = await assigner.call(api.ASSIGNMENT_REQUESTS, as_user=c["moderator"],
                                       org_id=c["org"], status="pending")  # fmt: skip
    assert [r["request_id"] for r in waiting_list["requests"]] == [request_id]
    assert waiting_list["requests"][0]["created_at"].endswith("Z")

    resolved = await assigner.call(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["moderator"],
                                   request_id=request_id, approve=True)  # fmt: skip
    assert resolved["status"] == "fulfilled" and resolved["refusal"] is None
    assert resolved["resolved_by"] == c["moderator"]
    assert len(resolved["conversation_ids"]) == 5
    assert resolved["conversation_ids"] == await _held(pool, c["campaign"], texter)
    assert await _transitions(pool, request_id) == ["pending", "approved", "fulfilled"]
    seen = [json.loads((await events.next_msg(timeout=10)).data) for _ in range(2)]
    assert [e["status"] for e in seen] == ["approved", "fulfilled"]
    assert seen[1]["conversation_ids"] == resolved["conversation_ids"]
    assert seen[1]["actor_id"] == c["moderator"]

    # The texter's app learns the outcome from their list; resolving again is a conflict.
    mine = await assigner.call(api.ASSIGNMENT_REQUESTS, as_user=texter, org_id=c["org"])
    assert mine["requests"][0]["status"] == "fulfilled"
    before = await snapshot(pool)
    twice = await assigner.error(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["moderator"],
                                 request_id=request_id, approve=True)  # fmt: skip
    assert twice.code == "conflict" and twice.details == {"status": "fulfilled"}
    assert await snapshot(pool) == before


async def test_an_approval_obeys_the_claim_rules_and_keeps_the_refusal(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c, texter, first = await _waiting(assigner)
    await assigner.call(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["moderator"],
                        request_id=first["request_id"], approve=True)  # fmt: skip
    held = await _held(pool, c["campaign"], texter)
    # The initials of the first batch are not sent: the second approval claims nothing.
    second = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    resolved = await assigner.call(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["moderator"],
                                   request_id=second["request_id"], approve=True)  # fmt: skip
    assert (resolved["status"], resolved["refusal"]) == ("unfulfilled", "initials_pending")
    assert resolved["conversation_ids"] == []
    assert await _held(pool, c["campaign"], texter) == held
    assert await _transitions(pool, second["request_id"]) == [
        "pending", "approved", "unfulfilled"]  # fmt: skip


async def test_a_rejection_can_set_the_level_and_the_next_request_follows_it(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c, texter, waiting = await _waiting(assigner)
    rejected = await assigner.call(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["moderator"],
                                   request_id=waiting["request_id"], approve=False,
                                   request_level="auto_approve")  # fmt: skip
    assert rejected["status"] == "rejected" and rejected["conversation_ids"] == []
    assert await _held(pool, c["campaign"], texter) == []
    logged = await pool.fetch("SELECT status, request_level, actor_id FROM "
                              "assignment_request_event WHERE request_id = $1 ORDER BY id",
                              waiting["request_id"])  # fmt: skip
    assert [tuple(r) for r in logged] == [("pending", None, texter),
                                          ("rejected", "auto_approve", c["moderator"])]  # fmt: skip
    direct = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    assert direct["status"] == "assigned" and direct["count"] == 5


async def test_a_moderator_sets_only_a_texters_level_and_never_a_role(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await _campaign(assigner)
    texter, moderator = c["texters"][0], c["moderator"]
    other_moderator = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                           name="Mo2", role="moderator"))["user_id"]  # fmt: skip
    before = await snapshot(pool)
    refused = [
        await assigner.error(api.ORG_MEMBERS_UPDATE, as_user=moderator, org_id=c["org"],
                             user_id=other_moderator, request_level="do_not_approve"),
        await assigner.error(api.ORG_MEMBERS_UPDATE, as_user=moderator, org_id=c["org"],
                             user_id=texter, role="moderator"),
        await assigner.error(api.ORG_MEMBERS_UPDATE, as_user=moderator, org_id=c["org"],
                             user_id=texter, role="texter", request_level="do_not_approve"),
        await assigner.error(api.ORG_MEMBERS_UPDATE, as_user=texter, org_id=c["org"],
                             user_id=texter, request_level="auto_approve"),
    ]  # fmt: skip
    assert [r.code for r in refused] == ["forbidden"] * 4
    empty = await assigner.error(api.ORG_MEMBERS_UPDATE, as_user=c["owner"], org_id=c["org"],
                                 user_id=texter)  # fmt: skip
    assert empty.code == "bad_request"
    assert await snapshot(pool) == before
    # An admin (here the owner) sets a moderator's level, and a role and a level at once.
    changed = await assigner.call(api.ORG_MEMBERS_UPDATE, as_user=c["owner"], org_id=c["org"],
                                  user_id=other_moderator, role="texter",
                                  request_level="approval_required")  # fmt: skip
    assert (changed["role"], changed["request_level"]) == ("texter", "approval_required")


async def test_a_stranger_and_another_organization_learn_nothing_of_a_request(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c, texter, waiting = await _waiting(assigner)
    outsider = await _campaign(assigner)
    refusal = await assigner.error(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=outsider["owner"],
                                   request_id=waiting["request_id"], approve=True)  # fmt: skip
    assert refusal.code == "not_found"
    # A texter of the organization may not resolve, even their own.
    own = await assigner.error(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=texter,
                               request_id=waiting["request_id"], approve=True)  # fmt: skip
    assert own.code == "forbidden"
    listed = await assigner.error(api.ASSIGNMENT_REQUESTS, as_user=outsider["owner"],
                                  org_id=c["org"])  # fmt: skip
    assert listed.code == "not_found"


async def _replayed_holders(pool: asyncpg.Pool, campaign: int) -> dict[int, int | None]:
    """Each conversation's holder as the event log's last move says."""
    rows = await pool.fetch(
        """SELECT DISTINCT ON (conversation_id) conversation_id, to_texter_id
           FROM assignment_move WHERE campaign_id = $1
           ORDER BY conversation_id, event_id DESC""", campaign)  # fmt: skip
    return {r["conversation_id"]: r["to_texter_id"] for r in rows}


@pytest.mark.parametrize("round_", range(6))
async def test_an_approval_racing_an_unassign_all_hands_nothing_out_twice(
    assigner: Baton, pool: asyncpg.Pool, round_: int
) -> None:
    c = await _campaign(assigner, texters=3, contacts=40, batch_size=5)
    waiting_texter, *others = c["texters"]
    for texter in others:
        await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    await _level(assigner, c, waiting_texter, "approval_required")
    waiting = await assigner.call(api.ASSIGN_REQUEST, as_user=waiting_texter,
                                  campaign_id=c["campaign"])  # fmt: skip
    approve = assigner.call(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["moderator"],
                            request_id=waiting["request_id"], approve=True)  # fmt: skip
    unassign = assigner.call(api.REASSIGN, as_user=c["owner"], campaign_id=c["campaign"],
                             status="any", to_texter_ids=[], confirm=True)  # fmt: skip
    # Alternate which is sent first; the services decide the order.
    pair = (approve, unassign) if round_ % 2 == 0 else (unassign, approve)
    results = await asyncio.gather(*pair)
    resolved = results[0] if round_ % 2 == 0 else results[1]
    assert resolved["status"] == "fulfilled" and len(resolved["conversation_ids"]) == 5

    rows = await pool.fetch("SELECT id, assignee_id FROM conversation WHERE campaign_id = $1",
                            c["campaign"])  # fmt: skip
    holders = {r["id"]: r["assignee_id"] for r in rows}
    # The other texters' batches were unassigned; the approved batch is either still held by
    # its texter (claimed after the unassign) or back in Unassigned (claimed before it).
    others_claimed = [i for texter in others for i in await _claims_of(pool, texter)]
    assert len(others_claimed) == 10 and all(holders[i] is None for i in others_claimed)
    approved_ids = resolved["conversation_ids"]
    assert {holders[i] for i in approved_ids} in ({waiting_texter}, {None})
    assert {i for i, h in holders.items() if h is not None} <= set(approved_ids)
    # The log replays to the holders exactly: nothing moved without its event, nothing twice.
    replayed = await _replayed_holders(pool, c["campaign"])
    assert {i: h for i, h in holders.items() if h is not None or i in replayed} == replayed
    assert await _transitions(pool, waiting["request_id"]) == [
        "pending", "approved", "fulfilled"]  # fmt: skip


async def _claims_of(pool: asyncpg.Pool, texter: int) -> list[int]:
    rows = await pool.fetch("SELECT conversation_id FROM assignment_move WHERE to_texter_id = $1",
                            texter)  # fmt: skip
    return [r["conversation_id"] for r in rows]


async def test_a_join_by_invite_obeys_the_members_request_level(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    """The first batch of an invite join is a request like any other: do_not_approve gets none,
    approval_required waits (and a second join with the same link hands none out either)."""
    c = await _campaign(assigner, texters=3)
    refused, waits, auto = c["texters"]
    await _level(assigner, c, refused, "do_not_approve")
    await _level(assigner, c, waits, "approval_required")
    token = (await assigner.call(api.CAMPAIGN_INVITE, as_user=c["owner"],
                                 campaign_id=c["campaign"], kind="initials"))["token"]  # fmt: skip

    for _ in range(2):
        joined = await assigner.call(api.ASSIGN_JOIN, as_user=refused, token=token)
        assert (joined["conversation_ids"], joined["first_batch_error"]) == ([], "not_approved")
        assert joined["request_id"] is None
    assert await _held(pool, c["campaign"], refused) == []

    joined = await assigner.call(api.ASSIGN_JOIN, as_user=waits, token=token)
    assert (joined["conversation_ids"], joined["first_batch_error"]) == ([], "pending_approval")
    request_id = joined["request_id"]
    waiting = await pool.fetchrow("SELECT texter_id, campaign_id, kind, status FROM "
                                  "assignment_request WHERE id = $1", request_id)  # fmt: skip
    assert tuple(waiting) == (waits, c["campaign"], "initials", "pending")
    again = await assigner.call(api.ASSIGN_JOIN, as_user=waits, token=token)
    assert (again["first_batch_error"], again["request_id"]) == ("request_pending", request_id)
    assert await _held(pool, c["campaign"], waits) == []
    resolved = await assigner.call(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["moderator"],
                                   request_id=request_id, approve=True)  # fmt: skip
    assert resolved["conversation_ids"] == await _held(pool, c["campaign"], waits)
    assert len(resolved["conversation_ids"]) == 5

    # The default level takes its batch at once, as before.
    joined = await assigner.call(api.ASSIGN_JOIN, as_user=auto, token=token)
    assert joined["first_batch_error"] is None and len(joined["conversation_ids"]) == 5
    assert joined["conversation_ids"] == await _held(pool, c["campaign"], auto)


@pytest.mark.parametrize("reason", ["auto_approve", "do_not_approve", "removed_from_organization",
                                    "removed_from_campaign"])  # fmt: skip
async def test_a_waiting_request_is_cancelled_when_its_reason_goes_away(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient, reason: str
) -> None:
    c, texter, waiting = await _waiting(assigner)
    request_id = waiting["request_id"]
    events = await nc.jetstream().subscribe(api.ASSIGNMENT_REQUEST_CHANGED.pattern,
                                            stream="EVENTS")  # fmt: skip
    assert json.loads((await events.next_msg(timeout=10)).data)["status"] == "pending"
    if reason == "removed_from_organization":
        await assigner.call(api.ORG_MEMBERS_REMOVE, as_user=c["owner"], org_id=c["org"],
                            user_id=texter)  # fmt: skip
    elif reason == "removed_from_campaign":
        await assigner.call(api.CAMPAIGN_TEXTERS_REMOVE, as_user=c["owner"],
                            campaign_id=c["campaign"], user_ids=[texter])  # fmt: skip
    else:
        await _level(assigner, c, texter, reason)
    why = "request_level_changed" if reason.endswith("approve") else reason
    row = await pool.fetchrow("SELECT status, refusal, resolved_by FROM assignment_request "
                              "WHERE id = $1", request_id)  # fmt: skip
    assert tuple(row) == ("cancelled", why, c["owner"] if "removed" in reason else c["moderator"])
    assert await _transitions(pool, request_id) == ["pending", "cancelled"]
    event = json.loads((await events.next_msg(timeout=10)).data)
    assert (event["request_id"], event["status"], event["refusal"]) == (request_id, "cancelled",
                                                                        why)  # fmt: skip
    # Nothing is left to approve: resolving it is a conflict and hands nothing out.
    late = await assigner.error(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["owner"],
                                request_id=request_id, approve=True)  # fmt: skip
    assert late.code == "conflict" and late.details == {"status": "cancelled"}
    assert await _held(pool, c["campaign"], texter) == []
    if reason == "auto_approve":  # the next request follows the new level at once
        batch = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
        assert batch["status"] == "assigned" and batch["count"] == 5


async def test_a_level_set_again_to_approval_required_keeps_the_waiting_request(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c, texter, waiting = await _waiting(assigner)
    await _level(assigner, c, texter, "approval_required")
    assert await _transitions(pool, waiting["request_id"]) == ["pending"]


async def test_an_approval_outside_texting_hours_keeps_when_the_next_ones_open(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    """An approved request that gets nothing keeps the refusal's details a direct request is
    told (none_textable_now: opens_at, zone, local_time), not the code alone."""
    c, texter, waiting = await _waiting(assigner)
    hour = datetime.now(UTC).astimezone(ZoneInfo("America/Los_Angeles")).hour
    closed = {"start": 0, "end": hour - 1} if hour >= 3 else {"start": hour + 3, "end": 24}
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        texting_hours=closed)  # fmt: skip
    direct = await assigner.error(api.ASSIGN_REQUEST, as_user=c["texters"][1],
                                  campaign_id=c["campaign"])  # fmt: skip
    assert direct.code == "none_textable_now"
    assert set(direct.details) == {"opens_at", "zone", "local_time"}
    resolved = await assigner.call(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["moderator"],
                                   request_id=waiting["request_id"], approve=True)  # fmt: skip
    assert (resolved["status"], resolved["refusal"]) == ("unfulfilled", "none_textable_now")
    assert resolved["refusal_details"] == direct.details
    listed = await assigner.call(api.ASSIGNMENT_REQUESTS, as_user=texter, org_id=c["org"])
    assert listed["requests"][0]["refusal_details"] == direct.details
