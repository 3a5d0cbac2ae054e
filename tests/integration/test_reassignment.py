"""Reassignment over real NATS and Postgres: seed 002 step by step, every scope x mode x status."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from shared.contract import catalogue as api
from shared.domain import event_parts
from tests.support.baton_client import Baton, campaign_with_texters, request_args

pytestmark = pytest.mark.integration


@pytest.fixture
def assigner(assigner_direct: Baton) -> Baton:
    """These are tests of the assigner's logic: its endpoints are called in process, on real
    Postgres, without NATS (tests/support/direct.py)."""
    return assigner_direct


async def _holders(pool: asyncpg.Pool, campaign: int) -> dict[int | None, int]:
    rows = await pool.fetch(
        "SELECT assignee_id, count(*) AS n FROM conversation WHERE campaign_id = $1 GROUP BY 1",
        campaign,
    )
    return {r["assignee_id"]: r["n"] for r in rows}


async def _set_statuses(pool: asyncpg.Pool, campaign: int, statuses: list[str]) -> list[int]:
    ids = [r["id"] for r in await pool.fetch(
        "SELECT id FROM conversation WHERE campaign_id = $1 ORDER BY id", campaign)]  # fmt: skip
    for cid, status in zip(ids, statuses, strict=True):
        await pool.execute(
            """UPDATE conversation SET status = $2,
                   needs_reply_since = CASE WHEN $2 = 'needs_reply' THEN now() END WHERE id = $1""",
            cid, status,
        )  # fmt: skip
    return ids


async def test_seed_002_worked_example(
    assigner_over_nats: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    assigner = assigner_over_nats  # its events are read from JetStream
    c = await campaign_with_texters(assigner, texters=3, contacts=6, batch_size=10)
    kevin, rebecca, newcomer = c["texters"]
    campaign, admin = c["campaign"], c["owner"]
    # Six Unassigned conversations in various states of activity.
    ids = await _set_statuses(pool, campaign, ["not_started", "not_started", "needs_reply",
                                               "replied", "not_started", "needs_reply"])  # fmt: skip
    events = await nc.jetstream().subscribe(api.CONVERSATIONS_REASSIGNED.pattern,
                                            stream="EVENTS")  # fmt: skip

    # Reassign All, status Any, distributed to both users: 3 each.
    result = await assigner.call(api.REASSIGN, as_user=admin, campaign_id=campaign,
                                 from_unassigned=True, status="any", to_texter_ids=[kevin, rebecca])  # fmt: skip
    assert result["moved"] == 6
    assert result["per_texter"] == {str(kevin): 3, str(rebecca): 3}
    assert await _holders(pool, campaign) == {kevin: 3, rebecca: 3}

    # Reassign Some: 1 Not Started conversation from Kevin to Rebecca; Rebecca has 4.
    result = await assigner.call(api.REASSIGN, as_user=admin, campaign_id=campaign,
                                 from_texter_id=kevin, status="not_started", count=1,
                                 to_texter_ids=[rebecca])  # fmt: skip
    assert result["per_texter"] == {str(rebecca): 1}
    assert await _holders(pool, campaign) == {kevin: 2, rebecca: 4}

    # Chris, one of Rebecca's, goes to Kevin on his own.
    chris = await pool.fetchval(
        "SELECT id FROM conversation WHERE assignee_id = $1 ORDER BY id DESC LIMIT 1", rebecca
    )
    result = await assigner.call(api.MOVE, as_user=admin, conversation_id=chris, to_texter_id=kevin)
    assert result["moved"] == 1
    assert await pool.fetchval("SELECT assignee_id FROM conversation WHERE id = $1", chris) == kevin

    # Unassign All of Rebecca's: refused without confirmation, then done.
    refusal = await assigner.error(api.REASSIGN, as_user=admin, campaign_id=campaign,
                                   from_texter_id=rebecca, status="any", to_texter_ids=[])  # fmt: skip
    assert refusal.code == "confirmation_required"
    assert await _holders(pool, campaign) == {kevin: 3, rebecca: 3}
    result = await assigner.call(api.REASSIGN, as_user=admin, campaign_id=campaign,
                                 from_texter_id=rebecca, status="any", to_texter_ids=[], confirm=True)  # fmt: skip
    assert result["per_texter"] == {"unassigned": 3}
    assert await _holders(pool, campaign) == {kevin: 3, None: 3}

    # Tip two: the newly Unassigned conversations not yet started can be requested at once.
    unassigned_not_started = await pool.fetchval(
        "SELECT count(*) FROM conversation WHERE assignee_id IS NULL AND status = 'not_started'"
    )
    batch = await assigner.call(api.ASSIGN_REQUEST, campaign_id=campaign, as_user=newcomer)
    assert batch["count"] == unassigned_not_started >= 1

    # Every move is in the event log, each conversation once per move, with its operation.
    moves = await pool.fetch(
        """SELECT reason, count(*) AS n, count(DISTINCT operation_id) AS ops FROM assignment_move
           WHERE reason <> 'self_assign' GROUP BY reason ORDER BY reason"""
    )
    assert [(m["reason"], m["n"], m["ops"]) for m in moves] == [
        ("move", 1, 1), ("reassign", 7, 2), ("unassign", 3, 1)]  # fmt: skip
    # Logged as one row per operation and (from, to) pair, not one per conversation.
    assert (
        await pool.fetchval("SELECT count(*) FROM assignment_event WHERE reason = 'reassign'")
        == await pool.fetchval(
            """SELECT count(DISTINCT (operation_id, from_texter_id, to_texter_id)) FROM assignment_move
           WHERE reason = 'reassign'"""
        )
        < 7
    )
    published = [json.loads((await events.next_msg(timeout=10)).data) for _ in range(5)]
    assert sorted(len(e["conversation_ids"]) for e in published) == [1, 1, 3, 3, 3]
    assert ids  # the six conversations we started with


SCOPES = ("sender", "bulk", "unassigned")
MODES = ("some", "all", "unassign")
STATUSES = ("any", "needs_reply", "not_started")
LAYOUT = ["not_started", "needs_reply", "awaiting_reply", "replied", "closed", "not_started"]


@pytest.mark.parametrize(
    ("scope", "mode", "status"), list(itertools.product(SCOPES, MODES, STATUSES))
)
async def test_every_scope_mode_and_status(
    assigner: Baton, pool: asyncpg.Pool, scope: str, mode: str, status: str
) -> None:
    c = await campaign_with_texters(assigner, texters=3, contacts=18, batch_size=10)
    a, b, target = c["texters"]
    ids = await _set_statuses(pool, c["campaign"], LAYOUT * 3)
    # Six conversations each for a and b; six stay Unassigned.
    await pool.execute("UPDATE conversation SET assignee_id = $1 WHERE id = ANY($2)", a, ids[0:6])
    await pool.execute("UPDATE conversation SET assignee_id = $1 WHERE id = ANY($2)", b, ids[6:12])
    request: dict[str, Any] = {
        "as_user": c["owner"],
        "campaign_id": c["campaign"],
        "status": status,
    }
    if scope == "sender":
        request["from_texter_id"] = a
    elif scope == "unassigned":
        request["from_unassigned"] = True
    if mode == "some":
        request["count"] = 1
    request["to_texter_ids"] = [] if mode == "unassign" else [target]
    if mode == "unassign":
        request["confirm"] = True
    wanted = {"any": {"not_started", "needs_reply", "awaiting_reply", "replied"},
              "needs_reply": {"needs_reply"}, "not_started": {"not_started"}}[status]  # fmt: skip
    source = {"sender": ids[0:6], "bulk": ids[0:12], "unassigned": ids[12:18]}[scope]
    eligible = [i for i, s in zip(ids, LAYOUT * 3, strict=True) if i in source and s in wanted]

    if scope == "unassigned" and mode == "unassign":
        assert (await assigner.error(api.REASSIGN, **request)).code == "bad_request"
        return
    result = await assigner.call(api.REASSIGN, **request)
    expected = eligible[:1] if mode == "some" else eligible
    assert result["moved"] == len(expected)
    new_holder = None if mode == "unassign" else target
    holders = {
        r["id"]: r["assignee_id"]
        for r in await pool.fetch("SELECT id, assignee_id FROM conversation")
    }
    assert all(holders[i] == new_holder for i in expected)
    untouched = [i for i in ids if i not in expected]
    original = {
        **dict.fromkeys(ids[0:6], a),
        **dict.fromkeys(ids[6:12], b),
        **dict.fromkeys(ids[12:18]),
    }
    assert all(holders[i] == original[i] for i in untouched)
    # Closed conversations never move.
    closed = [i for i, s in zip(ids, LAYOUT * 3, strict=True) if s == "closed"]
    assert all(holders[i] == original[i] for i in closed)


async def test_several_targets_split_evenly_and_never_get_their_own_back(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=4, contacts=20, batch_size=10)
    a, b, d, e = c["texters"]
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM conversation ORDER BY id")]
    await pool.execute("UPDATE conversation SET assignee_id = $1 WHERE id = ANY($2)", a, ids[:7])
    await pool.execute("UPDATE conversation SET assignee_id = $1 WHERE id = ANY($2)", b, ids[7:10])
    result = await assigner.call(api.REASSIGN, as_user=c["owner"], campaign_id=c["campaign"],
                                 status="any", to_texter_ids=[a, d, e])  # fmt: skip
    # a's seven go to d and e; b's three fill the gaps; a receives only b's.
    assert result["moved"] == 10
    counts = sorted(result["per_texter"].values())
    assert counts[-1] - counts[0] <= 1
    held_by_a = {
        r["id"] for r in await pool.fetch("SELECT id FROM conversation WHERE assignee_id = $1", a)
    }
    assert held_by_a <= set(ids[7:10])
    # Uneven pool, Reassign Some of 5 over 3 targets: 2, 2, 1.
    await pool.execute("UPDATE conversation SET assignee_id = NULL")
    result = await assigner.call(api.REASSIGN, as_user=c["owner"], campaign_id=c["campaign"],
                                 from_unassigned=True, status="any", count=5, to_texter_ids=[a, b, d])  # fmt: skip
    assert sorted(result["per_texter"].values()) == [1, 2, 2]
    # Nothing to move is not an error: it says 0.
    result = await assigner.call(api.REASSIGN, as_user=c["owner"], campaign_id=c["campaign"],
                                 from_texter_id=e, status="needs_reply", to_texter_ids=[a])  # fmt: skip
    assert result == {"operation_id": result["operation_id"], "moved": 0, "per_texter": {}}


async def test_refusals(assigner: Baton, pool: asyncpg.Pool) -> None:
    c = await campaign_with_texters(assigner, texters=2, contacts=4, batch_size=10)
    a, b = c["texters"]
    campaign = c["campaign"]
    moderator = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                     name="Mo", role="moderator"))["user_id"]  # fmt: skip
    outsider = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                    name="Out", role="texter"))["user_id"]  # fmt: skip
    base = {"campaign_id": campaign, "status": "any"}
    assert (
        await assigner.error(api.REASSIGN, as_user=a, to_texter_ids=[b], **base)
    ).code == "forbidden"
    assert (await assigner.error(api.REASSIGN, as_user=moderator, to_texter_ids=[outsider],
                                 **base)).code == "not_a_member"  # fmt: skip
    # A moderator may unassign one sender's conversations but not the whole campaign's.
    assert (await assigner.error(api.REASSIGN, as_user=moderator, to_texter_ids=[], confirm=True,
                                 **base)).code == "forbidden"  # fmt: skip
    await assigner.call(api.REASSIGN, as_user=moderator, to_texter_ids=[], confirm=True,
                        from_texter_id=a, **base)  # fmt: skip
    assert (await assigner.error(api.REASSIGN, as_user=c["owner"], to_texter_ids=[a],
                                 from_texter_id=a, **base)).code == "bad_request"  # fmt: skip
    assert (await assigner.error(api.REASSIGN, as_user=c["owner"], to_texter_ids=[a],
                                 campaign_id=999, status="any")).code == "not_found"  # fmt: skip
    assert (await assigner.error(api.REASSIGN, as_user=c["owner"], to_texter_ids=[a],
                                 count=0, **base)).code == "bad_request"  # fmt: skip
    assert (await assigner.error(api.MOVE, as_user=c["owner"], conversation_id=10**9,
                                 to_texter_id=a)).code == "not_found"  # fmt: skip
    assert (await assigner.error(api.REASSIGN, as_user=c["owner"], to_texter_ids=[a],
                                 campaign_id=campaign, status="maybe")).code == "bad_request"  # fmt: skip


async def test_reassignment_and_self_assignment_at_once_never_deadlock_or_double_assign(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=30, contacts=6000, batch_size=50)
    texters, campaign, admin = c["texters"], c["campaign"], c["owner"]
    first = await asyncio.gather(*(
        assigner.call(api.ASSIGN_REQUEST, campaign_id=campaign, as_user=t) for t in texters[:10]
    ))  # fmt: skip
    assert all(b["count"] == 50 for b in first)
    # Ten texters request while every sender's conversations are bulk-moved and one is unassigned.
    outcomes = await asyncio.gather(
        *(assigner.nc.request(api.ASSIGN_REQUEST.subject, timeout=30,
                              **request_args(t, {"campaign_id": campaign}))
          for t in texters[10:20]),
        assigner.nc.request(api.REASSIGN.subject, timeout=30, **request_args(admin, {
            "campaign_id": campaign, "status": "any", "to_texter_ids": texters[20:30]})),
        assigner.nc.request(api.REASSIGN.subject, timeout=30, **request_args(admin, {
            "campaign_id": campaign, "status": "any", "from_texter_id": texters[0],
            "to_texter_ids": [], "confirm": True})),
    )  # fmt: skip
    bodies = [json.loads(o.data) for o in outcomes]
    assert all(b["ok"] for b in bodies), [b for b in bodies if not b["ok"]]
    holders = await pool.fetch(
        "SELECT id, assignee_id FROM conversation WHERE campaign_id = $1", campaign
    )
    # The event log replays to exactly the holders Postgres has.
    replay: dict[int, int | None] = {}
    for e in await pool.fetch(
        "SELECT conversation_id, to_texter_id FROM assignment_move ORDER BY event_id"
    ):
        replay[e["conversation_id"]] = e["to_texter_id"]
    assert {r["id"]: r["assignee_id"] for r in holders if r["id"] in replay} == replay
    assert all(r["assignee_id"] is None for r in holders if r["id"] not in replay)


async def test_a_texter_receiving_many_conversations_gets_the_event_in_parts(
    assigner: Baton, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many conversations one texter receives, each event stays far under NATS's
    payload limit: here parts of 4 stand in for parts of 10,000."""
    monkeypatch.setattr(event_parts, "IDS_PER_EVENT", 4)
    c = await campaign_with_texters(assigner, texters=2, contacts=10, batch_size=10)
    first, second = c["texters"]
    held = (await assigner.call(api.ASSIGN_REQUEST, as_user=first,
                                campaign_id=c["campaign"]))["conversation_ids"]  # fmt: skip
    moved = await assigner.call(api.REASSIGN, as_user=c["owner"], campaign_id=c["campaign"],
                                from_texter_id=first, status="any", to_texter_ids=[second])  # fmt: skip
    rows = await pool.fetch("SELECT msg_id, payload FROM outbox WHERE subject = $1 AND msg_id LIKE $2"
                            " ORDER BY msg_id", api.CONVERSATIONS_REASSIGNED.subject,
                            moved["operation_id"] + ":%")  # fmt: skip
    events = [json.loads(r["payload"]) for r in rows]
    assert [len(e["conversation_ids"]) for e in events] == [4, 4, 2]
    assert [(e["part"], e["parts"]) for e in events] == [(0, 3), (1, 3), (2, 3)]
    assert sorted(i for e in events for i in e["conversation_ids"]) == sorted(held)
    assert len({r["msg_id"] for r in rows}) == 3 and {e["to_texter_id"] for e in events} == {second}
