"""The Request Conversations button on real NATS and Postgres: rules, refusals and races."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from shared.contract import catalogue as api
from tests.support.baton_client import OPERATOR, Baton, campaign_with_texters, request_args

pytestmark = pytest.mark.integration


async def test_a_batch_is_the_campaign_batch_size_of_unassigned_initials(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=12, batch_size=5)
    texter = c["texters"][0]
    batch = await assigner.call(api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=texter)
    assert batch["count"] == 5 == len(batch["conversation_ids"])
    held = await pool.fetch(
        "SELECT id FROM conversation WHERE assignee_id = $1 ORDER BY id", texter
    )
    assert [r["id"] for r in held] == batch["conversation_ids"]
    events = await pool.fetch("SELECT conversation_id, to_texter_id, reason FROM assignment_move")
    assert sorted(e["conversation_id"] for e in events) == batch["conversation_ids"]
    assert {(e["to_texter_id"], e["reason"]) for e in events} == {(texter, "self_assign")}


async def test_initials_pending_blocks_a_second_batch_until_they_are_sent(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=12, batch_size=5)
    texter = c["texters"][0]
    first = await assigner.call(api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=texter)
    refusal = await assigner.error(api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=texter)
    assert refusal.code == "initials_pending"
    await pool.execute(
        "UPDATE conversation SET status = 'awaiting_reply' WHERE id = ANY($1)",
        first["conversation_ids"],
    )
    second = await assigner.call(api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=texter)
    assert second["count"] == 5
    assert set(second["conversation_ids"]).isdisjoint(first["conversation_ids"])
    await pool.execute(
        "UPDATE conversation SET status = 'awaiting_reply' WHERE id = ANY($1)",
        second["conversation_ids"],
    )
    # A pool smaller than the batch gives what is left; then the pool is empty.
    third = await assigner.call(api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=texter)
    assert third["count"] == 2
    await pool.execute(
        "UPDATE conversation SET status = 'awaiting_reply' WHERE id = ANY($1)",
        third["conversation_ids"],
    )
    empty = await assigner.error(api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=texter)
    assert empty.code == "no_more_conversations"
    assert empty.message == "No more conversations available"


async def test_refusals_each_have_their_own_code(assigner: Baton, pool: asyncpg.Pool) -> None:
    c = await campaign_with_texters(
        assigner, texters=2, contacts=10, batch_size=3, self_assign=False
    )
    campaign, texter = c["campaign"], c["texters"][0]
    assert (await assigner.error(api.ASSIGN_REQUEST, campaign_id=campaign,
                                 as_user=texter)).code == "self_assign_disabled"  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=campaign,
                        self_assign=True, require_replies_handled=True)  # fmt: skip
    assert (await assigner.error(api.ASSIGN_REQUEST, campaign_id=campaign,
                                 as_user=c["owner"])).code == "not_a_member"  # fmt: skip
    assert (await assigner.error(api.ASSIGN_REQUEST, campaign_id=999,
                                 as_user=texter)).code == "not_found"  # fmt: skip
    # Unhandled replies block initials when the campaign requires them handled.
    first = await assigner.call(api.ASSIGN_REQUEST, campaign_id=campaign, as_user=texter)
    await pool.execute(
        "UPDATE conversation SET status = 'needs_reply', needs_reply_since = now() WHERE id = $1",
        first["conversation_ids"][0],
    )
    await pool.execute(
        "UPDATE conversation SET status = 'awaiting_reply' WHERE id = ANY($1)",
        first["conversation_ids"][1:],
    )
    assert (await assigner.error(api.ASSIGN_REQUEST, campaign_id=campaign,
                                 as_user=texter)).code == "replies_pending"  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=campaign,
                        status="archived")  # fmt: skip
    assert (await assigner.error(api.ASSIGN_REQUEST, campaign_id=campaign,
                                 as_user=c["texters"][1])).code == "campaign_not_active"  # fmt: skip


async def test_replies_batches_take_unassigned_replies_oldest_first(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=6, batch_size=3)
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        replies_batch_size=2)  # fmt: skip
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM conversation ORDER BY id")]
    # Three Unassigned replies that arrived at different times; one conversation is closed.
    for minutes, conversation in ((5, ids[3]), (30, ids[1]), (10, ids[4])):
        await pool.execute(
            """UPDATE conversation SET status = 'needs_reply',
                   needs_reply_since = now() - make_interval(mins => $2) WHERE id = $1""",
            conversation, minutes,
        )  # fmt: skip
    await pool.execute("UPDATE conversation SET status = 'closed' WHERE id = $1", ids[0])
    batch = await assigner.call(api.ASSIGN_REQUEST, campaign_id=c["campaign"],
                                as_user=c["texters"][0], kind="replies")  # fmt: skip
    assert batch["conversation_ids"] == sorted([ids[1], ids[4]])
    refusal = await assigner.error(api.ASSIGN_REQUEST, campaign_id=c["campaign"],
                                   as_user=c["texters"][0], kind="replies")  # fmt: skip
    assert refusal.code == "replies_pending"


async def test_join_by_invite_adds_once_and_requests_the_first_batch(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=10, batch_size=4)
    other_org = (await assigner.call(api.ORG_CREATE, as_user=OPERATOR, name="Elsewhere"))["org_id"]
    newcomer = (await assigner.call(api.USER_CREATE, as_user=OPERATOR, org_id=other_org, name="Nia",
                                    role="owner"))["user_id"]  # fmt: skip
    token = (await assigner.call(api.CAMPAIGN_INVITE, as_user=c["owner"],
                                 campaign_id=c["campaign"], kind="initials"))["token"]  # fmt: skip
    joined = await assigner.call(api.ASSIGN_JOIN, token=token, as_user=newcomer)
    assert joined["campaign_id"] == c["campaign"]
    assert len(joined["conversation_ids"]) == 4
    again = await assigner.call(api.ASSIGN_JOIN, token=token, as_user=newcomer)
    assert again["conversation_ids"] == []
    assert again["first_batch_error"] == "initials_pending"
    members = await pool.fetchval(
        "SELECT count(*) FROM campaign_texter WHERE campaign_id = $1 AND user_id = $2",
        c["campaign"], newcomer,
    )  # fmt: skip
    assert members == 1
    await assigner.call(api.CAMPAIGN_INVITE_REVOKE, as_user=c["owner"], token=token)
    assert (await assigner.error(api.ASSIGN_JOIN, token=token,
                                 as_user=newcomer)).code == "invalid_invite"  # fmt: skip


async def test_assignments_are_published_as_events(assigner: Baton, nc: NatsClient) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=4, batch_size=4)
    js = nc.jetstream()
    sub = await js.subscribe(api.CONVERSATIONS_ASSIGNED.pattern, stream="EVENTS")
    batch = await assigner.call(
        api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=c["texters"][0]
    )
    msg = await sub.next_msg(timeout=10)
    event = json.loads(msg.data)
    assert event["conversation_ids"] == batch["conversation_ids"]
    assert event["texter_id"] == c["texters"][0]
    assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == event["operation_id"]


async def test_500_concurrent_requests_from_100_texters_never_double_assign(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=100, contacts=20_000, batch_size=30)
    requests = [texter for texter in c["texters"] for _ in range(5)]
    replies = await asyncio.gather(*(
        assigner.nc.request(
            api.ASSIGN_REQUEST.subject, timeout=60, **request_args(t, {"campaign_id": c["campaign"]})
        ) for t in requests
    ))  # fmt: skip
    bodies = [json.loads(r.data) for r in replies]
    outcomes = Counter("ok" if b["ok"] else b["error"]["code"] for b in bodies)
    # Each texter's five clicks at once give exactly one batch; the other four see it pending.
    assert outcomes == {"ok": 100, "initials_pending": 400}
    handed = [cid for b in bodies if b["ok"] for cid in b["data"]["conversation_ids"]]
    assert len(handed) == len(set(handed)) == 100 * 30
    rows = await pool.fetch("SELECT assignee_id, count(*) AS n FROM conversation "
                            "WHERE assignee_id IS NOT NULL GROUP BY assignee_id")  # fmt: skip
    assert {r["assignee_id"]: r["n"] for r in rows} == dict.fromkeys(c["texters"], 30)
    per_texter = Counter(t for b, t in zip(bodies, requests, strict=True) if b["ok"])
    assert set(per_texter.values()) == {1}
    events = await pool.fetchval("SELECT count(*) FROM assignment_move")
    assert events == 3000
