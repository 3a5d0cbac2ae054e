"""Issue #33, Request Conversations without naming a campaign, on real NATS and Postgres: the
campaign is picked by the texter's team priority, then age, among those with something textable
now; 1,000 texters asking at once are never handed one conversation twice."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from shared.contract import catalogue as api
from tests.support.baton_client import Baton, campaign_with_texters, request_args

pytestmark = pytest.mark.integration


def _closed_now() -> dict[str, int]:
    """Texting hours that are closed now for +1415 numbers (America/Los_Angeles)."""
    hour = datetime.now(UTC).astimezone(ZoneInfo("America/Los_Angeles")).hour
    return {"start": 0, "end": hour - 1} if hour >= 3 else {"start": hour + 3, "end": 24}


async def _campaign(assigner: Baton, c: dict[str, Any], title: str, teams: list[int],
                    contacts: range, hours: dict[str, int], batch_size: int) -> int:  # fmt: skip
    campaign = (await assigner.call(api.CAMPAIGN_CREATE, as_user=c["owner"], org_id=c["org"],
                                    title=title, team_ids=teams,
                                    texting_hours=hours))["campaign_id"]  # fmt: skip
    phones = [f"+1415555{n:04d}" for n in contacts]
    for start in range(0, len(phones), 5000):
        await assigner.call(api.CONTACTS_IMPORT, as_user=c["owner"], campaign_id=campaign,
                            contacts=[{"phone": p} for p in phones[start:start + 5000]])  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=campaign,
                        status="active", self_assign=True, batch_size=batch_size)  # fmt: skip
    return int(campaign)


async def _team(assigner: Baton, c: dict[str, Any], name: str, priority: int,
                members: list[int]) -> int:  # fmt: skip
    team = (await assigner.call(api.TEAM_CREATE, as_user=c["owner"], org_id=c["org"],
                                name=name))["team_id"]  # fmt: skip
    await assigner.call(api.TEAM_ADD_MEMBERS, as_user=c["owner"], team_id=team, user_ids=members)
    await assigner.call(api.TEAM_UPDATE, as_user=c["owner"], team_id=team,
                        assignment_priority=priority)  # fmt: skip
    return int(team)


async def test_team_priority_first_then_the_oldest_skipping_one_outside_texting_hours(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=0)
    texter = c["texters"][0]
    low = await _team(assigner, c, "Low", 1, [texter])
    high = await _team(assigner, c, "High", 5, [texter])
    all_day = {"start": 0, "end": 24}
    oldest_low = await _campaign(assigner, c, "Low, oldest", [low], range(0, 3), all_day, 10)
    closed_high = await _campaign(assigner, c, "High, closed", [high], range(3, 6),
                                  _closed_now(), 10)  # fmt: skip
    open_high = await _campaign(assigner, c, "High, open", [high, low], range(6, 9), all_day, 10)

    first = await assigner.call(api.ASSIGN_REQUEST, as_user=texter)
    assert (first["campaign_id"], first["count"]) == (open_high, 3)
    enrolled = await pool.fetchval("SELECT joined_via FROM campaign_texter WHERE campaign_id = $1"
                                   " AND user_id = $2", open_high, texter)  # fmt: skip
    assert enrolled == "team"
    # The high team's open campaign is empty now, its other is closed: the low team's next.
    second = await assigner.call(api.ASSIGN_REQUEST, as_user=texter)
    assert (second["campaign_id"], second["count"]) == (oldest_low, 3)
    # Only the closed campaign holds anything: when it opens is said.
    third = await assigner.error(api.ASSIGN_REQUEST, as_user=texter)
    assert third.code == "none_textable_now" and third.details["zone"] == "America/Los_Angeles"
    held = await pool.fetch("SELECT campaign_id, count(*) AS n FROM conversation WHERE "
                            "assignee_id = $1 GROUP BY campaign_id", texter)  # fmt: skip
    assert {r["campaign_id"]: r["n"] for r in held} == {open_high: 3, oldest_low: 3}
    assert closed_high not in {r["campaign_id"] for r in held}


async def test_a_campaign_whose_team_takes_only_replies_is_not_picked_for_initials(
    assigner: Baton,
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=0)
    texter = c["texters"][0]
    replies_only = await _team(assigner, c, "Replies", 9, [texter])
    await assigner.call(api.TEAM_UPDATE, as_user=c["owner"], team_id=replies_only,
                        assignment_kind="replies")  # fmt: skip
    initials = await _team(assigner, c, "Initials", 1, [texter])
    all_day = {"start": 0, "end": 24}
    await _campaign(assigner, c, "Replies team", [replies_only], range(0, 3), all_day, 10)
    wanted = await _campaign(assigner, c, "Initials team", [initials], range(3, 6), all_day, 10)
    batch = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, kind="initials")
    assert batch["campaign_id"] == wanted
    # Someone in no team and on no campaign is told there is nothing for them.
    stranger = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                    name="New", role="texter"))["user_id"]  # fmt: skip
    assert (await assigner.error(api.ASSIGN_REQUEST,
                                 as_user=stranger)).code == "no_more_conversations"  # fmt: skip


async def test_1000_campaign_less_requests_at_once_never_hand_a_conversation_twice(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=1000, contacts=0)
    team = await _team(assigner, c, "Everyone", 1, c["texters"])
    all_day = {"start": 0, "end": 24}
    campaigns = [await _campaign(assigner, c, f"Team {n}", [team], range(n * 2000, n * 2000 + 2000),
                                 all_day, 5) for n in range(3)]  # fmt: skip
    replies = await asyncio.gather(*(
        assigner.nc.request(api.ASSIGN_REQUEST.subject, timeout=120, **request_args(t, {}))
        for t in c["texters"]
    ))  # fmt: skip
    bodies = [json.loads(r.data) for r in replies]
    outcomes = Counter("ok" if b["ok"] else b["error"]["code"] for b in bodies)
    assert set(outcomes) <= {"ok", "no_more_conversations", "busy"}, outcomes
    handed = [(b["data"]["campaign_id"], cid) for b in bodies if b["ok"]
              for cid in b["data"]["conversation_ids"]]  # fmt: skip
    ids = [cid for _, cid in handed]
    assert len(ids) == len(set(ids)) and outcomes["ok"] * 5 == len(ids)
    rows = await pool.fetch("SELECT id, campaign_id, assignee_id FROM conversation "
                            "WHERE assignee_id IS NOT NULL")  # fmt: skip
    assert {(r["campaign_id"], r["id"]) for r in rows} == set(handed)
    per_texter = Counter(r["assignee_id"] for r in rows)
    assert set(per_texter.values()) == {5}
    # The oldest of the team's campaigns is drained before the next is taken from.
    by_campaign = Counter(campaign for campaign, _ in handed)
    assert by_campaign[campaigns[0]] == 2000 and set(by_campaign) <= set(campaigns)
    print(f"1,000 campaign-less requests: {dict(outcomes)}; per campaign {dict(by_campaign)}")


async def test_a_waiting_campaign_less_request_enrolls_nobody_until_approved(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=0)
    texter = c["texters"][0]
    await assigner.call(api.ORG_MEMBERS_UPDATE, as_user=c["owner"], org_id=c["org"],
                        user_id=texter, request_level="approval_required")  # fmt: skip
    team = await _team(assigner, c, "Team", 1, [texter])
    picked = await _campaign(assigner, c, "Picked", [team], range(0, 4), {"start": 0, "end": 24},
                             2)  # fmt: skip

    async def enrolled() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM campaign_texter WHERE "
                                        "campaign_id = $1 AND user_id = $2", picked, texter))  # fmt: skip

    waiting = await assigner.call(api.ASSIGN_REQUEST, as_user=texter)
    assert (waiting["status"], waiting["campaign_id"]) == ("pending_approval", picked)
    assert not await enrolled()
    rejected = await assigner.call(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["owner"],
                                   request_id=waiting["request_id"], approve=False)  # fmt: skip
    assert rejected["status"] == "rejected" and not await enrolled()

    again = await assigner.call(api.ASSIGN_REQUEST, as_user=texter)
    assert again["status"] == "pending_approval" and not await enrolled()
    approved = await assigner.call(api.ASSIGNMENT_REQUESTS_RESOLVE, as_user=c["owner"],
                                   request_id=again["request_id"], approve=True)  # fmt: skip
    assert approved["status"] == "fulfilled" and len(approved["conversation_ids"]) == 2
    assert await enrolled()
    held = await pool.fetch("SELECT id FROM conversation WHERE assignee_id = $1 ORDER BY id",
                            texter)  # fmt: skip
    assert [r["id"] for r in held] == sorted(approved["conversation_ids"])
